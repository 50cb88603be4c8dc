import { Module } from '@nestjs/common';
import { GtcConfigModule } from '@gtc/config';
import { DbModule } from '@gtc/db';
import { ObservabilityModule } from '@gtc/observability';
import { QueueModule, SEND_LIMITER_PROVIDER } from '@gtc/queue';
import { OutboundStore } from './outbound.store';
import { OutboundWorker } from './outbound.worker';
import { ProviderService } from './provider.service';
import { RecipientWaker } from './recipient.waker';
import { SenderMetrics } from './sender.metrics';
import { SenderReconciler } from './sender.reconciler';
import { StatusApplierService } from './status-applier.service';
import { StatusWorker } from './status.worker';

/** sender: sends outbound messages within every limit, in order per recipient, and tracks their statuses. */
@Module({
  imports: [GtcConfigModule, ObservabilityModule.forService('sender'), DbModule, QueueModule],
  providers: [SEND_LIMITER_PROVIDER, ProviderService, OutboundStore, SenderMetrics, StatusApplierService, RecipientWaker, OutboundWorker, StatusWorker, SenderReconciler],
})
export class SenderModule {}
