import { z } from 'zod';
import { waIdSchema } from '../flows/flows.schemas';
import { pgJsonObject, pgText } from '../common/validation';

/** Largest reply content, as JSON characters: far above any valid WhatsApp message (text bodies are at most 4096). */
export const MAX_CONTENT_JSON = 64 * 1024;

/** Body of POST /v1/tenants/:tenant/messages: reply content as in a flow's reply node. */
export const sendMessageSchema = z.strictObject({
  team: pgText().min(1).max(200),
  to: waIdSchema,
  content: pgJsonObject(MAX_CONTENT_JSON),
  retry_on_rate_limit: z.boolean().default(true),
});

/** Query of GET /v1/tenants/:tenant/messages. */
export const messageQuerySchema = z.object({
  direction: z.enum(['outbound', 'inbound']).default('outbound'),
  state: z.string().regex(/^[a-z_]+(,[a-z_]+)*$/, 'comma-separated states, e.g. queued,failed').optional(),
  contact: z.uuid('must be a contact id').optional(),
  team: pgText().min(1).max(200).optional(),
  since: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }).optional(),
  until: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }).optional(),
});
