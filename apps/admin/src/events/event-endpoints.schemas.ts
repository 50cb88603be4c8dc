import { EVENT_TYPES } from '@gtc/db';
import { z } from 'zod';
import { pgText, slugSchema } from '../common/validation';

/** Longest endpoint URL. */
export const MAX_URL_LENGTH = 2048;

/** Largest page of GET …/deliveries. */
export const MAX_DELIVERIES_PAGE = 100;

/**
 * Where an endpoint URL breaks the rules, or null: absolute http(s), at most MAX_URL_LENGTH characters, no user or
 * password in it, and https only when `httpsOnly` (production). Addresses are checked by the dispatcher at every
 * attempt (DNS may change), not here.
 */
export function urlProblem(value: string, httpsOnly: boolean): string | null {
  if (value.length > MAX_URL_LENGTH) return `must be at most ${MAX_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute http(s) URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an absolute http(s) URL';
  if (!url.hostname) return 'must be an absolute http(s) URL with a host';
  if (url.username || url.password) return 'must not contain a user name or password';
  if (httpsOnly && url.protocol !== 'https:') return 'must be https (NODE_ENV=production)';
  return null;
}

/** The endpoint URL (the https rule is applied by the service, which knows NODE_ENV). */
const urlSchema = pgText()
  .trim()
  .min(1, 'required')
  .superRefine((value, ctx) => {
    const problem = urlProblem(value, false);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** Subscribed event types: one or more of EVENT_TYPES (duplicates dropped), or exactly `["*"]` for all. */
const eventsSchema = z
  .array(z.string())
  .min(1, 'must list at least one event type (or ["*"] for all)')
  .max(EVENT_TYPES.length + 1)
  .superRefine((types, ctx) => {
    if (types.includes('*') && types.length > 1) {
      ctx.addIssue({ code: 'custom', message: '"*" (all events) must be alone: ["*"]' });
      return;
    }
    types.forEach((t, i) => {
      if (t !== '*' && !(EVENT_TYPES as readonly string[]).includes(t)) {
        ctx.addIssue({ code: 'custom', path: [i], message: `unknown event type; one of ${EVENT_TYPES.join(', ')} or "*"` });
      }
    });
  })
  .transform((types) => [...new Set(types)]);

const descriptionSchema = pgText().max(500);

/** Body of POST /v1/tenants/:tenant/event-endpoints. */
export const createEndpointSchema = z.strictObject({
  url: urlSchema,
  events: eventsSchema,
  team: slugSchema.nullable().optional(),
  description: descriptionSchema.nullable().optional(),
});

/** Body of PATCH /v1/tenants/:tenant/event-endpoints/:id (enabled: true also clears an automatic disable). */
export const updateEndpointSchema = z.strictObject({
  url: urlSchema.optional(),
  events: eventsSchema.optional(),
  enabled: z.boolean().optional(),
  description: descriptionSchema.nullable().optional(),
});

/** Query of GET /v1/tenants/:tenant/event-endpoints/:id/deliveries: newest first, keyset cursor. */
export const deliveriesQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_DELIVERIES_PAGE).default(50),
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a next_cursor value')
    .optional(),
  state: z.enum(['pending', 'delivered', 'failed']).optional(),
});

/** A parsed create body. */
export type CreateEndpointInput = z.output<typeof createEndpointSchema>;
/** A parsed PATCH body. */
export type UpdateEndpointInput = z.output<typeof updateEndpointSchema>;
/** A parsed deliveries query. */
export type DeliveriesQuery = z.output<typeof deliveriesQuerySchema>;
