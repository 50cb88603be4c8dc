import { Module } from '@nestjs/common';
import { GtcConfigModule } from '@gtc/config';
import { DbModule } from '@gtc/db';
import { ObservabilityModule } from '@gtc/observability';
import { QueueModule } from '@gtc/queue';
import { IngressMetrics } from './ingress.metrics';
import { ProviderService } from './provider.service';
import { IngressReconciler } from './ingress.reconciler';
import { IngressStore } from './ingress.store';
import { WebhookHandler } from './webhook.handler';
import { WebhookRecorderService } from './webhook-recorder.service';

/**
 * ingress: Meta's webhooks in, durable rows and jobs out. An application context: its HTTP server is Fastify's own
 * (ingress.server.ts), not Nest's adapter.
 */
@Module({
  imports: [GtcConfigModule, ObservabilityModule.forService('ingress'), DbModule, QueueModule],
  providers: [IngressMetrics, IngressStore, ProviderService, WebhookHandler, WebhookRecorderService, IngressReconciler],
})
export class IngressModule {}
