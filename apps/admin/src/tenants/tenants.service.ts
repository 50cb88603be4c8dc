import { Injectable } from '@nestjs/common';
import { PrismaService, Tenant } from '@gtc/db';
import { z } from 'zod';
import { conflict } from '../common/api-error';
import { keysetPage, Page, PageRequest, SortOrder, toPage } from '../common/pagination';
import { TenantScopeService } from '../common/tenant-scope.service';
import { createTenantSchema, tenantSchema, updateTenantSchema } from './tenants.schemas';

/** A tenant as the API shows it. */
export function tenantView(t: Tenant): z.input<typeof tenantSchema> {
  return { id: t.id, slug: t.slug, name: t.name, created_at: t.createdAt, updated_at: t.updatedAt };
}

/** The order of the tenant list: newest first. */
const TENANT_ORDER: SortOrder<'createdAt' | 'id'> = [
  ['createdAt', 'desc', 'date'],
  ['id', 'asc', 'uuid'],
];

/** Tenants: create, list, read, rename, delete. */
@Injectable()
export class TenantsService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly scope: TenantScopeService,
  ) {}

  /** Creates a tenant; 409 if the slug is taken. */
  async create(input: z.output<typeof createTenantSchema>) {
    const exists = await this.prisma.client.tenant.findUnique({ where: { slug: input.slug } });
    if (exists) throw conflict(`tenant '${input.slug}' already exists`);
    return tenantView(await this.prisma.client.tenant.create({ data: { slug: input.slug, name: input.name ?? input.slug } }));
  }

  /** All tenants, newest first. */
  async list(page: PageRequest): Promise<Page<ReturnType<typeof tenantView>>> {
    const rows = await this.prisma.client.tenant.findMany(keysetPage(TENANT_ORDER, page));
    return toPage(rows, page, TENANT_ORDER, tenantView);
  }

  /** One tenant. */
  async get(slug: string) {
    return tenantView(await this.scope.tenant(slug));
  }

  /** Renames a tenant (name and/or slug); writes nothing when nothing changes. */
  async update(slug: string, input: z.output<typeof updateTenantSchema>) {
    const tenant = await this.scope.tenant(slug);
    const data: { slug?: string; name?: string } = {};
    if (input.slug !== undefined && input.slug !== tenant.slug) {
      if (await this.prisma.client.tenant.findUnique({ where: { slug: input.slug } })) throw conflict(`tenant '${input.slug}' already exists`);
      data.slug = input.slug;
    }
    if (input.name !== undefined && input.name !== tenant.name) data.name = input.name;
    if (!Object.keys(data).length) return tenantView(tenant);
    return tenantView(await this.prisma.client.tenant.update({ where: { id: tenant.id }, data }));
  }

  /** Deletes a tenant and everything it owns. */
  async remove(slug: string): Promise<void> {
    const tenant = await this.scope.tenant(slug);
    await this.prisma.client.tenant.delete({ where: { id: tenant.id } });
  }
}
