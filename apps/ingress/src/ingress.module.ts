import { Module, RequestMethod } from '@nestjs/common';
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

/** Request logs for the subscription check only: webhook POSTs (thousands a second) log their own failures. */
const REQUEST_LOGS = [{ path: 'webhook/whatsapp/:tenant/:team', method: RequestMethod.GET }];

/** ingress: Meta's webhooks in, durable rows and jobs out. */
@Module({
  imports: [GtcConfigModule, ObservabilityModule.forService('ingress', REQUEST_LOGS), DbModule, QueueModule],
  controllers: [HealthController, WebhookController],
  providers: [IngressMetrics, IngressStore, ProviderService, WebhookRecorderService, IngressReconciler],
})
export class IngressModule {}
