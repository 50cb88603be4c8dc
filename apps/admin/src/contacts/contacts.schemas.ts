import { z } from 'zod';
import { pgText } from '../common/validation';
import { apiModel } from '../docs/api-doc';

/** Query of GET /v1/tenants/:tenant/contacts. */
export const contactQuerySchema = z.object({
  q: pgText().trim().min(1).max(200).optional().meta({
    description: 'Search wa_id, user_id (BSUID) and name at once (substring; name case-insensitive).',
  }),
  wa_id: pgText()
    .trim()
    .min(1)
    .max(32)
    .optional()
    .meta({ description: 'Exactly this WhatsApp number (a leading + is ignored).' }),
  user_id: pgText()
    .trim()
    .min(1)
    .max(128)
    .optional()
    .meta({ description: 'Exactly this business-scoped user id (BSUID).' }),
  name: pgText()
    .trim()
    .min(1)
    .max(200)
    .optional()
    .meta({ description: 'Profile name contains (case-insensitive).' }),
  team: pgText().min(1).max(200).optional().meta({ description: "The team's slug." }),
  sort: z.enum(['created', 'activity']).default('created').meta({
    description:
      'created: newest contacts first; activity: the latest conversation first (a message in or out, an opt-out, …).',
  }),
  opted_out: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional()
    .meta({ description: 'Only contacts that opted out (true) or did not (false).' }),
});

/** A contact as the API shows it: opt-out, 24-hour window and session state. */
export const contactSchema = z.object({
  id: z.uuid(),
  team: z
    .string()
    .nullable()
    .meta({ description: 'The slug of the team whose number the contact talks to.' }),
  wa_id: z.string().nullable().meta({ example: '4915112345678' }),
  user_id: z
    .string()
    .nullable()
    .meta({ description: 'Business-scoped user id (BSUID), when Meta sent one.' }),
  name: z.string().nullable().meta({ description: 'WhatsApp profile name.' }),
  last_inbound_at: z.date().nullable(),
  window_open: z.boolean().meta({
    description: 'Whether the 24-hour customer-service window is open (free-form messages allowed).',
  }),
  window_expires_at: z.date().nullable(),
  opted_out: z.boolean(),
  opted_out_at: z.date().nullable(),
  session: z
    .object({
      status: z
        .string()
        .meta({ description: 'idle, waiting (at a wait node) or handoff (a human has the conversation).' }),
      flow_id: z.string().nullable(),
      node_id: z.string().nullable(),
      vars: z.unknown().meta({ description: "The flow's session variables." }),
      last_error: z.string().nullable(),
      updated_at: z.date(),
    })
    .nullable()
    .meta({ description: 'The flow session, once a flow has run for the contact.' }),
  created_at: z.date(),
  updated_at: z.date(),
});

/** The answer schema of a contact, in the document. */
export const ContactModel = apiModel('Contact', contactSchema);
