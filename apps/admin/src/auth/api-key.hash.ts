import { createHash, randomBytes } from 'node:crypto';

/** SHA-256 hex of an API key (what is stored). */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A new API key `gtc_<43 base64url chars>` and its display prefix. */
export function newApiKey(): { key: string; prefix: string } {
  const key = `gtc_${randomBytes(32).toString('base64url')}`;
  return { key, prefix: key.slice(0, 12) };
}
