import { Injectable } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { KeysetWalk } from '@gtc/db';
import { PeriodicTask } from '@gtc/observability';
import { jobIds, QueueName, QueueService } from '@gtc/queue';
import { OutboundStore, RECONCILE_BATCH } from './outbound.store';

/**
 * Re-enqueues outbound rows whose job is gone (Redis lost all or part of its data, or a crash): queued rows, and
 * sends with an unknown outcome whose reconcile time has passed. Job ids are deterministic: a live job is not
 * duplicated; a job hash left behind with no list pointing at it, or a finished job whose row is still unsent, is
 * made again (QueueService.ensureJobs). A message that got a wamid is never offered (its state is final).
 */
@Injectable()
export class SenderReconciler extends PeriodicTask {
  constructor(
    private readonly store: OutboundStore,
    private readonly queues: QueueService,
    private readonly config: AppConfig,
  ) {
    super();
  }

  protected intervalMs(): number {
    return this.config.env.RECONCILE_INTERVAL_MS;
  }

  /** Where the walk through queued rows stands: each pass takes the next batch, so a backlog never hides newer rows. */
  private readonly walk = new KeysetWalk(RECONCILE_BATCH);

  /** One pass: offers those rows to the queue again (a row whose job is live is left alone). */
  protected async runOnce(): Promise<void> {
    const queued = await this.store.queuedAfter(this.walk.from);
    this.walk.advance(queued);
    const unknown = await this.store.inFlightFor(this.config.env.UNKNOWN_SEND_RECONCILE_MS / 1000);
    const rows = [...queued, ...unknown];
    await this.queues.ensureJobs(
      QueueName.Outbound,
      rows.map((r) => ({ id: jobIds.outbound(r.id), data: { outboundId: r.id } })),
      async (jobs) => {
        const ids = await this.store.unsent(jobs.map((j) => j.data.outboundId));
        return jobs.filter((j) => ids.has(j.data.outboundId));
      },
    );
  }
}
