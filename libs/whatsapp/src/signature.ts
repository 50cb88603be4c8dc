import { createHmac, timingSafeEqual } from 'node:crypto';

// https://developers.facebook.com/docs/graph-api/webhooks/getting-started#validate-payloads

/** Name of the header Meta signs webhook deliveries with. */
export const SIGNATURE_HEADER = 'x-hub-signature-256';

const PREFIX = 'sha256=';
const HEX_SHA256 = /^[0-9a-f]{64}$/i;

/** Signs a raw webhook body as Meta does: `sha256=<hex HMAC-SHA256(appSecret, rawBody)>`. */
export function signPayload(rawBody: Buffer | string, appSecret: string): string {
  return PREFIX + createHmac('sha256', appSecret).update(rawBody).digest('hex');
}

/**
 * Checks an `X-Hub-Signature-256` header against the RAW request bytes (never re-serialised JSON), in constant
 * time. A missing or malformed header, or an empty app secret, is simply `false`.
 */
export function verifySignature(rawBody: Buffer, header: string | undefined, appSecret: string): boolean {
  if (!header || !appSecret) return false;
  const trimmed = header.trim();
  if (trimmed.slice(0, PREFIX.length).toLowerCase() !== PREFIX) return false;
  const hex = trimmed.slice(PREFIX.length);
  if (!HEX_SHA256.test(hex)) return false;
  const expected = createHmac('sha256', appSecret).update(rawBody).digest();
  return timingSafeEqual(Buffer.from(hex, 'hex'), expected);
}
