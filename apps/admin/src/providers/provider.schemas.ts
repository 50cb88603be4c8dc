import { z } from 'zod';
import { pgText } from '../common/validation';

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
  enabled: z.boolean(),
  public_base_url: httpUrl,
  phone_number_id: graphId('WhatsApp phone number id'),
  access_token: z
    .string()
    .trim()
    .regex(/^[\x21-\x7e]{1,4096}$/, 'must be the permanent access token (1-4096 printable ASCII characters, no spaces)'),
  verify_token: pgText().min(1, 'must be a non-empty string of your choice').max(256),
  business_account_id: graphId('WhatsApp Business Account id').nullable(),
  api_version: apiVersionSchema,
  app_secret: pgText().trim().min(1).max(512).nullable(),
  tier: z.union([z.enum(['1', '2', '3', 'unlimited']), z.literal(1), z.literal(2), z.literal(3)]).transform((v) => String(v) as '1' | '2' | '3' | 'unlimited'),
  throughput_mps: z.number().int().min(1).max(1000),
  ordering: z.enum(['delivered', 'sent', 'none']),
  ordering_timeout_ms: z.number().int().min(0).max(86_400_000),
  opt_out_keywords: keywords,
  opt_in_keywords: keywords,
  opt_out_confirmation: pgText().min(1).max(4096),
  opt_in_confirmation: pgText().min(1).max(4096),
  insecure_skip_signature: z.boolean(),
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
