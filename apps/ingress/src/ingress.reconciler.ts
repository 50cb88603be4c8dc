import { Injectable } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { KeysetWalk } from '@gtc/db';
import { PeriodicTask } from '@gtc/observability';
import { InboundItem, jobIds, QueueName, QueueService } from '@gtc/queue';
import { IngressMetrics } from './ingress.metrics';
import { IngressStore, RECONCILE_BATCH } from './ingress.store';

/**
 * Postgres is the truth: rows recorded but whose job never made it (Redis down, or Redis lost all or part of its
 * data) are enqueued again. Job ids are deterministic, so a row whose job is live is not enqueued twice; a job
 * Redis still holds but no list points at (partial loss), or one that finished without the work done, is made
 * again (QueueService.ensureJobs).
 */
@Injectable()
export class IngressReconciler extends PeriodicTask {
  constructor(
    private readonly store: IngressStore,
    private readonly queues: QueueService,
    private readonly metrics: IngressMetrics,
    private readonly config: AppConfig,
  ) {
    super();
  }

  protected intervalMs(): number {
    return this.config.env.RECONCILE_INTERVAL_MS;
  }

  /** Where the walks through pending rows stand: each pass takes the next batch, so a backlog never hides newer rows. */
  private inboundAfter = '0';
  private readonly statusWalk = new KeysetWalk(RECONCILE_BATCH);

  /**
   * One pass: the next batch of pending inbound messages and of statuses left for a status job whose message is known
   * (a status recorded before its send, or one ingress applied but whose follow-up, a wake or a pause, is not done yet).
   */
  protected async runOnce(): Promise<void> {
    const inbound = await this.store.pendingInbound(this.inboundAfter);
    this.inboundAfter = inbound.length === RECONCILE_BATCH ? inbound[inbound.length - 1].arrival : '0';
    const statuses = await this.store.unappliedStatuses(this.statusWalk.from);
    this.statusWalk.advance(statuses);
    // A row travels in its batch's job (i_<batch id>), or alone (i_<row id>): offer each job once, with its rows still pending.
    const byJob = new Map<string, InboundItem[]>();
    for (const r of inbound) {
      const id = jobIds.inbound(r.batch_id ?? r.id);
      byJob.set(id, [...(byJob.get(id) ?? []), { inboundId: r.id, contactId: r.contact_id }]);
    }
    const inboundJobs = await this.queues.ensureJobs(
      QueueName.Inbound,
      [...byJob].map(([id, items]) => ({ id, data: { items } })),
      async (jobs) => {
        const open = await this.store.stillPending(jobs.flatMap((j) => j.data.items.map((i) => i.inboundId)));
        return jobs.filter((j) => j.data.items.some((i) => open.has(i.inboundId)));
      },
    );
    const statusJobs = await this.queues.ensureJobs(
      QueueName.Status,
      statuses.map((r) => ({ id: jobIds.status(r.id), data: { statusEventId: r.id } })),
      async (jobs) => {
        const open = await this.store.stillUnapplied(jobs.map((j) => j.data.statusEventId));
        return jobs.filter((j) => open.has(j.data.statusEventId));
      },
    );
    this.metrics.reconciled.inc({ queue: QueueName.Inbound }, inboundJobs.added);
    this.metrics.reconciled.inc({ queue: QueueName.Status }, statusJobs.added);
  }
}
