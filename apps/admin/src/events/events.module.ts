import { Module } from '@nestjs/common';
import { AdminStore } from '../admin.store';
import { TenantScopeService } from '../common/tenant-scope.service';
import { EventEndpointsController } from './event-endpoints.controller';
import { EventEndpointsService } from './event-endpoints.service';

/** Event webhooks in the admin API: a tenant's event endpoints, their deliveries, retries and test pings. */
@Module({
  controllers: [EventEndpointsController],
  providers: [AdminStore, TenantScopeService, EventEndpointsService],
})
export class EventsModule {}
