import { Injectable } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { PrismaService } from '@gtc/db';
import { LimiterSettings, limiterSettings, QueueName, QueueService } from '@gtc/queue';
import { z } from 'zod';
import { TenantScope } from '../common/tenant-scope.service';
import { statsSchema } from './stats.schemas';

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
    const since = new Date(Date.now() - this.limits.tierWindowMs);
    const [outbound, inbound, providers, contacts, optedOut] = await Promise.all([
      this.prisma.client.outboundMessage.groupBy({ by: ['state'], where: { tenantId: tenant.id }, _count: { _all: true } }),
      this.prisma.client.inboundMessage.groupBy({ by: ['state'], where: { tenantId: tenant.id }, _count: { _all: true } }),
      this.prisma.client.whatsAppProvider.findMany({ where: { tenantId: tenant.id }, include: { team: { select: { slug: true } } } }),
      this.prisma.client.contact.count({ where: { tenantId: tenant.id } }),
      this.prisma.client.contact.count({ where: { tenantId: tenant.id, optedOut: true } }),
    ]);
    const recipients = this.limits.tierCounting === 'recipients';
    const usage = await Promise.all(
      providers.map(async (p) => {
        // Counted as the tier limit counts: every message sent, or unique recipients of business-initiated ones.
        const where = { tenantId: tenant.id, providerId: p.id, sentAt: { gte: since }, ...(recipients ? { businessInitiated: true } : {}) };
        const used = recipients
          ? (await this.prisma.client.outboundMessage.findMany({ where, distinct: ['contactId'], select: { contactId: true } })).length
          : await this.prisma.client.outboundMessage.count({ where });
        return {
          team: p.team.slug,
          phone_number_id: p.phoneNumberId,
          tier: p.tier as StatsView['limit_usage'][number]['tier'],
          tier_counting: this.limits.tierCounting,
          tier_window_seconds: this.limits.tierWindowMs / 1000,
          tier_limit: p.tier === 'unlimited' ? null : (this.limits.tierLimits[p.tier] ?? null),
          tier_used: used,
          throughput_mps: p.throughputMps,
        };
      }),
    );
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
