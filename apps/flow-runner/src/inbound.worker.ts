import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { createWorker, InboundJob, jobIds, OutboundProducer, QueueName, QueueService, RedisService } from '@gtc/queue';
import type { Job, Worker } from 'bullmq';
import { FlowRunnerMetrics } from './flow-runner.metrics';
import { FlowRunnerStore } from './flow-runner.store';
import { FlowStepService } from './flow-step.service';

/**
 * Consumes the inbound queue. A job lists messages (one ingress group commit's, or one); their contacts are
 * stepped together, each contact's pending messages in arrival order until its listed ones are done, so a job
 * that overtakes an earlier one makes the earlier messages go first. The outbound rows the steps wrote are
 * enqueued after commit in one round trip; a reply its recipient's ordering gate holds waits in the delayed set for
 * the release to wake it, instead of being taken by a sender only to wait there.
 */
@Injectable()
export class InboundWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger(InboundWorker.name);
  private worker?: Worker<InboundJob>;

  constructor(
    private readonly steps: FlowStepService,
    private readonly producer: OutboundProducer,
    private readonly queues: QueueService,
    private readonly store: FlowRunnerStore,
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
    const byContact = new Map<string, string[]>();
    for (const i of job.data.items) byContact.set(i.contactId, [...(byContact.get(i.contactId) ?? []), i.inboundId]);
    const started = process.hrtime.bigint();
    const steps = await this.steps.process([...byContact].map(([contactId, inboundIds]) => ({ contactId, inboundIds })));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const now = Date.now();
    for (const step of steps) {
      this.metrics.stepSeconds.observe(seconds);
      this.metrics.waitSeconds.observe((now - step.receivedAt.getTime()) / 1000);
      this.metrics.runs.inc({ tenant: step.tenantId, outcome: step.outcome });
      if (step.outcome === 'error') this.log.warn({ jobId: job.id, inboundId: step.inboundId }, 'flow run failed (recorded on the message)');
    }
    this.metrics.stepsPerJob.observe(steps.length);
    const sends = steps.filter((s) => s.limits && s.outbound.length).map((s) => ({ limits: s.limits!, messages: s.outbound }));
    try {
      await this.producer.enqueue(sends);
    } catch (err) {
      this.log.warn(`outbound enqueue failed (${(err as Error).message}); the sender's reconciler will pick the rows up`);
      return;
    }
    const held = sends.flatMap((s) => s.messages).filter((m) => m.heldMs !== undefined);
    this.metrics.repliesHeld.inc(held.length);
    if (held.length) await this.wakeReleased(held.map((m) => m.messageId));
  }

  /**
   * Wakes the held replies whose gate let go meanwhile. A release that came between the step's snapshot and the
   * jobs' creation found no job to wake: looking again after the jobs exist closes that gap (a release after this
   * look finds the job). Failing, they look again on their own after ORDERING_RECHECK_MS.
   */
  private async wakeReleased(ids: string[]): Promise<void> {
    try {
      const free = await this.store.withOpenGate(ids);
      if (free.length) await this.queues.wakeDelayed(QueueName.Outbound, free.map((id) => jobIds.outbound(id)));
    } catch (err) {
      this.log.warn(`could not look again at held replies (${(err as Error).message}); they look again on their own`);
    }
  }
}
