import { describe, expect, it } from 'vitest';
import { type EarlierMessage, ORDERING_RECHECK_MIN_MS, ORDERING_RECHECK_MS, orderingWait, releasesNext } from './ordering-gate';

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
/** Behind an earlier message not sent yet: the timeout (30 s), as long as the longest wait before looking again. */
const RECHECK = ORDERING_RECHECK_MS;
const m = (state: string, sentAgoMs: number | null = null, sendingAgoMs: number | null = null): EarlierMessage => ({
  state,
  sentAtMs: sentAgoMs === null ? null : NOW - sentAgoMs,
  sendingAtMs: sendingAgoMs === null ? null : NOW - sendingAgoMs,
});

/** ordering, the earlier undelivered messages (oldest first) → how long to wait (null: may go now). */
const waits: { name: string; ordering: string; earlier: EarlierMessage[]; wait: number | null; timeout?: number }[] = [
  { name: 'nothing before it', ordering: 'delivered', earlier: [], wait: null },
  { name: 'none: whatever is before it', ordering: 'none', earlier: [m('queued'), m('sending', null, 1)], wait: null },
  { name: 'delivered: an earlier one still queued', ordering: 'delivered', earlier: [m('queued')], wait: RECHECK },
  { name: 'delivered: an earlier one being sent', ordering: 'delivered', earlier: [m('sending', null, 1_000)], wait: RECHECK },
  { name: 'delivered: sent 1 s ago (the rest of its timeout)', ordering: 'delivered', earlier: [m('sent', 1_000)], wait: 29_000 },
  { name: 'delivered, timeout 10 s: an earlier one still queued (looks again when its timeout could run out at the soonest)', ordering: 'delivered', earlier: [m('queued')], wait: 10_000, timeout: 10_000 },
  { name: 'delivered, timeout 2 s: an earlier one being sent (not sooner than the shortest recheck)', ordering: 'delivered', earlier: [m('sending', null, 1)], wait: ORDERING_RECHECK_MIN_MS, timeout: 2_000 },
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
  // Unknown outcome: the sent time when there is one, else the time sending began, else no timeout at all.
  { name: 'delivered: unknown with a sent time (it counts, not the sending time)', ordering: 'delivered', earlier: [m('unknown', 29_000, 1)], wait: 1_000 },
  { name: 'delivered: unknown with neither time', ordering: 'delivered', earlier: [m('unknown')], wait: RECHECK },
  { name: 'delivered: unknown since exactly the timeout', ordering: 'delivered', earlier: [m('unknown', null, TIMEOUT)], wait: null },
  // Only sent and unknown time out: queued and sending wait however long they have been there.
  { name: 'delivered: sending for 10 × the timeout (never times out)', ordering: 'delivered', earlier: [m('sending', null, 10 * TIMEOUT)], wait: RECHECK },
  { name: 'delivered: queued with an old sent time (a retry: never times out)', ordering: 'delivered', earlier: [m('queued', 10 * TIMEOUT)], wait: RECHECK },
  { name: 'delivered: sent without a sent time', ordering: 'delivered', earlier: [m('sent')], wait: RECHECK },
  { name: 'delivered: the shortest wait is not looked for (the first holding message decides)', ordering: 'delivered', earlier: [m('sent', 1_000), m('sent', 29_000)], wait: 29_000 },
  { name: 'delivered: three timed out, the fourth sent 29.9 s ago', ordering: 'delivered', earlier: [m('sent', TIMEOUT), m('unknown', null, TIMEOUT + 5), m('sent', 2 * TIMEOUT), m('sent', 29_900)], wait: 100 },
  { name: 'delivered, timeout 0: sent just now', ordering: 'delivered', earlier: [m('sent', 0)], wait: null, timeout: 0 },
  { name: 'delivered, timeout 0: still queued', ordering: 'delivered', earlier: [m('queued')], wait: ORDERING_RECHECK_MIN_MS, timeout: 0 },
  { name: 'delivered, timeout 1 day: sent 23 h ago (looks again now and then)', ordering: 'delivered', earlier: [m('sent', 23 * 3_600_000)], wait: ORDERING_RECHECK_MS, timeout: 86_400_000 },
  { name: 'delivered, timeout 1 day: still queued (looks again now and then)', ordering: 'delivered', earlier: [m('queued')], wait: ORDERING_RECHECK_MS, timeout: 86_400_000 },
  { name: 'sent: sent without a sent time (released all the same)', ordering: 'sent', earlier: [m('sent')], wait: null },
  { name: 'sent: unknown past the timeout', ordering: 'sent', earlier: [m('unknown', null, TIMEOUT + 1)], wait: null },
  { name: 'sent: several sent, then one being sent', ordering: 'sent', earlier: [m('sent', 1), m('sent', 2), m('sending', null, 1)], wait: RECHECK },
  { name: 'sent: a sending one past the timeout (never times out)', ordering: 'sent', earlier: [m('sending', null, 10 * TIMEOUT)], wait: RECHECK },
  { name: 'none: an unknown outcome just now', ordering: 'none', earlier: [m('unknown', null, 1)], wait: null },
  { name: 'an ordering the schema does not name (read) waits for nothing', ordering: 'read', earlier: [m('queued')], wait: null },
];

describe('orderingWait', () => {
  it.each(waits)('$name → $wait', ({ ordering, earlier, wait, timeout }) => {
    expect(orderingWait({ ordering, orderingTimeoutMs: timeout ?? TIMEOUT }, earlier, NOW)).toBe(wait);
  });
});

/**
 * The two halves agree: a predecessor that just reached a state holds the next message exactly when that state does
 * not release it. Delivered, read and failed predecessors never reach orderingWait (OutboundStore.load lists only the
 * others), so a failed one opens the gate through releasesNext alone.
 */
describe('orderingWait agrees with releasesNext for a fresh predecessor', () => {
  const listed = ['queued', 'sending', 'unknown', 'sent'];
  const table = ['delivered', 'sent'].flatMap((ordering) =>
    listed.map((state) => ({ ordering, state, holds: !releasesNext(ordering, state) })),
  );
  it.each(table)('$ordering, predecessor $state → holds $holds', ({ ordering, state, holds }) => {
    const wait = orderingWait({ ordering, orderingTimeoutMs: TIMEOUT }, [m(state, 1, 1)], NOW);
    expect(wait !== null).toBe(holds);
  });

  it.each(['delivered', 'read', 'failed'])('%s releases the next under every ordering that waits', (state) => {
    expect(releasesNext('delivered', state) && releasesNext('sent', state)).toBe(true);
  });
});
