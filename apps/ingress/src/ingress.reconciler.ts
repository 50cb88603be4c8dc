import { Injectable } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { KeysetWalk, PrismaService } from '@gtc/db';
import { PeriodicTask } from '@gtc/observability';
import { InboundItem, jobIds, QueueName, QueueService } from '@gtc/queue';
import { IngressMetrics } from './ingress.metrics';

const BATCH = 1_000;
/** Rows younger than this are still on their way through the normal path. */
const MIN_AGE_SECONDS = 5;

/**
 * Postgres is the truth: rows recorded but whose job never made it (Redis down, or Redis lost all or part of its
 * data) are enqueued again. Job ids are deterministic, so a row whose job is live is not enqueued twice; a job
 * Redis still holds but no list points at (partial loss), or one that finished without the work done, is made
 * again (QueueService.ensureJobs).
 */
@Injectable()
export class IngressReconciler extends PeriodicTask {
  constructor(
    private readonly prisma: PrismaService,
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
  private inboundAfter = 0n;
  private readonly statusWalk = new KeysetWalk(BATCH);

  /**
   * One pass: the next batch of pending inbound messages and of unapplied statuses of known messages (a status
   * recorded before its send, or one ingress applied but whose follow-up, a wake or a pause, is not done yet).
   */
  protected async runOnce(): Promise<void> {
    const inbound = await this.prisma.client.$queryRawUnsafe<{ id: string; contact_id: string; arrival: bigint; batch_id: string | null }[]>(
      `SELECT id, contact_id, arrival, batch_id FROM inbound_messages
       WHERE state = 'pending' AND contact_id IS NOT NULL AND received_at < now() - make_interval(secs => $1) AND arrival > $2
       ORDER BY arrival LIMIT ${BATCH}`,
      MIN_AGE_SECONDS,
      this.inboundAfter,
    );
    this.inboundAfter = inbound.length === BATCH ? inbound[inbound.length - 1].arrival : 0n;
    const statuses = await this.prisma.client.$queryRawUnsafe<{ id: string; at: Date }[]>(
      `SELECT s.id, s.received_at AS at FROM status_events s JOIN outbound_messages o ON o.provider_id = s.provider_id AND o.wamid = s.wamid
       WHERE s.applied_at IS NULL AND s.received_at < now() - make_interval(secs => $1) AND (s.received_at, s.id) > ($2::timestamp, $3::uuid)
       ORDER BY s.received_at, s.id LIMIT ${BATCH}`,
      MIN_AGE_SECONDS,
      ...this.statusWalk.from,
    );
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
        const open = new Set(await this.stillUnfinished('inbound_messages', "state = 'pending'", jobs.flatMap((j) => j.data.items), (i) => i.inboundId));
        return jobs.filter((j) => j.data.items.some((i) => open.has(i)));
      },
    );
    const statusJobs = await this.queues.ensureJobs(
      QueueName.Status,
      statuses.map((r) => ({ id: jobIds.status(r.id), data: { statusEventId: r.id } })),
      (jobs) => this.stillUnfinished('status_events', 'applied_at IS NULL', jobs, (j) => j.data.statusEventId),
    );
    this.metrics.reconciled.inc({ queue: QueueName.Inbound }, inboundJobs.added);
    this.metrics.reconciled.inc({ queue: QueueName.Status }, statusJobs.added);
  }

  /** The jobs whose row is still unfinished now (their job finished in Redis, yet the work may not be done). */
  private async stillUnfinished<J>(table: string, unfinished: string, jobs: J[], rowId: (job: J) => string): Promise<J[]> {
    const rows = await this.prisma.client.$queryRawUnsafe<{ id: string }[]>(
      `SELECT id FROM ${table} WHERE id = ANY($1::uuid[]) AND ${unfinished}`,
      jobs.map(rowId),
    );
    const open = new Set(rows.map((r) => r.id));
    return jobs.filter((j) => open.has(rowId(j)));
  }
}
