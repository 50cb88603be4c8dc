import { z } from 'zod';
import { pgText } from '../common/validation';
import { apiModel } from '../docs/api-doc';

const httpUrl = pgText()
  .trim()
  .max(2048)
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'https:' || u.protocol === 'http:') && !u.search && !u.hash;
    } catch {
      return false;
    }
  }, 'must be an http(s) URL without query or fragment, e.g. https://your-domain.example')
  .transform((v) => v.replace(/\/+$/, ''));

/** A Graph API object id (phone number, WhatsApp Business Account): digits only, since it becomes a URL path segment. */
const graphId = (what: string) => z.string().trim().regex(/^[0-9]{1,32}$/, `must be the ${what} (1-32 digits)`);

/** A Graph API version as it appears in URLs: `v18.0`. */
export const apiVersionSchema = z.string().regex(/^v[0-9]{1,3}\.[0-9]{1,3}$/, 'must look like v18.0');

const keywords = z.array(pgText().trim().min(1).max(64)).max(50);

/** Every provider option (answers.json names), with the defaults of the provider page and ARCHITECTURE.md. */
export const providerFields = {
  enabled: z.boolean().meta({ description: 'Whether the number sends and receives through gtc.' }),
  public_base_url: httpUrl.meta({ description: 'Where Meta reaches gtc (no query or fragment); the webhook URL is built from it.' }),
  phone_number_id: graphId('WhatsApp phone number id').meta({
    description: "Meta's id of the number (digits). Checked with the Graph API against the access token whenever it or the token changes.",
  }),
  access_token: z
    .string()
    .trim()
    .regex(/^[\x21-\x7e]{1,4096}$/, 'must be the permanent access token (1-4096 printable ASCII characters, no spaces)')
    .meta({ description: 'Permanent Graph API access token. Write-only: answers show `***`; left out, the stored one is kept.' }),
  verify_token: pgText().min(1, 'must be a non-empty string of your choice').max(256).meta({ description: "Your choice; Meta echoes it when it verifies the webhook URL." }),
  business_account_id: graphId('WhatsApp Business Account id').nullable().meta({ description: 'The WhatsApp Business Account id; needed to sync templates.' }),
  api_version: apiVersionSchema.meta({ description: 'Graph API version used in URLs.' }),
  app_secret: pgText()
    .trim()
    .min(1)
    .max(512)
    .nullable()
    .meta({ description: "The Meta app's secret, which signs webhooks. Write-only: answers show `***` or null; left out, kept; null clears it." }),
  tier: z
    .union([z.enum(['1', '2', '3', 'unlimited']), z.literal(1), z.literal(2), z.literal(3)])
    .transform((v) => String(v) as '1' | '2' | '3' | 'unlimited')
    .meta({ description: "Meta's messaging limit tier of the number (numbers 1-3 are accepted too)." }),
  throughput_mps: z.number().int().min(1).max(1000).meta({ description: 'Messages per second the sender sends from this number at most.' }),
  ordering: z.enum(['delivered', 'sent', 'none']).meta({
    description: "Per-contact ordering: the next message waits until the previous one is `delivered` or `sent`, or does not wait (`none`).",
  }),
  ordering_timeout_ms: z.number().int().min(0).max(86_400_000).meta({ description: 'How long the next message waits for the previous one at most.' }),
  opt_out_keywords: keywords.meta({ description: 'An inbound message equal to one of them (case-insensitive) opts the contact out.' }),
  opt_in_keywords: keywords.meta({ description: 'An inbound message equal to one of them opts the contact back in.' }),
  opt_out_confirmation: pgText().min(1).max(4096).meta({ description: 'Sent to a contact who opted out by keyword.' }),
  opt_in_confirmation: pgText().min(1).max(4096).meta({ description: 'Sent to a contact who opted back in by keyword.' }),
  insecure_skip_signature: z.boolean().meta({ description: 'Accept unsigned webhooks: local development only (refused with NODE_ENV=production).' }),
};

/** Defaults applied by PUT for options left out. */
export const PROVIDER_DEFAULTS = {
  api_version: 'v18.0',
  tier: '1',
  throughput_mps: 80,
  ordering: 'delivered',
  ordering_timeout_ms: 30_000,
  opt_out_keywords: ['STOP', 'UNSUBSCRIBE'],
  opt_in_keywords: ['START'],
  opt_out_confirmation: 'You have been unsubscribed. Reply START to subscribe again.',
  opt_in_confirmation: 'You are subscribed again.',
  insecure_skip_signature: false,
} as const;

/**
 * Body of PUT …/provider: the required options of the provider page, the rest optional with defaults.
 * Secrets are write-only: left out, the stored value is kept (access_token is required only when creating); null clears app_secret.
 */
export const putProviderSchema = z.strictObject({
  enabled: providerFields.enabled,
  public_base_url: providerFields.public_base_url,
  phone_number_id: providerFields.phone_number_id,
  access_token: providerFields.access_token.optional(),
  verify_token: providerFields.verify_token,
  business_account_id: providerFields.business_account_id.optional(),
  api_version: providerFields.api_version.default(PROVIDER_DEFAULTS.api_version),
  app_secret: providerFields.app_secret.optional(),
  tier: providerFields.tier.default(PROVIDER_DEFAULTS.tier),
  throughput_mps: providerFields.throughput_mps.default(PROVIDER_DEFAULTS.throughput_mps),
  ordering: providerFields.ordering.default(PROVIDER_DEFAULTS.ordering),
  ordering_timeout_ms: providerFields.ordering_timeout_ms.default(PROVIDER_DEFAULTS.ordering_timeout_ms),
  opt_out_keywords: providerFields.opt_out_keywords.default([...PROVIDER_DEFAULTS.opt_out_keywords]),
  opt_in_keywords: providerFields.opt_in_keywords.default([...PROVIDER_DEFAULTS.opt_in_keywords]),
  opt_out_confirmation: providerFields.opt_out_confirmation.default(PROVIDER_DEFAULTS.opt_out_confirmation),
  opt_in_confirmation: providerFields.opt_in_confirmation.default(PROVIDER_DEFAULTS.opt_in_confirmation),
  insecure_skip_signature: providerFields.insecure_skip_signature.default(PROVIDER_DEFAULTS.insecure_skip_signature),
}).meta({
  example: {
    enabled: true,
    public_base_url: 'https://wa.example.com',
    phone_number_id: '123456789012345',
    access_token: 'EAAGm0PX4ZCpsBAExamplePermanentToken',
    verify_token: 'my-verify-token',
    business_account_id: '987654321098765',
    app_secret: 'my-app-secret',
  },
});

/** Body of PATCH …/provider: any subset of the options. */
export const patchProviderSchema = z.strictObject({
  enabled: providerFields.enabled.optional(),
  public_base_url: providerFields.public_base_url.optional(),
  phone_number_id: providerFields.phone_number_id.optional(),
  access_token: providerFields.access_token.optional(),
  verify_token: providerFields.verify_token.optional(),
  business_account_id: providerFields.business_account_id.optional(),
  api_version: providerFields.api_version.optional(),
  app_secret: providerFields.app_secret.optional(),
  tier: providerFields.tier.optional(),
  throughput_mps: providerFields.throughput_mps.optional(),
  ordering: providerFields.ordering.optional(),
  ordering_timeout_ms: providerFields.ordering_timeout_ms.optional(),
  opt_out_keywords: providerFields.opt_out_keywords.optional(),
  opt_in_keywords: providerFields.opt_in_keywords.optional(),
  opt_out_confirmation: providerFields.opt_out_confirmation.optional(),
  opt_in_confirmation: providerFields.opt_in_confirmation.optional(),
  insecure_skip_signature: providerFields.insecure_skip_signature.optional(),
});

/** Parsed PATCH (and PUT) input. */
export type ProviderInput = z.output<typeof patchProviderSchema>;

/** A provider as the API shows it: secrets redacted, webhook URL and pause state included. */
export const providerSchema = z.object({
  id: z.uuid(),
  tenant: z.string().meta({ description: "The tenant's slug.", example: 'acme' }),
  team: z.string().meta({ description: "The team's slug.", example: 'support' }),
  enabled: z.boolean(),
  public_base_url: z.string().meta({ example: 'https://wa.example.com' }),
  webhook_url: z.string().meta({
    description: 'The callback URL to paste into Meta: `{public_base_url}/webhook/whatsapp/{tenant}/{team}`.',
    example: 'https://wa.example.com/webhook/whatsapp/acme/support',
  }),
  verify_token: z.string(),
  phone_number_id: z.string().meta({ example: '123456789012345' }),
  access_token: z.literal('***').meta({ description: 'Always `***`: the token is write-only.' }),
  has_access_token: z.boolean(),
  app_secret: z.literal('***').nullable().meta({ description: '`***` when an app secret is stored (write-only), null when none is.' }),
  has_app_secret: z.boolean(),
  business_account_id: z.string().nullable(),
  api_version: z.string().meta({ example: 'v18.0' }),
  tier: z.enum(['1', '2', '3', 'unlimited']),
  throughput_mps: z.number().int(),
  ordering: z.enum(['delivered', 'sent', 'none']),
  ordering_timeout_ms: z.number().int(),
  opt_out_keywords: z.array(z.string()),
  opt_in_keywords: z.array(z.string()),
  opt_out_confirmation: z.string(),
  opt_in_confirmation: z.string(),
  insecure_skip_signature: z.boolean(),
  paused: z.boolean().meta({ description: 'Whether sending is paused because Meta refused the credentials or the account; messages stay queued.' }),
  paused_at: z.date().nullable(),
  paused_reason: z.string().nullable(),
  paused_class: z
    .enum(['auth', 'account'])
    .nullable()
    .meta({ description: '`auth`: the credentials (a new access_token resumes); `account`: the business account or number (only `resume` does).' }),
  paused_code: z.number().int().nullable().meta({ description: "Meta's error code that paused it, when it gave one." }),
  templates_synced_at: z.date().nullable().meta({ description: 'When the templates were last synced; null: never.' }),
  created_at: z.date(),
  updated_at: z.date(),
});

/** The answer of PUT and PATCH …/provider: the provider and whether anything was written. */
export const providerUpsertSchema = providerSchema.extend({
  changed: z.boolean().meta({ description: 'Whether anything was written; false when every option already had the given value (updated_at unchanged).' }),
});

/** The answer schemas of the provider, in the document. */
export const ProviderModel = apiModel('Provider', providerSchema);
export const ProviderUpsertModel = apiModel('ProviderUpsert', providerUpsertSchema);
