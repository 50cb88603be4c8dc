import { Injectable } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { KeysetWalk, PrismaService } from '@gtc/db';
import { PeriodicTask } from '@gtc/observability';
import { jobIds, QueueName, QueueService } from '@gtc/queue';
import { IngressMetrics } from './ingress.metrics';

const BATCH = 1_000;
/** Rows younger than this are still on their way through the normal path. */
const MIN_AGE_SECONDS = 5;

/**
 * Postgres is the truth: rows recorded but whose job never made it (Redis down, or Redis lost its data) are
 * enqueued again. Job ids are deterministic, so a row whose job still exists is not enqueued twice.
 */
@Injectable()
export class Reconciler extends PeriodicTask {
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

  /** One pass: the next batch of pending inbound messages and of unapplied statuses of known messages. */
  protected async runOnce(): Promise<void> {
    const inbound = await this.prisma.client.$queryRawUnsafe<{ id: string; contact_id: string; arrival: bigint }[]>(
      `SELECT id, contact_id, arrival FROM inbound_messages
       WHERE state = 'pending' AND contact_id IS NOT NULL AND received_at < now() - make_interval(secs => $1) AND arrival > $2
       ORDER BY arrival LIMIT ${BATCH}`,
      MIN_AGE_SECONDS,
      this.inboundAfter,
    );
    this.inboundAfter = inbound.length === BATCH ? inbound[inbound.length - 1].arrival : 0n;
    const statuses = await this.prisma.client.$queryRawUnsafe<{ id: string; at: Date }[]>(
      `SELECT s.id, s.received_at AS at FROM status_events s JOIN outbound_messages o ON o.wamid = s.wamid
       WHERE s.applied_at IS NULL AND s.received_at < now() - make_interval(secs => $1) AND (s.received_at, s.id) > ($2::timestamp, $3::uuid)
       ORDER BY s.received_at, s.id LIMIT ${BATCH}`,
      MIN_AGE_SECONDS,
      ...this.statusWalk.from,
    );
    this.statusWalk.advance(statuses);
    await this.queues.addBulk(
      QueueName.Inbound,
      inbound.map((r) => ({ id: jobIds.inbound(r.id), data: { inboundId: r.id, contactId: r.contact_id } })),
    );
    await this.queues.addBulk(
      QueueName.Status,
      statuses.map((r) => ({ id: jobIds.status(r.id), data: { statusEventId: r.id } })),
    );
    this.metrics.reconciled.inc({ queue: QueueName.Inbound }, inbound.length);
    this.metrics.reconciled.inc({ queue: QueueName.Status }, statuses.length);
  }
}
