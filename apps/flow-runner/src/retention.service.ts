import { Injectable } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { DONE_STATES, INBOUND_DONE_STATES, PrismaService, sqlStates } from '@gtc/db';
import { PeriodicTask } from '@gtc/observability';
import { RedisService } from '@gtc/queue';

const BATCH = 1_000;
/** Meta redelivers for up to 7 days: message ids are kept at least that long for deduplication. */
const DEDUP_DAYS = 7;

/** Rows removed by one pass, per table. */
export interface RetentionResult {
  inbound: number;
  outbound: number;
  statuses: number;
  events: number;
}

/**
 * Prunes finished history older than RETENTION_DAYS: processed inbound messages (never fewer than 7 days, the
 * dedup horizon), finished outbound messages with their status events, orphan status events and other webhook
 * events. Batches of 1,000 rows in short transactions, so the hot tables are never locked for long; pending,
 * queued, sending and unknown rows are never touched. One replica runs it at a time (a Redis lock).
 */
@Injectable()
export class RetentionService extends PeriodicTask {
  constructor(
    private readonly prisma: PrismaService,
    private readonly redis: RedisService,
    private readonly config: AppConfig,
  ) {
    super();
  }

  protected intervalMs(): number {
    return this.config.env.RETENTION_INTERVAL_MS;
  }

  /** Runs a pass if this replica takes the lock for this interval. */
  protected async runOnce(): Promise<void> {
    const key = `${this.redis.prefix}:retention:lock`;
    const got = await this.redis.client.set(key, String(process.pid), 'PX', this.config.env.RETENTION_INTERVAL_MS, 'NX');
    if (!got) return;
    const r = await this.run();
    if (r.inbound + r.outbound + r.statuses + r.events) this.log.log(`retention removed ${JSON.stringify(r)}`);
  }

  /** One full pass. */
  async run(): Promise<RetentionResult> {
    const days = this.config.env.RETENTION_DAYS;
    const dedupDays = Math.max(days, DEDUP_DAYS);
    return {
      inbound: await this.prune(
        `DELETE FROM inbound_messages WHERE id IN (SELECT id FROM inbound_messages
           WHERE state IN (${sqlStates(INBOUND_DONE_STATES)}) AND received_at < now() - make_interval(days => $1) LIMIT ${BATCH})`,
        dedupDays,
      ),
      // Status events go with their message (foreign key ON DELETE CASCADE).
      outbound: await this.prune(
        `DELETE FROM outbound_messages WHERE id IN (SELECT id FROM outbound_messages
           WHERE state IN (${sqlStates(DONE_STATES)}) AND updated_at < now() - make_interval(days => $1) LIMIT ${BATCH})`,
        days,
      ),
      statuses: await this.prune(
        `DELETE FROM status_events WHERE id IN (SELECT id FROM status_events
           WHERE outbound_id IS NULL AND received_at < now() - make_interval(days => $1) LIMIT ${BATCH})`,
        dedupDays,
      ),
      events: await this.prune(
        `DELETE FROM webhook_events WHERE id IN (SELECT id FROM webhook_events
           WHERE received_at < now() - make_interval(days => $1) LIMIT ${BATCH})`,
        dedupDays,
      ),
    };
  }

  private async prune(sql: string, days: number): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.prisma.client.$executeRawUnsafe(sql, days);
      total += n;
      if (n < BATCH) return total;
      await new Promise((r) => setTimeout(r, 50)); // let the hot path breathe between batches
    }
  }
}
