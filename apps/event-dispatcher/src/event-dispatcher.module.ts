import { Module } from '@nestjs/common';
import { GtcConfigModule } from '@gtc/config';
import { DbModule } from '@gtc/db';
import { ObservabilityModule } from '@gtc/observability';
import { DeliveryStore } from './delivery.store';
import { DispatcherMetrics } from './dispatcher.metrics';
import { EventDispatcherService } from './event-dispatcher.service';
import { WebhookClient } from './webhook.client';

/** event-dispatcher: delivers event webhooks to tenants' endpoints, signed, retried, in order per contact. */
@Module({
  imports: [GtcConfigModule, ObservabilityModule.forService('event-dispatcher'), DbModule],
  providers: [DeliveryStore, DispatcherMetrics, WebhookClient, EventDispatcherService],
})
export class EventDispatcherModule {}
