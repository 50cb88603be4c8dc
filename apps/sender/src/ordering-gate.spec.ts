import { describe, expect, it } from 'vitest';
import { type EarlierMessage, orderingWait, releasesNext } from './ordering-gate';

const STATES = ['queued', 'sending', 'unknown', 'sent', 'delivered', 'read', 'failed'];

/** ordering → the states that let the next message go. */
const RELEASING: Record<string, string[]> = {
  delivered: ['delivered', 'read', 'failed'],
  sent: ['sent', 'delivered', 'read', 'failed'],
  none: [],
};

describe('releasesNext: ordering × state', () => {
  const table = Object.entries(RELEASING).flatMap(([ordering, releasing]) =>
    STATES.map((state) => ({ ordering, state, releases: releasing.includes(state) })),
  );
  it.each(table)('$ordering, $state → $releases', ({ ordering, state, releases }) => {
    expect(releasesNext(ordering, state)).toBe(releases);
  });
});

const NOW = 1_000_000;
const TIMEOUT = 30_000;
const RECHECK = 5_000;
const m = (state: string, sentAgoMs: number | null = null, sendingAgoMs: number | null = null): EarlierMessage => ({
  state,
  sentAtMs: sentAgoMs === null ? null : NOW - sentAgoMs,
  sendingAtMs: sendingAgoMs === null ? null : NOW - sendingAgoMs,
});

/** ordering, the earlier undelivered messages (oldest first) → how long to wait (null: may go now). */
const waits: { name: string; ordering: string; earlier: EarlierMessage[]; wait: number | null }[] = [
  { name: 'nothing before it', ordering: 'delivered', earlier: [], wait: null },
  { name: 'none: whatever is before it', ordering: 'none', earlier: [m('queued'), m('sending', null, 1)], wait: null },
  { name: 'delivered: an earlier one still queued', ordering: 'delivered', earlier: [m('queued')], wait: RECHECK },
  { name: 'delivered: an earlier one being sent', ordering: 'delivered', earlier: [m('sending', null, 1_000)], wait: RECHECK },
  { name: 'delivered: sent 1 s ago (recheck caps the wait)', ordering: 'delivered', earlier: [m('sent', 1_000)], wait: RECHECK },
  { name: 'delivered: sent 28 s ago (2 s of the timeout left)', ordering: 'delivered', earlier: [m('sent', 28_000)], wait: 2_000 },
  { name: 'delivered: sent at the timeout', ordering: 'delivered', earlier: [m('sent', TIMEOUT)], wait: null },
  { name: 'delivered: sent long ago', ordering: 'delivered', earlier: [m('sent', 10 * TIMEOUT)], wait: null },
  { name: 'delivered: unknown outcome since 29 s', ordering: 'delivered', earlier: [m('unknown', null, 29_000)], wait: 1_000 },
  { name: 'delivered: unknown outcome past the timeout', ordering: 'delivered', earlier: [m('unknown', null, TIMEOUT + 1)], wait: null },
  { name: 'delivered: one timed out, the next still queued', ordering: 'delivered', earlier: [m('sent', TIMEOUT), m('queued')], wait: RECHECK },
  { name: 'delivered: one timed out, the next sent 29.5 s ago', ordering: 'delivered', earlier: [m('sent', TIMEOUT), m('sent', 29_500)], wait: 500 },
  { name: 'sent: an earlier one sent (released)', ordering: 'sent', earlier: [m('sent', 1)], wait: null },
  { name: 'sent: an earlier one queued', ordering: 'sent', earlier: [m('sent', 1), m('queued')], wait: RECHECK },
  { name: 'sent: an earlier unknown since 27 s', ordering: 'sent', earlier: [m('unknown', null, 27_000)], wait: 3_000 },
];

describe('orderingWait', () => {
  it.each(waits)('$name → $wait', ({ ordering, earlier, wait }) => {
    expect(orderingWait({ ordering, orderingTimeoutMs: TIMEOUT }, earlier, NOW)).toBe(wait);
  });
});
