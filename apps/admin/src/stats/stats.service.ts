import { Injectable } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { PrismaService } from '@gtc/db';
import { LimiterSettings, limiterSettings, QueueName, QueueService } from '@gtc/queue';
import { z } from 'zod';
import { TenantScope } from '../common/tenant-scope.service';
import { statsSchema } from './stats.schemas';
import { tierLimit, tierUsedSql, tierWindowStartMs } from './tier-usage';

/** The statistics as the API shows them. */
type StatsView = z.input<typeof statsSchema>;

/** Per-tenant statistics: message counts by state, queue depths, paused providers, tier usage. */
@Injectable()
export class StatsService {
  /** The sender's own limit settings (TIER_LIMITS, TIER_WINDOW_SECONDS, TIER_COUNTING), so usage counts as it does. */
  private readonly limits: LimiterSettings;

  constructor(
    private readonly prisma: PrismaService,
    private readonly scope: TenantScope,
    private readonly queues: QueueService,
    config: AppConfig,
  ) {
    this.limits = limiterSettings(config);
  }

  /** The tenant's numbers; queue depths are those of the shared queues (all tenants), null when Redis is down. */
  async forTenant(tenantSlug: string): Promise<StatsView> {
    const tenant = await this.scope.tenant(tenantSlug);
    const [outbound, inbound, providers, contacts, optedOut, used] = await Promise.all([
      this.prisma.client.outboundMessage.groupBy({ by: ['state'], where: { tenantId: tenant.id }, _count: { _all: true } }),
      this.prisma.client.inboundMessage.groupBy({ by: ['state'], where: { tenantId: tenant.id }, _count: { _all: true } }),
      this.prisma.client.whatsAppProvider.findMany({ where: { tenantId: tenant.id }, include: { team: { select: { slug: true } } } }),
      this.prisma.client.contact.count({ where: { tenantId: tenant.id } }),
      this.prisma.client.contact.count({ where: { tenantId: tenant.id, optedOut: true } }),
      // Counted as the tier limit counts (tier-usage.ts, as the /metrics gauges count): every number in one statement.
      this.prisma.pool.query<{ id: string; used: number }>(
        `SELECT p.id, ${tierUsedSql(this.limits, 'p', '$2')} AS used FROM whatsapp_providers p WHERE p.tenant_id = $1`,
        [tenant.id, tierWindowStartMs(this.limits)],
      ),
    ]);
    const usedBy = new Map(used.rows.map((r) => [r.id, r.used]));
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
        queues[name] = await this.queues.queue(name).getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized', 'waiting-children');
      } catch {
        queues[name] = null;
      }
    }
    const counts = (rows: Array<{ state: string; _count: { _all: number } }>) => Object.fromEntries(rows.map((r) => [r.state, r._count._all]));
    return {
      tenant: tenant.slug,
      outbound: counts(outbound),
      inbound: counts(inbound),
      contacts: { total: contacts, opted_out: optedOut },
      queues,
      paused_providers: providers
        .filter((p): p is typeof p & { pausedAt: Date } => !!p.pausedAt)
        .map((p) => ({ team: p.team.slug, phone_number_id: p.phoneNumberId, paused_at: p.pausedAt, paused_reason: p.pausedReason })),
      limit_usage: usage,
    };
  }
}
