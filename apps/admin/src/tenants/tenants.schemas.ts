import { z } from 'zod';
import { pgText, slugSchema } from '../common/validation';
import { apiModel } from '../docs/api-doc';

/** Body of POST /v1/tenants. */
export const createTenantSchema = z.strictObject({
  slug: slugSchema,
  name: pgText().trim().min(1).max(200).optional(),
}).meta({ example: { slug: 'acme', name: 'Acme Inc.' } });

/** Body of PATCH /v1/tenants/:tenant. */
export const updateTenantSchema = z.strictObject({
  slug: slugSchema.optional(),
  name: pgText().trim().min(1).max(200).optional(),
});

/** A tenant as the API shows it. */
export const tenantSchema = z.object({
  id: z.uuid(),
  slug: z.string().meta({ example: 'acme' }),
  name: z.string().meta({ example: 'Acme Inc.' }),
  created_at: z.date(),
  updated_at: z.date(),
});

/** The answer schema of a tenant, in the document. */
export const TenantModel = apiModel('Tenant', tenantSchema);
