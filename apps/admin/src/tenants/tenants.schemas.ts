import { z } from 'zod';
import { pgText, slugSchema } from '../common/validation';

/** Body of POST /v1/tenants. */
export const createTenantSchema = z.strictObject({
  slug: slugSchema,
  name: pgText().trim().min(1).max(200).optional(),
});

/** Body of PATCH /v1/tenants/:tenant. */
export const updateTenantSchema = z.strictObject({
  slug: slugSchema.optional(),
  name: pgText().trim().min(1).max(200).optional(),
});
