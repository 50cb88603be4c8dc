import { Injectable } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { PrismaService } from '@gtc/db';
import { LimiterSettings, limiterSettings, QueueName, QueueService } from '@gtc/queue';
import { z } from 'zod';
import { AdminStore } from '../admin.store';
import { TenantScopeService } from '../common/tenant-scope.service';
import { providerUsageSchema, statsSchema, USAGE_MINUTES } from './stats.schemas';
import { tierLimit, tierWindowStartMs } from './tier-usage';

/** The statistics as the API shows them. */
type StatsView = z.input<typeof statsSchema>;

/** Per-tenant statistics: message counts by state, queue depths, paused providers, tier usage. */
@Injectable()
export class StatsService {
  /** The sender's own limit settings (TIER_LIMITS, TIER_WINDOW_SECONDS, TIER_COUNTING), so usage counts as it does. */
  private readonly limits: LimiterSettings;

  constructor(
    private readonly prisma: PrismaService,
    private readonly store: AdminStore,
    private readonly scope: TenantScopeService,
    private readonly queues: QueueService,
    config: AppConfig,
  ) {
    this.limits = limiterSettings(config);
  }

  /** The tenant's numbers; queue depths are those of the shared queues (all tenants), null when Redis is down. */
  async forTenant(tenantSlug: string): Promise<StatsView> {
    const tenant = await this.scope.tenant(tenantSlug);
    const [outbound, inbound, providers, contacts, optedOut, used] = await Promise.all([
      this.prisma.client.outboundMessage.groupBy({
        by: ['state'],
        where: { tenantId: tenant.id },
        _count: { _all: true },
      }),
      this.prisma.client.inboundMessage.groupBy({
        by: ['state'],
        where: { tenantId: tenant.id },
        _count: { _all: true },
      }),
      this.prisma.client.whatsAppProvider.findMany({
        where: { tenantId: tenant.id },
        include: { team: { select: { slug: true } } },
      }),
      this.prisma.client.contact.count({ where: { tenantId: tenant.id } }),
      this.prisma.client.contact.count({ where: { tenantId: tenant.id, optedOut: true } }),
      // Counted as the tier limit counts (tier-usage.ts, as the /metrics gauges count): every number in one statement.
      this.store.tierUsedByProvider(tenant.id, tierWindowStartMs(this.limits)),
    ]);
    const usedBy = new Map(used.map((r) => [r.id, r.used]));
    const usage = providers.map((p) => ({
      team: p.team.slug,
      phone_number_id: p.phoneNumberId,
      tier: p.tier as StatsView['limit_usage'][number]['tier'],
      tier_counting: this.limits.tierCounting,
      tier_window_seconds: this.limits.tierWindowMs / 1000,
      tier_limit: tierLimit(this.limits, p.tier),
      tier_used: usedBy.get(p.id) ?? 0,
      throughput_mps: p.throughputMps,
    }));
    const queues: Record<string, Record<string, number> | null> = {};
    for (const name of [QueueName.Inbound, QueueName.Outbound, QueueName.Status]) {
      try {
        queues[name] = await this.queues
          .queue(name)
          .getJobCounts(
            'waiting',
            'active',
            'delayed',
            'failed',
            'completed',
            'prioritized',
            'waiting-children',
          );
      } catch {
        queues[name] = null;
      }
    }
    const counts = (rows: Array<{ state: string; _count: { _all: number } }>) =>
      Object.fromEntries(rows.map((r) => [r.state, r._count._all]));
    return {
      tenant: tenant.slug,
      outbound: counts(outbound),
      inbound: counts(inbound),
      contacts: { total: contacts, opted_out: optedOut },
      queues,
      paused_providers: providers
        .filter((p): p is typeof p & { pausedAt: Date } => !!p.pausedAt)
        .map((p) => ({
          team: p.team.slug,
          phone_number_id: p.phoneNumberId,
          paused_at: p.pausedAt,
          paused_reason: p.pausedReason,
        })),
      limit_usage: usage,
    };
  }

  /**
   * One number's usage now: pause state, tier use, its queue, failures of the day, and sends per minute. Messages
   * are found through the tenant's (tenant_id, created_at) index over the last day and a half (a message queued
   * longer than that before it was sent is left out of the minutes).
   */
  async forProvider(tenantSlug: string, teamSlug: string): Promise<z.input<typeof providerUsageSchema>> {
    const { tenant, team, provider } = await this.scope.provider(tenantSlug, teamSlug);
    const now = Date.now();
    const firstMinute = Math.floor(now / 60_000) * 60_000 - (USAGE_MINUTES - 1) * 60_000;
    const [counts, minutes] = await Promise.all([
      this.store.providerCounts(provider.id, tierWindowStartMs(this.limits, now)),
      this.store.providerMinutes(tenant.id, provider.id, firstMinute),
    ]);
    const byMinute = new Map(minutes.map((r) => [Number(r.minute), r]));
    const c = counts;
    return {
      team: team.slug,
      phone_number_id: provider.phoneNumberId,
      paused: provider.pausedAt !== null,
      paused_at: provider.pausedAt,
      paused_reason: provider.pausedReason,
      throughput_mps: provider.throughputMps,
      tier: provider.tier as z.input<typeof providerUsageSchema>['tier'],
      tier_limit: tierLimit(this.limits, provider.tier),
      tier_used: c.used,
      tier_window_seconds: this.limits.tierWindowMs / 1000,
      queued: c.queued,
      sending: c.sending,
      failed_24h: c.failed,
      per_minute: Array.from({ length: USAGE_MINUTES }, (_, i) => {
        const minute = firstMinute + i * 60_000;
        const row = byMinute.get(minute);
        return { minute: new Date(minute), sent: row?.sent ?? 0, failed: row?.failed ?? 0 };
      }),
    };
  }
}
