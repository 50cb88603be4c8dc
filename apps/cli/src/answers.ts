import { z } from 'zod';

/** The answers.json section this CLI reads. */
export const SECTION = 'messaging-whatsapp';

const httpUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}, 'expected a public http(s) URL, e.g. "https://your-domain.ngrok-free.app"');

const id = (what: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, `expected ${what} as a string of digits, e.g. "123456789012345"`);

const required = (what: string) => ({
  error: (i: { input: unknown }) => (i.input === undefined ? `required: ${what}` : `expected ${what}`),
});

/** The provider options of answers.json: required ones per the provider page, the rest optional with server defaults. */
export const answersSchema = z.object({
  enabled: z.boolean(required('true or false (enable or disable the provider)')),
  public_base_url: z
    .string(required('the public URL of the webhook, e.g. "https://your-domain.ngrok-free.app"'))
    .pipe(httpUrl),
  phone_number_id: z
    .string(
      required('the WhatsApp phone number id (Meta app → WhatsApp → Getting Started → Phone Number ID)'),
    )
    .pipe(id('the phone number id')),
  access_token: z
    .string(required('the permanent access token (Meta app → WhatsApp)'))
    .min(1, 'expected the permanent access token'),
  verify_token: z
    .string(
      required("a verify token of your choice (any string), entered again in Meta's webhook configuration"),
    )
    .min(1, 'expected a non-empty verify token'),
  business_account_id: z
    .string(required('the WhatsApp Business Account id'))
    .pipe(id('the business account id'))
    .optional(),
  api_version: z
    .string(required('the Graph API version, e.g. "v18.0"'))
    .regex(/^v\d+\.\d+$/, 'expected a Graph API version like "v18.0"')
    .optional(),
  app_secret: z.string(required('the Meta app secret')).min(1).optional(),
  tier: z
    .union([z.enum(['1', '2', '3', 'unlimited']), z.literal(1), z.literal(2), z.literal(3)], {
      error: 'expected "1", "2", "3" or "unlimited"',
    })
    .transform((t) => String(t) as '1' | '2' | '3' | 'unlimited')
    .optional(),
  throughput_mps: z
    .number({ error: 'expected a whole number of messages per second (1-1000)' })
    .int()
    .min(1)
    .max(1000)
    .optional(),
  ordering: z
    .enum(['delivered', 'sent', 'none'], { error: 'expected "delivered", "sent" or "none"' })
    .optional(),
  ordering_timeout_ms: z.number({ error: 'expected milliseconds as a whole number' }).int().min(0).optional(),
  opt_out_keywords: z
    .array(z.string().min(1), { error: 'expected a list of keywords, e.g. ["STOP", "UNSUBSCRIBE"]' })
    .optional(),
  opt_in_keywords: z
    .array(z.string().min(1), { error: 'expected a list of keywords, e.g. ["START"]' })
    .optional(),
  opt_out_confirmation: z.string().min(1).optional(),
  opt_in_confirmation: z.string().min(1).optional(),
  insecure_skip_signature: z.boolean().optional(),
});

/** Validated provider options. */
export type ProviderAnswers = z.output<typeof answersSchema>;

/** Defaults applied when an option is left out (the server applies the same). */
export const DEFAULTS = {
  api_version: 'v18.0',
  tier: '1',
  throughput_mps: 80,
  ordering: 'delivered',
} as const;

/** Parses the `messaging-whatsapp` section: the options, or one line per missing/invalid option (named), plus unknown keys. */
export function parseAnswers(
  doc: unknown,
): { ok: true; options: ProviderAnswers; unknown: string[] } | { ok: false; problems: string[] } {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    return { ok: false, problems: ['answers file: expected a JSON object'] };
  const section = (doc as Record<string, unknown>)[SECTION];
  if (section === undefined)
    return { ok: false, problems: [`answers file: missing the "${SECTION}" section`] };
  if (!section || typeof section !== 'object' || Array.isArray(section))
    return { ok: false, problems: [`${SECTION}: expected an object of provider options`] };
  const result = answersSchema.safeParse(section);
  if (!result.success) {
    return {
      ok: false,
      problems: result.error.issues.map((i) => `${SECTION}.${i.path.map(String).join('.')}: ${i.message}`),
    };
  }
  const known = new Set(Object.keys(answersSchema.shape));
  return { ok: true, options: result.data, unknown: Object.keys(section).filter((k) => !known.has(k)) };
}
