import { Injectable } from '@nestjs/common';
import { PrismaService } from '@gtc/db';
import { QueueName, QueueService } from '@gtc/queue';
import { TenantScope } from '../common/tenant-scope.service';

/** Messages per moving 24 h of each tier (the provider page's numbers). */
export const TIER_LIMITS: Record<string, number | null> = { '1': 1_000, '2': 10_000, '3': 100_000, unlimited: null };

/** Per-tenant statistics: message counts by state, queue depths, paused providers, tier usage. */
@Injectable()
export class StatsService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly scope: TenantScope,
    private readonly queues: QueueService,
  ) {}

  /** The tenant's numbers; queue depths are those of the shared queues (all tenants), null when Redis is down. */
  async forTenant(tenantSlug: string) {
    const tenant = await this.scope.tenant(tenantSlug);
    const since = new Date(Date.now() - 24 * 3600 * 1000);
    const [outbound, inbound, providers, contacts, optedOut] = await Promise.all([
      this.prisma.client.outboundMessage.groupBy({ by: ['state'], where: { tenantId: tenant.id }, _count: { _all: true } }),
      this.prisma.client.inboundMessage.groupBy({ by: ['state'], where: { tenantId: tenant.id }, _count: { _all: true } }),
      this.prisma.client.whatsAppProvider.findMany({ where: { tenantId: tenant.id }, include: { team: { select: { slug: true } } } }),
      this.prisma.client.contact.count({ where: { tenantId: tenant.id } }),
      this.prisma.client.contact.count({ where: { tenantId: tenant.id, optedOut: true } }),
    ]);
    const usage = await Promise.all(
      providers.map(async (p) => {
        const sent = await this.prisma.client.outboundMessage.count({
          where: { tenantId: tenant.id, providerId: p.id, businessInitiated: true, sentAt: { gte: since } },
        });
        return { team: p.team.slug, phone_number_id: p.phoneNumberId, tier: p.tier, limit_24h: TIER_LIMITS[p.tier] ?? null, business_initiated_sent_24h: sent, throughput_mps: p.throughputMps };
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
      paused_providers: providers.filter((p) => p.pausedAt).map((p) => ({ team: p.team.slug, phone_number_id: p.phoneNumberId, paused_at: p.pausedAt, paused_reason: p.pausedReason })),
      limit_usage: usage,
    };
  }
}
