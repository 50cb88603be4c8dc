import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { TtlCache } from '@gtc/db';
import { Gauge, MetricsService } from '@gtc/observability';
import { LimiterSettings, limiterSettings, QueueName, QueueService } from '@gtc/queue';
import { AdminStore, SnapshotRow } from '../admin.store';
import { tierLimit, tierWindowStartMs } from './tier-usage';

/** How long one read of Postgres serves the scrapes: frequent scrapes cost one statement per this. */
export const PLATFORM_SNAPSHOT_TTL_MS = 30_000;
/** The BullMQ states gtc_queue_depth reports. */
export const QUEUE_DEPTH_STATES = ['waiting', 'delayed', 'active', 'failed'] as const;
/** Longest paused_reason kept as a label value (Meta's texts can be long). */
const REASON_LABEL_MAX = 200;

/**
 * The platform's state as gauges of the admin's /metrics, computed when Prometheus scrapes (never on a request path):
 * tenants (id → slug, for `group_left(slug)` joins), paused numbers and why, tier usage and limit per number (as
 * GET /v1/tenants/:tenant/stats counts them: tier-usage.ts), and the depth of every queue. Postgres is read in one
 * statement at most every PLATFORM_SNAPSHOT_TTL_MS; a read that fails leaves those gauges empty for that scrape
 * (no stale numbers) and is tried again on the next. Queue depths are read from Redis on each scrape.
 */
@Injectable()
export class PlatformMetrics {
  private readonly log = new Logger(PlatformMetrics.name);
  private readonly snapshots = new TtlCache<SnapshotRow[]>(PLATFORM_SNAPSHOT_TTL_MS);
  private readonly limits: LimiterSettings;

  constructor(
    private readonly store: AdminStore,
    private readonly queues: QueueService,
    metrics: MetricsService,
    config: AppConfig,
  ) {
    this.limits = limiterSettings(config);
    metrics.gauge(
      'gtc_tenant_info',
      'Every tenant (1): its id (the tenant label of other series) and its slug',
      ['tenant', 'slug'],
      (g) =>
        this.fill(g, (rows, set) => {
          for (const r of rows) set({ tenant: r.tenant, slug: r.slug }, 1);
        }),
    );
    metrics.gauge(
      'gtc_provider_paused',
      "Whether a team's number is paused (1) or sending (0)",
      ['tenant', 'team'],
      (g) =>
        this.fill(g, (rows, set) => {
          for (const r of rows)
            if (r.team !== null) set({ tenant: r.tenant, team: r.team }, r.paused ? 1 : 0);
        }),
    );
    metrics.gauge(
      'gtc_provider_paused_info',
      'A paused number (1): the Graph error class and code that paused it, and the reason (first 200 characters)',
      ['tenant', 'team', 'class', 'code', 'reason'],
      (g) =>
        this.fill(g, (rows, set) => {
          for (const r of rows) {
            if (r.team === null || !r.paused) continue;
            const reason = (r.paused_reason ?? '').slice(0, REASON_LABEL_MAX);
            set(
              {
                tenant: r.tenant,
                team: r.team,
                class: r.paused_class ?? '',
                code: r.paused_code === null ? '' : String(r.paused_code),
                reason,
              },
              1,
            );
          }
        }),
    );
    metrics.gauge(
      'gtc_tier_used',
      "What a number's tier limit has counted in its moving window (TIER_COUNTING)",
      ['tenant', 'team'],
      (g) =>
        this.fill(g, (rows, set) => {
          for (const r of rows)
            if (r.team !== null) set({ tenant: r.tenant, team: r.team }, r.tier_used ?? 0);
        }),
    );
    metrics.gauge(
      'gtc_tier_limit',
      "A number's tier limit per moving window (none for the unlimited tier)",
      ['tenant', 'team', 'tier'],
      (g) =>
        this.fill(g, (rows, set) => {
          for (const r of rows) {
            const limit = r.team !== null && r.tier !== null ? tierLimit(this.limits, r.tier) : null;
            if (limit !== null) set({ tenant: r.tenant, team: r.team!, tier: r.tier! }, limit);
          }
        }),
    );
    metrics.gauge(
      'gtc_queue_depth',
      'Jobs in each queue by state (waiting, delayed, active, failed); shared by all tenants',
      ['queue', 'state'],
      async (g) => {
        g.reset();
        // Redis down: no depths this scrape (its /health says why), and the other series are still answered.
        await Promise.all(
          [QueueName.Inbound, QueueName.Outbound, QueueName.Status].map(async (queue) => {
            const counts = await this.queues
              .queue(queue)
              .getJobCounts(...QUEUE_DEPTH_STATES)
              .catch(() => null);
            if (counts) for (const state of QUEUE_DEPTH_STATES) g.set({ queue, state }, counts[state] ?? 0);
          }),
        );
      },
    );
  }

  /** Sets a gauge from the current snapshot (after clearing it); on a failed read it stays empty. */
  private async fill<L extends string>(
    g: Gauge<L>,
    write: (rows: SnapshotRow[], set: (labels: Record<L, string>, value: number) => void) => void,
  ): Promise<void> {
    g.reset();
    // The gauges of one scrape are collected together: they share one read (and one warning if it fails).
    const rows = await this.snapshots
      .get('platform', () =>
        this.read().catch((err: Error) => {
          this.log.warn(`platform gauges not read for /metrics (${err.message})`);
          throw err;
        }),
      )
      .catch(() => null);
    if (rows) write(rows, (labels, value) => g.set(labels, value));
  }

  /** Every tenant with each of its numbers (a tenant with none: one row of nulls), in one statement. */
  private read(): Promise<SnapshotRow[]> {
    return this.store.platformSnapshot(tierWindowStartMs(this.limits));
  }
}
