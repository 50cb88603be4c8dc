import { z } from 'zod';
import { waIdSchema } from '../flows/flows.schemas';
import { pgJsonObject, pgText } from '../common/validation';
import { apiModel, apiPage, apiUnion } from '../docs/api-doc';

/** Largest reply content, as JSON characters: far above any valid WhatsApp message (text bodies are at most 4096). */
export const MAX_CONTENT_JSON = 64 * 1024;

/** Body of POST /v1/tenants/:tenant/messages: reply content as in a flow's reply node. */
export const sendMessageSchema = z
  .strictObject({
    team: pgText().min(1).max(200).meta({ description: "The slug of the team whose number sends it." }),
    to: waIdSchema.meta({ description: "The recipient's WhatsApp number (wa_id)." }),
    content: pgJsonObject(MAX_CONTENT_JSON).meta({
      description:
        "What to send, as a flow's reply node says it: `message` (text), `template`, `interactive` (buttons or a list, the Graph API's shape), `media` or `location`.",
    }),
    retry_on_rate_limit: z.boolean().default(true).meta({ description: "Wait and retry when Meta's rate limits refuse it (false: fail at once)." }),
  })
  .meta({ example: { team: 'support', to: '4915112345678', content: { message: 'Your order has shipped.' } } });

/** Query of GET /v1/tenants/:tenant/messages. */
export const messageQuerySchema = z.object({
  direction: z.enum(['outbound', 'inbound']).default('outbound').meta({ description: 'Messages we sent (outbound) or received (inbound).' }),
  state: z
    .string()
    .regex(/^[a-z_]+(,[a-z_]+)*$/, 'comma-separated states, e.g. queued,failed')
    .optional()
    .meta({ description: 'Comma-separated states, e.g. `queued,failed`.' }),
  contact: z.uuid('must be a contact id').optional().meta({ description: "The contact's id." }),
  team: pgText().min(1).max(200).optional().meta({ description: "The team's slug." }),
  since: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }).optional().meta({ description: 'Created (received) at or after.' }),
  until: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }).optional().meta({ description: 'Created (received) before.' }),
});

/** A message we send, as the API shows it. */
export const outboundMessageSchema = z.object({
  id: z.uuid(),
  direction: z.literal('outbound'),
  contact_id: z.uuid(),
  seq: z.number().int().meta({ description: "Its place in the contact's sequence (sent in this order)." }),
  type: z.string().meta({ example: 'text' }),
  body: z.unknown().meta({ description: 'The Graph API message body.' }),
  state: z.string().meta({ description: 'queued, sending, sent, delivered, read, failed, …' }),
  wamid: z.string().nullable().meta({ description: "Meta's message id, once sent." }),
  business_initiated: z.boolean(),
  retry_on_rate_limit: z.boolean(),
  attempts: z.number().int(),
  error: z.object({ class: z.string().nullable(), code: z.number().int().nullable(), message: z.string().nullable() }).nullable(),
  cause_id: z.string().nullable().meta({ description: 'What caused it: the inbound message, flow start or API request (`api:…`).' }),
  created_at: z.date(),
  next_attempt_at: z.date().nullable(),
  sending_at: z.date().nullable(),
  sent_at: z.date().nullable(),
  delivered_at: z.date().nullable(),
  read_at: z.date().nullable(),
  failed_at: z.date().nullable(),
  updated_at: z.date(),
});

/** A message we received, as the API shows it. */
export const inboundMessageSchema = z.object({
  id: z.uuid(),
  direction: z.literal('inbound'),
  contact_id: z.uuid().nullable(),
  wamid: z.string(),
  type: z.string().meta({ example: 'text' }),
  payload: z.unknown().meta({ description: 'The message as received (normalized).' }),
  state: z.string().meta({ description: 'pending, processing, done, failed, …' }),
  error: z.string().nullable(),
  flow_run: z.unknown().meta({ description: 'What the flows did with it.' }),
  sent_at: z.date().nullable(),
  received_at: z.date(),
  processed_at: z.date().nullable(),
  has_media: z.boolean().meta({ description: 'Whether `GET …/messages/{id}/media` serves its media.' }),
  problems: z.array(z.unknown()).meta({ description: 'What could not be read in the message (the rest is shown as received).' }),
  group_id: z.string().nullable().meta({ description: 'The WhatsApp group it was written in, if any (flows do not answer groups).' }),
  original_wamid: z.string().nullable().meta({ description: 'For an edit or a revoke: the wamid of the message it changes.' }),
  edited_at: z.date().nullable(),
  revoked_at: z.date().nullable(),
});

/** A status webhook of an outbound message, in its timeline. */
const statusSchema = z.object({
  status: z.string().meta({ description: 'sent, delivered, read, failed, …' }),
  timestamp: z.date().nullable(),
  received_at: z.date(),
  applied_at: z.date().nullable(),
  recipient_id: z.string().nullable(),
  errors: z.unknown().meta({ description: "Meta's errors, for a failed status." }),
});

/** One outbound message with its status timeline, in order. */
export const outboundDetailSchema = outboundMessageSchema.extend({
  timeline: z.array(statusSchema),
  errors: z.array(z.object({ status: z.string(), timestamp: z.date().nullable(), errors: z.unknown() })),
});

/** One inbound message with its edits and revokes and, for an edit or a revoke, the message it changes. */
export const inboundDetailSchema = inboundMessageSchema.extend({
  changes: z.array(
    z.object({ id: z.uuid(), wamid: z.string(), type: z.string(), text: z.string().nullable(), sent_at: z.date().nullable(), received_at: z.date() }),
  ),
  original_id: z.uuid().nullable(),
});

/** The answer of POST …/messages. */
export const sendResultSchema = z.object({
  created: z.boolean().meta({ description: 'false when the Idempotency-Key had sent it already (the first message is returned).' }),
  message: outboundMessageSchema,
  warning: z.string().optional().meta({ description: 'E.g. the 24-hour window is closed: Meta accepts only templates.' }),
});

/** The answer schemas of messages, in the document. */
const OutboundModel = apiModel('OutboundMessage', outboundMessageSchema);
const InboundModel = apiModel('InboundMessage', inboundMessageSchema);
export const MessagePageModel = apiPage(apiUnion('Message', 'direction', { outbound: OutboundModel, inbound: InboundModel }));
export const MessageDetailModel = apiUnion('MessageDetail', 'direction', {
  outbound: apiModel('OutboundMessageDetail', outboundDetailSchema),
  inbound: apiModel('InboundMessageDetail', inboundDetailSchema),
});
export const SendResultModel = apiModel('SendResult', sendResultSchema);
