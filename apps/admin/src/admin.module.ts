import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { GtcConfigModule } from '@gtc/config';
import { DbModule } from '@gtc/db';
import { HealthController, ObservabilityModule } from '@gtc/observability';
import { QueueModule } from '@gtc/queue';
import { AdminStore } from './admin.store';
import { ApiKeysController } from './api-keys/api-keys.controller';
import { ApiKeysService } from './api-keys/api-keys.service';
import { ApiKeyGuard } from './auth/api-key.guard';
import { FailedAuthThrottle } from './auth/failed-auth.throttle';
import { ErrorFilter } from './common/error.filter';
import { PathParamsPipe } from './common/path-params.pipe';
import { TenantScopeService } from './common/tenant-scope.service';
import { ContactsController } from './contacts/contacts.controller';
import { ContactsService } from './contacts/contacts.service';
import { ConversationsController } from './conversations/conversations.controller';
import { ConversationsService } from './conversations/conversations.service';
import { LiveStreamsService } from './conversations/live-streams.service';
import { DemoSeedService } from './demo/demo-seed.service';
import { EventsModule } from './events/events.module';
import { FlowStartController, FlowsController } from './flows/flows.controller';
import { FlowsService } from './flows/flows.service';
import { GraphModule } from './graph/graph.module';
import { MessagesController } from './messages/messages.controller';
import { MessagesService } from './messages/messages.service';
import { ProviderController } from './providers/provider.controller';
import { ProviderService } from './providers/provider.service';
import { PlatformMetrics } from './stats/platform.metrics';
import { ProviderUsageController, StatsController } from './stats/stats.controller';
import { StatsService } from './stats/stats.service';
import { TeamsController } from './teams/teams.controller';
import { TeamsService } from './teams/teams.service';
import { TemplatesController } from './templates/templates.controller';
import { TemplatesService } from './templates/templates.service';
import { TenantsController } from './tenants/tenants.controller';
import { TenantsService } from './tenants/tenants.service';

/** admin: the REST API for tenants, teams, providers, flows, contacts and messages. */
@Module({
  imports: [GtcConfigModule, ObservabilityModule.forService('admin'), DbModule, QueueModule, GraphModule, EventsModule],
  controllers: [
    HealthController,
    TenantsController,
    TeamsController,
    ProviderController,
    FlowsController,
    FlowStartController,
    TemplatesController,
    ContactsController,
    ConversationsController,
    MessagesController,
    StatsController,
    ProviderUsageController,
    ApiKeysController,
  ],
  providers: [
    { provide: APP_GUARD, useClass: ApiKeyGuard },
    { provide: APP_FILTER, useClass: ErrorFilter },
    { provide: APP_PIPE, useClass: PathParamsPipe },
    AdminStore,
    FailedAuthThrottle,
    TenantScopeService,
    ConversationsService,
    LiveStreamsService,
    TenantsService,
    TeamsService,
    ProviderService,
    FlowsService,
    TemplatesService,
    ContactsService,
    MessagesService,
    StatsService,
    PlatformMetrics,
    ApiKeysService,
    DemoSeedService,
  ],
})
export class AdminModule {}
