import { z } from 'zod';
import { pgText, slugSchema } from '../common/validation';
import { apiModel } from '../docs/api-doc';

/** Body of POST /v1/tenants/:tenant/teams. */
export const createTeamSchema = z.strictObject({
  slug: slugSchema,
  name: pgText().trim().min(1).max(200).optional(),
}).meta({ example: { slug: 'support', name: 'Customer support' } });

/** Body of PATCH /v1/tenants/:tenant/teams/:team. */
export const updateTeamSchema = z.strictObject({
  slug: slugSchema.optional(),
  name: pgText().trim().min(1).max(200).optional(),
});

/** A team as the API shows it. */
export const teamSchema = z.object({
  id: z.uuid(),
  slug: z.string().meta({ example: 'support' }),
  name: z.string(),
  has_provider: z.boolean().meta({ description: 'Whether the team has a WhatsApp number (PUT …/provider).' }),
  phone_number_id: z.string().nullable().meta({ description: "Meta's id of the team's number." }),
  created_at: z.date(),
  updated_at: z.date(),
});

/** The answer schema of a team, in the document. */
export const TeamModel = apiModel('Team', teamSchema);
