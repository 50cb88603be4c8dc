import { z } from 'zod';

/** Body of POST …/flows and …/flows/validate (JSON form; a text/yaml body is the source itself). */
export const uploadFlowSchema = z.strictObject({
  file_name: z.string().trim().min(1).max(255).optional(),
  source: z.string().min(1, 'must be the flow YAML'),
  activate: z.boolean().default(true),
});

/** Query of a text/yaml upload: `?file_name=…&activate=false`. */
export const uploadQuerySchema = z.object({
  file_name: z.string().trim().min(1).max(255).optional(),
  activate: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
});

/** Body of POST …/flows/:name/activate. */
export const activateFlowSchema = z.strictObject({ revision: z.number().int().min(1).optional() });

/** A recipient: the WhatsApp id (phone number with country code, digits, optional leading +). */
export const waIdSchema = z
  .string()
  .trim()
  .regex(/^\+?[0-9]{5,20}$/, 'must be a phone number with country code, digits only (e.g. 4915112345678)')
  .transform((v) => v.replace(/^\+/, ''));

/** Body of POST …/teams/:team/flows/:name/start. */
export const startFlowSchema = z.strictObject({
  to: waIdSchema,
  variables: z.record(z.string(), z.unknown()).default({}),
});

/** Body of POST /v1/tenants/:tenant/flows/start. */
export const startFlowByTenantSchema = z.strictObject({
  team: z.string().min(1),
  flow: z.string().min(1),
  to: waIdSchema,
  variables: z.record(z.string(), z.unknown()).default({}),
});
