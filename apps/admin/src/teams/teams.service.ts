import { Injectable } from '@nestjs/common';
import { PrismaService, Team } from '@gtc/db';
import { z } from 'zod';
import { conflict } from '../common/api-error';
import { keysetPage, Page, PageRequest, SortOrder, toPage } from '../common/pagination';
import { TenantScopeService } from '../common/tenant-scope.service';
import { createTeamSchema, teamSchema, updateTeamSchema } from './teams.schemas';

/** A team as the API shows it. */
export function teamView(t: Team & { provider?: { id: string; phoneNumberId: string; enabled: boolean } | null }): z.input<typeof teamSchema> {
  return {
    id: t.id,
    slug: t.slug,
    name: t.name,
    has_provider: !!t.provider,
    phone_number_id: t.provider?.phoneNumberId ?? null,
    created_at: t.createdAt,
    updated_at: t.updatedAt,
  };
}

const withProvider = { provider: { select: { id: true, phoneNumberId: true, enabled: true } } } as const;

/** The order of the team list: oldest first. */
const TEAM_ORDER: SortOrder<'createdAt' | 'id'> = [
  ['createdAt', 'asc', 'date'],
  ['id', 'asc', 'uuid'],
];

/** Teams of a tenant: create, list, read, rename, delete. */
@Injectable()
export class TeamsService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly scope: TenantScopeService,
  ) {}

  /** Creates a team; 409 if the slug is taken in this tenant. */
  async create(tenantSlug: string, input: z.output<typeof createTeamSchema>) {
    const tenant = await this.scope.tenant(tenantSlug);
    const exists = await this.prisma.client.team.findUnique({ where: { tenantId_slug: { tenantId: tenant.id, slug: input.slug } } });
    if (exists) throw conflict(`team '${input.slug}' already exists in tenant '${tenantSlug}'`);
    const team = await this.prisma.client.team.create({
      data: { tenantId: tenant.id, slug: input.slug, name: input.name ?? input.slug },
      include: withProvider,
    });
    return teamView(team);
  }

  /** The tenant's teams, oldest first. */
  async list(tenantSlug: string, page: PageRequest): Promise<Page<ReturnType<typeof teamView>>> {
    const tenant = await this.scope.tenant(tenantSlug);
    const k = keysetPage(TEAM_ORDER, page);
    const rows = await this.prisma.client.team.findMany({
      ...k,
      where: { AND: [{ tenantId: tenant.id }, k.where] },
      include: withProvider,
    });
    return toPage(rows, page, TEAM_ORDER, teamView);
  }

  /** One team. */
  async get(tenantSlug: string, teamSlug: string) {
    const { team } = await this.scope.team(tenantSlug, teamSlug);
    const row = await this.prisma.client.team.findUniqueOrThrow({ where: { id: team.id }, include: withProvider });
    return teamView(row);
  }

  /** Renames a team; writes nothing when nothing changes. */
  async update(tenantSlug: string, teamSlug: string, input: z.output<typeof updateTeamSchema>) {
    const { tenant, team } = await this.scope.team(tenantSlug, teamSlug);
    const data: { slug?: string; name?: string } = {};
    if (input.slug !== undefined && input.slug !== team.slug) {
      const taken = await this.prisma.client.team.findUnique({ where: { tenantId_slug: { tenantId: tenant.id, slug: input.slug } } });
      if (taken) throw conflict(`team '${input.slug}' already exists in tenant '${tenantSlug}'`);
      data.slug = input.slug;
    }
    if (input.name !== undefined && input.name !== team.name) data.name = input.name;
    const row = Object.keys(data).length
      ? await this.prisma.client.team.update({ where: { id: team.id }, data, include: withProvider })
      : await this.prisma.client.team.findUniqueOrThrow({ where: { id: team.id }, include: withProvider });
    return teamView(row);
  }

  /** Deletes a team with its provider, flows and messages. */
  async remove(tenantSlug: string, teamSlug: string): Promise<void> {
    const { tenant, team } = await this.scope.team(tenantSlug, teamSlug);
    await this.prisma.client.team.delete({ where: { id: team.id, tenantId: tenant.id } });
  }
}
