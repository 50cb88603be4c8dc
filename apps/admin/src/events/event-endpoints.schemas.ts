import { EVENT_ATTEMPT_LOG_MAX, EVENT_TYPES } from '@gtc/db';
import { z } from 'zod';
import { pgText, slugSchema } from '../common/validation';
import { apiModel } from '../docs/api-doc';

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
  .transform((types) => [...new Set(types)])
  .meta({ description: `The event types to send: one or more of ${EVENT_TYPES.join(', ')}; or \`["*"]\` for all.` });

const descriptionSchema = pgText().max(500);

/** Body of POST /v1/tenants/:tenant/event-endpoints. */
export const createEndpointSchema = z
  .strictObject({
    url: urlSchema.meta({ description: 'Where events are POSTed: an absolute http(s) URL without user or password (https with NODE_ENV=production).' }),
    events: eventsSchema,
    team: slugSchema.nullable().optional().meta({ description: "Only this team's events (its slug); left out or null: every team's." }),
    description: descriptionSchema.nullable().optional(),
  })
  .meta({ example: { url: 'https://hooks.example.com/gtc', events: ['message.received', 'message.failed'], team: 'support', description: 'CRM sync' } });

/** Body of PATCH /v1/tenants/:tenant/event-endpoints/:id (enabled: true also clears an automatic disable). */
export const updateEndpointSchema = z.strictObject({
  url: urlSchema.optional(),
  events: eventsSchema.optional(),
  enabled: z.boolean().optional().meta({ description: '`false` stops deliveries; `true` resumes them and clears an automatic disable.' }),
  description: descriptionSchema.nullable().optional(),
});

/** Query of GET /v1/tenants/:tenant/event-endpoints/:id/deliveries: newest first, keyset cursor. */
export const deliveriesQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_DELIVERIES_PAGE).default(50).meta({ description: `Deliveries per page (at most ${MAX_DELIVERIES_PAGE}).` }),
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a next_cursor value')
    .optional()
    .meta({ description: "The previous page's `next_cursor`." }),
  state: z.enum(['pending', 'delivered', 'failed']).optional().meta({ description: 'Only the deliveries in this state.' }),
});

/** A parsed create body. */
export type CreateEndpointInput = z.output<typeof createEndpointSchema>;
/** A parsed PATCH body. */
export type UpdateEndpointInput = z.output<typeof updateEndpointSchema>;
/** A parsed deliveries query. */
export type DeliveriesQuery = z.output<typeof deliveriesQuerySchema>;

/** The event types an endpoint may subscribe to (`*`: all). */
const subscribedType = z.enum([...EVENT_TYPES, '*']);

/** An event endpoint as the API shows it: never its secret. */
export const eventEndpointSchema = z.object({
  id: z.uuid(),
  url: z.string().meta({ example: 'https://hooks.example.com/gtc' }),
  description: z.string().nullable(),
  events: z.array(subscribedType).meta({ description: 'The event types sent to it; `["*"]`: all.' }),
  team: z.string().nullable().meta({ description: "Only this team's events (its slug); null: every team's." }),
  enabled: z.boolean(),
  disabled_at: z.date().nullable(),
  disabled_reason: z.string().nullable().meta({ description: 'Why it was disabled: through the API, or automatically (410 Gone, or failing for days).' }),
  failing_since: z.date().nullable().meta({ description: 'Since when every delivery fails (cleared by a 2xx answer); failing for EVENT_DISABLE_AFTER_MS (3 days by default) disables it.' }),
  previous_secret_expires_at: z
    .date()
    .nullable()
    .meta({ description: 'Until when the secret before the last rotation still signs deliveries too; null when none does.' }),
  created_at: z.date(),
  updated_at: z.date(),
});

/** An endpoint with its signing secret: the answer of create and rotate-secret, the only times the secret is shown. */
export const eventEndpointWithSecretSchema = eventEndpointSchema.extend({
  secret: z.string().meta({
    description: 'The signing secret (Standard Webhooks): shown only in this answer; store it to verify the `webhook-signature` header.',
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  }),
});

/** The types of events a delivery may carry (`ping`: a test). */
const deliveredType = z.enum([...EVENT_TYPES, 'ping']);

/** One delivery of an event to an endpoint: the event, its state and its latest attempts. */
export const eventDeliverySchema = z.object({
  id: z.string().meta({ description: 'The event id, as in the `webhook-id` header.', example: 'evt_2b7f0c4e9d3a4f1b8c6e5d4a3b2c1d0e' }),
  type: deliveredType,
  created_at: z.date().meta({ description: 'When the event happened.' }),
  contact_id: z.uuid().nullable().meta({ description: 'The contact it concerns; null for number-wide events.' }),
  data: z.record(z.string(), z.unknown()).meta({ description: 'The `data` of the delivered body; its shape depends on `type`.' }),
  state: z.enum(['pending', 'delivered', 'failed']).meta({
    description: '`pending`: waiting for its (next) attempt; `delivered`: a 2xx answer came; `failed`: the retries ran out or the endpoint was disabled (retry by hand).',
  }),
  attempt_count: z.number().int(),
  next_attempt_at: z.date().nullable().meta({ description: 'When it is attempted next; null unless pending.' }),
  last_attempt_at: z.date().nullable(),
  delivered_at: z.date().nullable(),
  failed_at: z.date().nullable(),
  last_status: z.number().int().nullable().meta({ description: "The endpoint's HTTP status at the last attempt; null when none came." }),
  last_error: z.string().nullable(),
  attempts: z
    .array(
      z.object({
        at: z.date(),
        status_code: z.number().int().nullable().meta({ description: 'Null when no answer came (timeout, refused connection, refused address).' }),
        latency_ms: z.number().int(),
        error: z.string().nullable(),
      }),
    )
    .meta({ description: `The last ${EVENT_ATTEMPT_LOG_MAX} attempts, oldest first (\`attempt_count\` counts every one).` }),
});

/** The answer of a retry. */
export const eventDeliveryRetrySchema = z.object({
  id: z.string().meta({ description: 'The event id.' }),
  state: z.enum(['pending', 'failed']).meta({ description: '`pending`: due now (or being attempted, see `in_flight`).' }),
  next_attempt_at: z.date(),
  in_flight: z
    .boolean()
    .optional()
    .meta({ description: 'Present when nothing was changed; true: an attempt is under way, and it is left to finish.' }),
});

/** The answer of a test: the ping event recorded for the endpoint. */
export const eventPingSchema = z.object({
  id: z.string().meta({ description: 'The event id (`evt_…`); its delivery shows in GET …/deliveries.' }),
  type: z.literal('ping'),
  endpoint: z.uuid().meta({ description: 'The endpoint it goes to.' }),
});

/** The answer schemas of event endpoints, in the document. */
export const EventEndpointModel = apiModel('EventEndpoint', eventEndpointSchema);
export const EventEndpointWithSecretModel = apiModel('EventEndpointWithSecret', eventEndpointWithSecretSchema);
export const EventDeliveryModel = apiModel('EventDelivery', eventDeliverySchema);
export const EventDeliveryRetryModel = apiModel('EventDeliveryRetry', eventDeliveryRetrySchema);
export const EventPingModel = apiModel('EventPing', eventPingSchema);
