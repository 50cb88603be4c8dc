// SSRF guard of event webhooks: the address a delivery connects to, checked where the connection is made (at every
// attempt, after DNS), so a name that resolves to a public address once and a private one later (DNS rebinding)
// cannot reach the private network.
import { lookup as dnsLookup, LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Why an address is refused, or null when it is a public unicast address. */
export function refusedRange(address: string): string | null {
  if (!ipaddr.isValid(address)) return 'not an IP address';
  // IPv4-mapped IPv6 (::ffff:10.0.0.1) is judged as the IPv4 address it carries.
  const range = ipaddr.process(address).range();
  return range === 'unicast' ? null : range;
}

/** The error of a refused address: the attempt fails with a message saying so. */
export class RefusedAddressError extends Error {
  readonly code = 'EVENT_ADDRESS_REFUSED';
  constructor(host: string, address: string, range: string) {
    super(`refused: ${host} resolves to ${address} (${range}), not a public address (EVENT_ALLOW_PRIVATE_NETWORKS is off)`);
    this.name = 'RefusedAddressError';
  }
}

/** A `net.connect` lookup option. */
export type LookupFunction = (
  hostname: string,
  options: { all?: boolean; family?: number | string },
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) => void;

/**
 * A DNS lookup for sockets that refuses every non-public address among the name's addresses (loopback, private,
 * link-local and metadata, CGNAT, multicast, unspecified, reserved, IPv6 unique-local and the like).
 */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { all: true, family: options.family === 6 || options.family === 'IPv6' ? 6 : options.family === 4 || options.family === 'IPv4' ? 4 : 0 }, (err, addresses) => {
    if (err) return callback(err, []);
    for (const a of addresses) {
      const range = refusedRange(a.address);
      if (range) return callback(new RefusedAddressError(hostname, a.address, range), []);
    }
    if (options.all) return callback(null, addresses);
    callback(null, addresses[0].address, addresses[0].family);
  });
};

/** Refuses a URL whose host is an IP literal outside public unicast (sockets skip the lookup for literals). */
export function checkLiteralHost(url: URL): void {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!isIP(host)) return;
  const range = refusedRange(host);
  if (range) throw new RefusedAddressError(host, host, range);
}
