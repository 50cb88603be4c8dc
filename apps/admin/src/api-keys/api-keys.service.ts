import { Injectable } from '@nestjs/common';
import { ApiKey, PrismaService } from '@gtc/db';
import { z } from 'zod';
import { newApiKey, hashApiKey } from '../auth/api-key.hash';
import { notFound } from '../common/api-error';
import { keysetPage, Page, PageRequest, SortOrder, toPage } from '../common/pagination';
import { TenantScopeService } from '../common/tenant-scope.service';
import { isUuid } from '../common/validation';
import { apiKeySchema, apiKeyWithSecretSchema } from './api-keys.schemas';

/** An API key as listed: never any key material beyond its prefix. */
export function apiKeyView(k: ApiKey): z.input<typeof apiKeySchema> {
  return { id: k.id, name: k.name, prefix: k.prefix, created_at: k.createdAt, last_used_at: k.lastUsedAt, revoked_at: k.revokedAt };
}

/** The order of the key list: newest first. */
const API_KEY_ORDER: SortOrder<'createdAt' | 'id'> = [
  ['createdAt', 'desc', 'date'],
  ['id', 'asc', 'uuid'],
];

/** Tenant API keys: created (shown once), listed, revoked. Only SHA-256 hashes are stored. */
@Injectable()
export class ApiKeysService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly scope: TenantScopeService,
  ) {}

  /** Creates a key; the response is the only time the key is shown. */
  async create(tenantSlug: string, name?: string): Promise<z.input<typeof apiKeyWithSecretSchema>> {
    const tenant = await this.scope.tenant(tenantSlug);
    const { key, prefix } = newApiKey();
    const row = await this.prisma.client.apiKey.create({ data: { tenantId: tenant.id, name: name ?? null, prefix, hash: hashApiKey(key) } });
    return { ...apiKeyView(row), key };
  }

  /** The tenant's keys, newest first. */
  async list(tenantSlug: string, page: PageRequest): Promise<Page<ReturnType<typeof apiKeyView>>> {
    const tenant = await this.scope.tenant(tenantSlug);
    const k = keysetPage(API_KEY_ORDER, page);
    const rows = await this.prisma.client.apiKey.findMany({ ...k, where: { AND: [{ tenantId: tenant.id }, k.where] } });
    return toPage(rows, page, API_KEY_ORDER, apiKeyView);
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
