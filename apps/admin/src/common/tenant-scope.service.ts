import { Injectable } from '@nestjs/common';
import { PrismaService, Team, Tenant, WhatsAppProvider } from '@gtc/db';
import { notFound } from './api-error';

/** Resolves the tenant and team slugs of a path to rows, answering 404 when they don't exist. */
@Injectable()
export class TenantScopeService {
  constructor(private readonly prisma: PrismaService) {}

  /** The tenant with that slug, or 404. */
  async tenant(slug: string): Promise<Tenant> {
    const tenant = await this.prisma.client.tenant.findUnique({ where: { slug } });
    if (!tenant) throw notFound(`tenant '${slug}' not found`);
    return tenant;
  }

  /** The tenant and its team with those slugs, or 404. */
  async team(tenantSlug: string, teamSlug: string): Promise<{ tenant: Tenant; team: Team }> {
    const tenant = await this.tenant(tenantSlug);
    const team = await this.prisma.client.team.findUnique({ where: { tenantId_slug: { tenantId: tenant.id, slug: teamSlug } } });
    if (!team) throw notFound(`team '${teamSlug}' not found in tenant '${tenantSlug}'`);
    return { tenant, team };
  }

  /** The tenant, team and the team's WhatsApp provider, or 404. */
  async provider(tenantSlug: string, teamSlug: string): Promise<{ tenant: Tenant; team: Team; provider: WhatsAppProvider }> {
    const { tenant, team } = await this.team(tenantSlug, teamSlug);
    const provider = await this.prisma.client.whatsAppProvider.findFirst({ where: { teamId: team.id, tenantId: tenant.id } });
    if (!provider) throw notFound(`team '${teamSlug}' has no WhatsApp provider`);
    return { tenant, team, provider };
  }
}
