import { isIP } from 'node:net';
import { safeEqual } from '@gtc/config';

/** Whether an address is the machine's own (127.0.0.0/8, ::1, or either mapped into IPv6). */
function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return address === '::1';
}

/**
 * Whether a `/metrics` request may be answered: metrics name tenants, so they go only to a peer on this machine
 * (the TCP peer, never a forwarded-for header) or to a scraper presenting `Authorization: Bearer <METRICS_TOKEN>`.
 */
export function metricsAllowed(remoteAddress: string | undefined, authorization: string | undefined, token: string | undefined): boolean {
  if (isLoopback(remoteAddress)) return true;
  if (!token) return false;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return !!m && safeEqual(m[1], token);
}
