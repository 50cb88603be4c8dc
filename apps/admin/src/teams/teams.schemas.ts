import { z } from 'zod';
import { slugSchema } from '../common/validation';

/** Body of POST /v1/tenants/:tenant/teams. */
export const createTeamSchema = z.strictObject({
  slug: slugSchema,
  name: z.string().trim().min(1).max(200).optional(),
});

/** Body of PATCH /v1/tenants/:tenant/teams/:team. */
export const updateTeamSchema = z.strictObject({
  slug: slugSchema.optional(),
  name: z.string().trim().min(1).max(200).optional(),
});
