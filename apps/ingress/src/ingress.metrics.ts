import { Injectable } from '@nestjs/common';
import { Counter, Histogram, MetricsService } from '@gtc/observability';
import { QueueName, QueueService } from '@gtc/queue';

/** Webhook outcomes, acknowledgement latency, new inbound messages by tenant, enqueue health and queue lag. */
@Injectable()
export class IngressMetrics {
  readonly webhooks: Counter<'outcome'>;
  readonly inboundMessages: Counter<'tenant'>;
  readonly ackSeconds: Histogram<'code'>;
  readonly enqueued: Counter;
  readonly enqueueFailures: Counter;
  readonly reconciled: Counter<'queue'>;
  readonly flushSeconds: Histogram;
  readonly batchSize: Histogram;
  readonly keptRaw: Counter;
  readonly nonconforming: Counter<'problem'>;

  constructor(metrics: MetricsService, queues: QueueService) {
    this.webhooks = metrics.counter('gtc_webhooks_total', 'Webhook requests by outcome', ['outcome']);
    this.inboundMessages = metrics.counter('gtc_inbound_messages_total', 'Inbound messages recorded (new, not redelivered), by tenant', ['tenant']);
    this.ackSeconds = metrics.histogram('gtc_webhook_ack_seconds', 'Time from request to acknowledgement', ['code'], [
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
    ]);
    this.enqueued = metrics.counter('gtc_ingress_jobs_enqueued_total', 'Jobs enqueued by ingress');
    this.enqueueFailures = metrics.counter('gtc_ingress_enqueue_failures_total', 'Enqueue attempts that failed (rows left to the reconciler)');
    this.flushSeconds = metrics.histogram('gtc_ingress_flush_seconds', 'Duration of one group-commit write', [], [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]);
    this.batchSize = metrics.histogram('gtc_ingress_batch_webhooks', 'Webhooks written by one group-commit write', [], [1, 2, 5, 10, 25, 50, 100, 200]);
    this.keptRaw = metrics.counter('gtc_ingress_kept_raw_total', 'Webhooks whose content could not be recorded as rows: raw bytes kept for replay');
    this.nonconforming = metrics.counter(
      'gtc_ingress_nonconforming_total',
      'Signed JSON webhooks (or parts of them) that do not match what Meta documents: kept raw, acknowledged 200, counted by problem',
      ['problem'],
    );
    this.reconciled = metrics.counter('gtc_reconciled_jobs_total', 'Rows re-enqueued by the reconciler', ['queue']);
    metrics.gauge('gtc_queue_lag_seconds', 'Age of the oldest waiting job', ['queue'], async (g) => {
      for (const name of [QueueName.Inbound, QueueName.Status]) {
        const [oldest] = await queues.queue(name).getJobs(['wait'], 0, 0, true).catch(() => []);
        g.set({ queue: name }, oldest ? (Date.now() - oldest.timestamp) / 1000 : 0);
      }
    });
  }
}
