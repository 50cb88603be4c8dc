import { z } from 'zod';
import { pgText, slugSchema } from '../common/validation';

/** Body of POST /v1/tenants/:tenant/teams. */
export const createTeamSchema = z.strictObject({
  slug: slugSchema,
  name: pgText().trim().min(1).max(200).optional(),
});

/** Body of PATCH /v1/tenants/:tenant/teams/:team. */
export const updateTeamSchema = z.strictObject({
  slug: slugSchema.optional(),
  name: pgText().trim().min(1).max(200).optional(),
});
