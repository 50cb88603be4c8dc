import { Injectable } from '@nestjs/common';
import { ApiKey, PrismaService } from '@gtc/db';
import { newApiKey, hashApiKey } from '../auth/api-key.hash';
import { notFound } from '../common/api-error';
import { Page, PageRequest, toPage } from '../common/pagination';
import { TenantScope } from '../common/tenant-scope.service';
import { isUuid } from '../common/validation';

/** An API key as listed: never any key material beyond its prefix. */
export function apiKeyView(k: ApiKey) {
  return { id: k.id, name: k.name, prefix: k.prefix, created_at: k.createdAt, last_used_at: k.lastUsedAt, revoked_at: k.revokedAt };
}

/** Tenant API keys: created (shown once), listed, revoked. Only SHA-256 hashes are stored. */
@Injectable()
export class ApiKeysService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly scope: TenantScope,
  ) {}

  /** Creates a key; the response is the only time the key is shown. */
  async create(tenantSlug: string, name?: string) {
    const tenant = await this.scope.tenant(tenantSlug);
    const { key, prefix } = newApiKey();
    const row = await this.prisma.client.apiKey.create({ data: { tenantId: tenant.id, name: name ?? null, prefix, hash: hashApiKey(key) } });
    return { ...apiKeyView(row), key };
  }

  /** The tenant's keys, newest first. */
  async list(tenantSlug: string, page: PageRequest): Promise<Page<ReturnType<typeof apiKeyView>>> {
    const tenant = await this.scope.tenant(tenantSlug);
    const rows = await this.prisma.client.apiKey.findMany({ where: { tenantId: tenant.id }, orderBy: [{ createdAt: 'desc' }, { id: 'asc' }], skip: page.skip, take: page.take + 1 });
    return toPage(rows, page, apiKeyView);
  }

  /** Revokes a key (it stops working at once); revoking twice is harmless. */
  async revoke(tenantSlug: string, id: string) {
    const tenant = await this.scope.tenant(tenantSlug);
    const row = isUuid(id) ? await this.prisma.client.apiKey.findFirst({ where: { id, tenantId: tenant.id } }) : null;
    if (!row) throw notFound(`API key ${id} not found`);
    const updated = row.revokedAt ? row : await this.prisma.client.apiKey.update({ where: { id: row.id }, data: { revokedAt: new Date() } });
    return apiKeyView(updated);
  }
}
