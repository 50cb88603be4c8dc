import { Injectable } from '@nestjs/common';
import { Counter, Histogram, MetricsService } from '@gtc/observability';

/** Runs by tenant and outcome, failed job attempts, replies held at their gate, step latency, and how long inbound messages waited for their contact's turn. */
@Injectable()
export class FlowRunnerMetrics {
  readonly runs: Counter<'tenant' | 'outcome'>;
  readonly stepSeconds: Histogram;
  readonly waitSeconds: Histogram;
  readonly stepsPerJob: Histogram;
  readonly jobFailures: Counter;
  readonly repliesHeld: Counter;

  constructor(metrics: MetricsService) {
    this.runs = metrics.counter('gtc_flow_runs_total', 'Inbound messages processed, by tenant (id) and outcome', ['tenant', 'outcome']);
    this.stepSeconds = metrics.histogram('gtc_flow_step_seconds', 'Per step: duration of the job that ran it (its contacts\' steps, batched in transactions)', [], [
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
    ]);
    this.waitSeconds = metrics.histogram('gtc_flow_inbound_wait_seconds', 'Time from webhook received to step done', [], [
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]);
    this.jobFailures = metrics.counter('gtc_flow_job_failures_total', 'Inbound job attempts that failed (retried by the queue)');
    this.repliesHeld = metrics.counter('gtc_flow_replies_held_total', "Replies enqueued held at their recipient's ordering gate (in the delayed set until the earlier message is released)");
    this.stepsPerJob = metrics.histogram('gtc_flow_steps_per_job', 'Messages one job processed (its batch, and earlier pending messages of its contacts)', [], [
      1, 2, 3, 5, 10, 25,
    ]);
  }
}
