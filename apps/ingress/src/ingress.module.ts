import { Module } from '@nestjs/common';
import { GtcConfigModule } from '@gtc/config';
import { DbModule } from '@gtc/db';
import { HealthController, ObservabilityModule } from '@gtc/observability';
import { QueueModule } from '@gtc/queue';
import { IngressMetrics } from './ingress.metrics';
import { ProviderService } from './provider.service';
import { IngressReconciler } from './ingress.reconciler';
import { IngressStore } from './ingress.store';
import { WebhookController } from './webhook.controller';
import { WebhookRecorderService } from './webhook-recorder.service';

/**
 * ingress: Meta's webhooks in, durable rows and jobs out.
 *
 * No per-request logger (`forService('ingress', [])`): webhook POSTs (thousands a second) log their own failures,
 * and the subscription check logs its own answer (WebhookController.verify). Listing the check's GET route would put
 * the logging middleware on the webhook's path, which every POST then pays for too (ingress answered a POST it
 * refused 7-17 % slower with it).
 */
@Module({
  imports: [GtcConfigModule, ObservabilityModule.forService('ingress', []), DbModule, QueueModule],
  controllers: [HealthController, WebhookController],
  providers: [IngressMetrics, IngressStore, ProviderService, WebhookRecorderService, IngressReconciler],
})
export class IngressModule {}
