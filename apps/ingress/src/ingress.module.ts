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

/** ingress: Meta's webhooks in, durable rows and jobs out. */
@Module({
  imports: [GtcConfigModule, ObservabilityModule.forService('ingress', ['webhook/*path']), DbModule, QueueModule],
  controllers: [HealthController, WebhookController],
  providers: [IngressMetrics, IngressStore, ProviderService, WebhookRecorderService, IngressReconciler],
})
export class IngressModule {}
