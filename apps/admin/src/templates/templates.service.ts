import { Injectable } from '@nestjs/common';
import { MessageTemplate, Prisma, PrismaService } from '@gtc/db';
import { z } from 'zod';
import { ApiError, conflict } from '../common/api-error';
import { keysetPage, Page, PageRequest, SortOrder, toPage } from '../common/pagination';
import { TenantScopeService } from '../common/tenant-scope.service';
import { GraphApiError } from '@gtc/whatsapp';
import { GraphApiClient } from '@gtc/whatsapp/graph-api.client';
import { ProviderService } from '../providers/provider.service';
import { SyncedTemplate } from './template-check';
import { templateSchema, templateSyncSchema } from './templates.schemas';

/** A synced template as the API shows it. */
export function templateView(t: MessageTemplate): z.input<typeof templateSchema> {
  return { id: t.id, name: t.name, language: t.language, status: t.status, category: t.category, components: t.components, synced_at: t.syncedAt };
}

/** The order of the template list: by name, then language (unique per number). */
const TEMPLATE_ORDER: SortOrder<'name' | 'language'> = [
  ['name', 'asc', 'text'],
  ['language', 'asc', 'text'],
];

/** The team's message templates: synced from the Graph API, listed, and handed to the template check. */
@Injectable()
export class TemplatesService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly scope: TenantScopeService,
    private readonly graph: GraphApiClient,
    private readonly providers: ProviderService,
  ) {}

  /** Replaces the team's templates with the Graph API's current list (GET /{business_account_id}/message_templates). */
  async sync(tenantSlug: string, teamSlug: string): Promise<z.input<typeof templateSyncSchema>> {
    const { tenant, provider } = await this.scope.provider(tenantSlug, teamSlug);
    if (!provider.businessAccountId) throw conflict('the provider has no business_account_id: set it to sync templates', 'business_account_id_missing');
    let list;
    try {
      list = await this.graph.listTemplates({
        apiVersion: provider.apiVersion,
        businessAccountId: provider.businessAccountId,
        accessToken: this.providers.reveal(provider.accessTokenEnc),
      });
    } catch (err) {
      if (err instanceof GraphApiError) throw new ApiError(502, 'graph_api_error', `template sync failed: ${err.message}`);
      throw err;
    }
    const seen = new Map<string, (typeof list)[number]>();
    for (const t of list) if (t?.name && t.language) seen.set(`${t.name}\u0000${t.language}`, t);
    const now = new Date();
    await this.prisma.client.$transaction(async (tx) => {
      await tx.messageTemplate.deleteMany({ where: { providerId: provider.id, tenantId: tenant.id } });
      if (seen.size) {
        await tx.messageTemplate.createMany({
          data: [...seen.values()].map((t) => ({
            tenantId: tenant.id,
            providerId: provider.id,
            name: t.name,
            language: t.language,
            status: String(t.status ?? 'UNKNOWN'),
            category: t.category ?? null,
            components: (t.components ?? []) as Prisma.InputJsonValue,
            syncedAt: now,
          })),
        });
      }
      await tx.whatsAppProvider.update({ where: { id: provider.id }, data: { templatesSyncedAt: now } });
    });
    return { synced: seen.size, synced_at: now };
  }

  /** The team's synced templates. */
  async list(tenantSlug: string, teamSlug: string, page: PageRequest): Promise<Page<z.input<typeof templateSchema>>> {
    const { tenant, provider } = await this.scope.provider(tenantSlug, teamSlug);
    const k = keysetPage(TEMPLATE_ORDER, page);
    const rows = await this.prisma.client.messageTemplate.findMany({ ...k, where: { AND: [{ providerId: provider.id, tenantId: tenant.id }, k.where] } });
    return toPage(rows, page, TEMPLATE_ORDER, templateView);
  }

  /** The synced templates of a team for the check; null when the team has no provider or never synced. */
  async forCheck(tenantId: string, teamId: string): Promise<SyncedTemplate[] | null> {
    const provider = await this.prisma.client.whatsAppProvider.findFirst({ where: { teamId, tenantId } });
    if (!provider?.templatesSyncedAt) return null;
    const rows = await this.prisma.client.messageTemplate.findMany({ where: { providerId: provider.id, tenantId } });
    return rows.map((r) => ({ name: r.name, language: r.language, status: r.status, components: r.components }));
  }
}
