import { describe, expect, it } from 'vitest';
import { checkLiteralHost, guardedLookup, refusedRange } from './address-guard';
import { RetrySchedule } from './retry-schedule';

describe('refusedRange', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['224.0.0.1', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['fc00::1', 'uniqueLocal'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:169.254.169.254', 'linkLocal'],
    ['64:ff9b::a00:1', 'rfc6052'],
  ])('refuses %s (%s)', (address, range) => {
    expect(refusedRange(address)).toBe(range);
  });

  it.each(['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8'])('lets the public address %s through', (address) => {
    expect(refusedRange(address)).toBeNull();
  });

  it('checks IP literals in URLs (sockets do no lookup for them)', () => {
    expect(() => checkLiteralHost(new URL('http://[::ffff:10.0.0.1]:8080/x'))).toThrow(/private/);
    expect(() => checkLiteralHost(new URL('http://169.254.169.254/latest'))).toThrow(/refused: 169\.254\.169\.254 .*linkLocal/);
    expect(() => checkLiteralHost(new URL('https://93.184.216.34/'))).not.toThrow();
    expect(() => checkLiteralHost(new URL('https://example.com/'))).not.toThrow();
  });

  it('refuses a name that resolves to a loopback address', async () => {
    const err = await new Promise<Error | null>((resolve) => guardedLookup('localhost', { all: true }, (e) => resolve(e)));
    expect(err?.message).toMatch(/^refused: localhost resolves to .* \(loopback\)/);
  });
});

describe('RetrySchedule', () => {
  it('gives each wait of the schedule within ±10%, then null', () => {
    const s = new RetrySchedule('1000,5000');
    expect(s.next(1, () => 0)).toBe(900);
    expect(s.next(1, () => 1)).toBe(1100);
    expect(s.next(2, () => 0.5)).toBe(5000);
    expect(s.next(3)).toBeNull();
  });
});
