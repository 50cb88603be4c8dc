import { Injectable } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { IN_FLIGHT_STATES, KeysetWalk, PrismaService, sqlStates, UNSENT_STATES } from '@gtc/db';
import { PeriodicTask } from '@gtc/observability';
import { jobIds, QueueName, QueueService } from '@gtc/queue';

const BATCH = 1_000;

/**
 * Re-enqueues outbound rows whose job is gone (Redis lost all or part of its data, or a crash): queued rows, and
 * sends with an unknown outcome whose reconcile time has passed. Job ids are deterministic: a live job is not
 * duplicated; a job hash left behind with no list pointing at it, or a finished job whose row is still unsent, is
 * made again (QueueService.ensureJobs). A message that got a wamid is never offered (its state is final).
 */
@Injectable()
export class SenderReconciler extends PeriodicTask {
  constructor(
    private readonly prisma: PrismaService,
    private readonly queues: QueueService,
    private readonly config: AppConfig,
  ) {
    super();
  }

  protected intervalMs(): number {
    return this.config.env.RECONCILE_INTERVAL_MS;
  }

  /** Where the walk through queued rows stands: each pass takes the next batch, so a backlog never hides newer rows. */
  private readonly walk = new KeysetWalk(BATCH);

  /** One pass: offers those rows to the queue again (a row whose job is live is left alone). */
  protected async runOnce(): Promise<void> {
    const queued = await this.prisma.client.$queryRawUnsafe<{ id: string; at: Date }[]>(
      `SELECT id, created_at AS at FROM outbound_messages
       WHERE state = 'queued' AND created_at < now() - interval '10 seconds' AND (created_at, id) > ($1::timestamp, $2::uuid)
       ORDER BY created_at, id LIMIT ${BATCH}`,
      ...this.walk.from,
    );
    this.walk.advance(queued);
    const unknown = await this.prisma.client.$queryRawUnsafe<{ id: string }[]>(
      `SELECT id FROM outbound_messages WHERE state IN (${sqlStates(IN_FLIGHT_STATES)}) AND sending_at < now() - make_interval(secs => $1) LIMIT ${BATCH}`,
      this.config.env.UNKNOWN_SEND_RECONCILE_MS / 1000,
    );
    const rows = [...queued, ...unknown];
    await this.queues.ensureJobs(
      QueueName.Outbound,
      rows.map((r) => ({ id: jobIds.outbound(r.id), data: { outboundId: r.id } })),
      async (jobs) => {
        const open = await this.prisma.client.$queryRawUnsafe<{ id: string }[]>(
          `SELECT id FROM outbound_messages WHERE id = ANY($1::uuid[]) AND state IN (${sqlStates(UNSENT_STATES)})`,
          jobs.map((j) => j.data.outboundId),
        );
        const ids = new Set(open.map((r) => r.id));
        return jobs.filter((j) => ids.has(j.data.outboundId));
      },
    );
  }
}
