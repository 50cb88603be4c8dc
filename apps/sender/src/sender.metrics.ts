import { Injectable } from '@nestjs/common';
import { Counter, Histogram, MetricsService } from '@gtc/observability';

/** Sends and statuses by tenant, send latency, webhook → reply latency, limit and ordering waits, slots taken again, retries by class. */
@Injectable()
export class SenderMetrics {
  readonly outcomes: Counter<'tenant' | 'state'>;
  readonly sendSeconds: Histogram;
  readonly limitWaitSeconds: Histogram;
  readonly orderingWaits: Counter;
  readonly lateSlots: Counter;
  readonly retries: Counter<'class'>;
  readonly replySeconds: Histogram;

  constructor(metrics: MetricsService) {
    this.outcomes = metrics.counter('gtc_outbound_total', 'Outbound messages reaching a state (sent, delivered, read, failed), by tenant', ['tenant', 'state']);
    this.sendSeconds = metrics.histogram('gtc_send_seconds', 'Graph API send request duration', [], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
    this.limitWaitSeconds = metrics.histogram('gtc_limit_wait_seconds', 'How long a message waited for its slot under the limits', [], [0.01, 0.1, 0.5, 1, 5, 30, 300, 3600, 86400]);
    this.orderingWaits = metrics.counter('gtc_ordering_waits_total', 'Times a message waited for the previous one to its recipient');
    this.lateSlots = metrics.counter('gtc_send_slots_retaken_total', 'Times a request could not leave within half the throughput margin of its slot and took its slot again');
    this.retries = metrics.counter('gtc_send_retries_total', 'Send retries by error class', ['class']);
    this.replySeconds = metrics.histogram('gtc_reply_seconds', "From the inbound message's arrival at ingress to its reply accepted by the Graph API", [], [
      0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
    ]);
  }
}
