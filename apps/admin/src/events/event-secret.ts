import { randomBytes } from 'node:crypto';

/** How long a rotated-out signing secret still signs deliveries (alongside the new one). */
export const PREVIOUS_SECRET_TTL_MS = 24 * 3600 * 1000;

/** A new endpoint signing secret as Standard Webhooks spells it: `whsec_` + base64 of 24 random bytes. */
export function newEndpointSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}
