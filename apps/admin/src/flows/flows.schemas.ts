import { z } from 'zod';
import { MAX_FLOW_SOURCE, MAX_VARS_JSON_BYTES } from '@gtc/flows';
import { INT4_MAX, pgJsonObject, pgText } from '../common/validation';

/** Body of POST …/flows and …/flows/validate (JSON form; a text/yaml body is the source itself). */
export const uploadFlowSchema = z.strictObject({
  file_name: pgText().trim().min(1).max(255).optional(),
  source: pgText().min(1, 'must be the flow YAML').max(MAX_FLOW_SOURCE, `must be at most ${MAX_FLOW_SOURCE} characters`),
  activate: z.boolean().default(true),
});

/** Query of a text/yaml upload: `?file_name=…&activate=false`. */
export const uploadQuerySchema = z.object({
  file_name: pgText().trim().min(1).max(255).optional(),
  activate: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
});

/** Body of POST …/flows/:name/activate. */
export const activateFlowSchema = z.strictObject({ revision: z.number().int().min(1).max(INT4_MAX).optional() });

/** Query `?revision=` of GET/DELETE …/flows/:name (a flow revision is an int4 column). */
export const revisionQuerySchema = z.object({ revision: z.coerce.number().int().min(1).max(INT4_MAX).optional() });

/**
 * Variables handed to a flow start: a JSON object Postgres can store, bounded like the session variables the flow
 * engine accepts (MAX_VARS_JSON_BYTES, measured as serialized JSON characters).
 */
export const flowVariablesSchema = pgJsonObject(MAX_VARS_JSON_BYTES);

/** A recipient: the WhatsApp id (phone number with country code, digits, optional leading +). */
export const waIdSchema = z
  .string()
  .trim()
  .regex(/^\+?[0-9]{5,20}$/, 'must be a phone number with country code, digits only (e.g. 4915112345678)')
  .transform((v) => v.replace(/^\+/, ''));

/** Body of POST …/teams/:team/flows/:name/start. */
export const startFlowSchema = z.strictObject({
  to: waIdSchema,
  variables: flowVariablesSchema.default({}),
});

/** Body of POST /v1/tenants/:tenant/flows/start. */
export const startFlowByTenantSchema = z.strictObject({
  team: pgText().min(1).max(200),
  flow: pgText().min(1).max(200),
  to: waIdSchema,
  variables: flowVariablesSchema.default({}),
});
