import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { createWorker, InboundJob, OutboundProducer, QueueName, RedisService } from '@gtc/queue';
import type { Job, Worker } from 'bullmq';
import { FlowRunnerMetrics } from './flow-runner.metrics';
import { FlowStepService } from './flow-step.service';

/**
 * Consumes the inbound queue. A job names a message and its contact; the contact's pending messages are taken
 * in arrival order until that one is done, so a job that overtakes an earlier one waits its turn.
 */
@Injectable()
export class InboundWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger(InboundWorker.name);
  private worker?: Worker<InboundJob>;

  constructor(
    private readonly steps: FlowStepService,
    private readonly producer: OutboundProducer,
    private readonly redis: RedisService,
    private readonly metrics: FlowRunnerMetrics,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.worker = createWorker(this.redis, QueueName.Inbound, (job) => this.handle(job), this.config.env.FLOW_RUNNER_CONCURRENCY, this.log);
    this.worker.on('failed', () => this.metrics.jobFailures.inc());
  }

  async onModuleDestroy(): Promise<void> {
    await this.worker?.close();
  }

  private async handle(job: Job<InboundJob>): Promise<void> {
    let steps = 0;
    for (;;) {
      const started = process.hrtime.bigint();
      const step = await this.steps.processNext(job.data.contactId);
      if (!step) break;
      steps++;
      this.metrics.stepSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      this.metrics.waitSeconds.observe((Date.now() - step.receivedAt.getTime()) / 1000);
      this.metrics.runs.inc({ outcome: step.outcome });
      if (step.outcome === 'error') this.log.warn({ jobId: job.id, inboundId: step.inboundId }, 'flow run failed (recorded on the message)');
      if (step.limits && step.outbound.length) {
        await this.producer
          .enqueue(step.limits, step.outbound)
          .catch((err: Error) => this.log.warn(`outbound enqueue failed (${err.message}); the sender's reconciler will pick the rows up`));
      }
      if (step.inboundId === job.data.inboundId) break;
    }
    this.metrics.stepsPerJob.observe(steps);
  }
}
