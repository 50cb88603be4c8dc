import { Injectable } from '@nestjs/common';
import { Counter, Histogram, MetricsService } from '@gtc/observability';

/** Delivery attempts by outcome and their duration. */
@Injectable()
export class DispatcherMetrics {
  /** Attempts by what they came to: delivered, retry, failed (schedule ran out), gone (410, endpoint disabled). */
  readonly outcomes: Counter<'outcome'>;
  /** Duration of one attempt (connect, answer, body). */
  readonly attemptSeconds: Histogram;
  /** Claim statements, by whether they leased anything (each is a statement and a transaction). */
  readonly claims: Counter<'leased'>;

  constructor(metrics: MetricsService) {
    this.outcomes = metrics.counter('gtc_event_deliveries_total', 'Event delivery attempts by outcome (delivered, retry, failed, gone)', ['outcome']);
    this.attemptSeconds = metrics.histogram('gtc_event_attempt_seconds', 'Duration of one event webhook attempt', [], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]);
    this.claims = metrics.counter('gtc_event_claims_total', 'Claim statements of the event dispatcher, by whether they leased deliveries', ['leased']);
  }

  /** Registers the gauge of deliveries in flight in this process. */
  inFlight(metrics: MetricsService, read: () => number): void {
    metrics.gauge('gtc_event_deliveries_in_flight', 'Event deliveries this process has in flight', [], (g) => g.set(read()));
  }
}
