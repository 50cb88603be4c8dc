import { Injectable } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { PeriodicTask } from '@gtc/observability';
import { RedisService } from '@gtc/queue';
import { FlowRunnerStore, PRUNE_BATCH, PruneKind } from './flow-runner.store';

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
    private readonly store: FlowRunnerStore,
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
      inbound: await this.prune('inbound', dedupDays),
      outbound: await this.prune('outbound', days),
      statuses: await this.prune('statuses', dedupDays),
      events: await this.prune('events', dedupDays),
    };
  }

  private async prune(kind: PruneKind, days: number): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.store.prune(kind, days);
      total += n;
      if (n < PRUNE_BATCH) return total;
      await new Promise((r) => setTimeout(r, 50)); // let the hot path breathe between batches
    }
  }
}
