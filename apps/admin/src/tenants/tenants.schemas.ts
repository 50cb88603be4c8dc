import { z } from 'zod';
import { slugSchema } from '../common/validation';

/** Body of POST /v1/tenants. */
export const createTenantSchema = z.strictObject({
  slug: slugSchema,
  name: z.string().trim().min(1).max(200).optional(),
});

/** Body of PATCH /v1/tenants/:tenant. */
export const updateTenantSchema = z.strictObject({
  slug: slugSchema.optional(),
  name: z.string().trim().min(1).max(200).optional(),
});
