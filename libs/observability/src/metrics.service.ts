import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * How often the event loop's delay is sampled for `nodejs_eventloop_lag_*`, ms. prom-client's default (10 ms) wakes
 * every process 100 times a second: 5.5 ms of CPU a second per idle process here (a sender's main thread went from
 * 10 to 4.5 ms/s), for a lag measured as well at 10 samples a second.
 */
const EVENT_LOOP_SAMPLE_MS = 100;

/** The service's Prometheus registry (process metrics included); every metric carries the service label. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  constructor() {
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  }

  /** Labels every metric of this process with the service name. */
  setService(service: string): void {
    this.registry.setDefaultLabels({ service });
  }

  /** A counter registered once under this name. */
  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return (this.registry.getSingleMetric(name) as Counter<L>) ?? new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** A histogram registered once under this name (seconds by convention). */
  histogram<L extends string>(name: string, help: string, labelNames: readonly L[] = [], buckets?: number[]): Histogram<L> {
    return (
      (this.registry.getSingleMetric(name) as Histogram<L>) ??
      new Histogram({ name, help, labelNames, buckets, registers: [this.registry] })
    );
  }

  /** A gauge registered once under this name, optionally computed at scrape time. */
  gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = [], collect?: (g: Gauge<L>) => Promise<void> | void): Gauge<L> {
    return (
      (this.registry.getSingleMetric(name) as Gauge<L>) ??
      new Gauge({
        name,
        help,
        labelNames,
        registers: [this.registry],
        collect: collect ? async function (this: Gauge<L>) { await collect(this); } : undefined,
      })
    );
  }

  /** Prometheus text exposition. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
