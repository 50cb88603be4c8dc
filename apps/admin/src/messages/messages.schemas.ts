import { z } from 'zod';
import { waIdSchema } from '../flows/flows.schemas';

/** Body of POST /v1/tenants/:tenant/messages: reply content as in a flow's reply node. */
export const sendMessageSchema = z.strictObject({
  team: z.string().min(1),
  to: waIdSchema,
  content: z.record(z.string(), z.unknown()),
  retry_on_rate_limit: z.boolean().default(true),
});

/** Query of GET /v1/tenants/:tenant/messages. */
export const messageQuerySchema = z.object({
  direction: z.enum(['outbound', 'inbound']).default('outbound'),
  state: z.string().regex(/^[a-z_]+(,[a-z_]+)*$/, 'comma-separated states, e.g. queued,failed').optional(),
  contact: z.uuid('must be a contact id').optional(),
  team: z.string().min(1).optional(),
  since: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }).optional(),
  until: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }).optional(),
});
