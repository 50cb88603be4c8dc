import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { freePort, TempRedis } from '@gtc/testing';
import { LimiterSettings, NumberLimits, SendLimiter, Slot, SlotLog, TierLogSource } from '../src/send-limiter';

// The limiter's Lua script against a Redis of this test's own (emptied before each test), with the clock injected:
// every reservation passes its own `now`, so each expected slot is exact.

let server: TempRedis;
let redis: Redis;

const settings: LimiterSettings = {
  tierLimits: { '1': 3, '2': 10, '3': 100 },
  tierWindowMs: 60_000,
  tierCounting: 'messages',
  pairLimit: 100,
  pairWindowMs: 1_000,
  windowMarginMs: 0,
};
const limits = { phoneNumberId: '1555000', tier: '1', throughputMps: 0 };
const request = (id: string) => ({ messageId: id, recipient: '4917000', businessInitiated: false });
const tierKey = 'sl:limits:{1555000}:send:tier';

/** The injected clock's start (epoch ms; 13 digits, so slots come back from Lua's tostring exact). */
const T0 = 1_700_000_000_000;

beforeAll(async () => {
  server = new TempRedis(await freePort());
  await server.start();
  redis = new Redis(server.url);
});

afterAll(async () => {
  redis?.disconnect();
  await server?.kill();
});

beforeEach(async () => {
  await redis.flushall();
});

interface Ask {
  /** Recipient (default 4917000). */
  to?: string;
  /** Business-initiated (counts under TIER_COUNTING=recipients). */
  bi?: boolean;
  /** The clock (default T0). */
  now?: number;
  log?: SlotLog;
  maxAhead?: number;
  source?: TierLogSource;
}

/** A limiter with these settings and number limits, and a short way to reserve through it. */
function limiterWith(over: Partial<LimiterSettings> = {}, limitsOver: Partial<NumberLimits> = {}) {
  const limiter = new SendLimiter(redis, 'sl', { ...settings, ...over });
  const number: NumberLimits = { ...limits, ...limitsOver };
  const reserve = (id: string, a: Ask = {}): Promise<Slot> =>
    limiter.reserve(number, { messageId: id, recipient: a.to ?? '4917000', businessInitiated: a.bi ?? false }, a.log ?? 'send', a.maxAhead ?? 0, a.now ?? T0, a.source);
  /** Reserves one after another (the order matters) and gives the slot times relative to T0. */
  const sequence = async (ids: string[], a: Ask = {}): Promise<number[]> => {
    const out: number[] = [];
    for (const id of ids) out.push((await reserve(id, a)).at - T0);
    return out;
  };
  return { limiter, reserve, sequence };
}
const ids = (n: number, prefix = 'm') => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
const key = (log: SlotLog, limit: string) => `sl:limits:{1555000}:${log}:${limit}`;

describe('throughput: slots (1000 + margin) / mps apart', () => {
  const spacing: { mps: number; margin: number; interval: number }[] = [
    { mps: 10, margin: 0, interval: 100 },
    { mps: 10, margin: 20, interval: 102 },
    { mps: 4, margin: 0, interval: 250 },
    { mps: 80, margin: 0, interval: 12.5 },
    { mps: 80, margin: 20, interval: 12.75 },
    { mps: 3, margin: 0, interval: 1000 / 3 },
    { mps: 1, margin: 500, interval: 1500 },
  ];

  it.each(spacing)('$mps/s, margin $margin ms: 6 at once go $interval ms apart', async ({ mps, margin, interval }) => {
    const { sequence } = limiterWith({ windowMarginMs: margin, tierLimits: { '1': 1000 } }, { throughputMps: mps });
    const at = await sequence(ids(6));
    // Lua's tostring keeps 14 significant digits: a fraction of a ms may be rounded.
    at.forEach((t, i) => expect(t).toBeCloseTo(i * interval, 0));
    expect(await redis.zcard(key('send', 'mps'))).toBe(6);
  });

  it('a clock past the last slot takes the slot at once', async () => {
    const { sequence } = limiterWith({ tierLimits: { '1': 1000 } }, { throughputMps: 10 });
    expect(await sequence(ids(3))).toEqual([0, 100, 200]);
    expect(await sequence(['late'], { now: T0 + 1_000 })).toEqual([1_000]);
    expect(await sequence(['next'], { now: T0 + 1_000 })).toEqual([1_100]);
  });

  it('a slot takes the first free gap between earlier reservations, not the end of the log', async () => {
    const { reserve } = limiterWith({ tierLimits: { '1': 1000 }, pairLimit: 1 }, { throughputMps: 10 });
    const at = async (id: string, to: string) => (await reserve(id, { to })).at - T0;
    expect(await at('a1', 'A')).toBe(0);
    expect(await at('a2', 'A')).toBe(1_000); // pushed a second ahead by the pair limit
    // Other recipients fill the slots before it, then go after it.
    const others = [];
    for (let i = 1; i <= 10; i++) others.push(await at(`b${i}`, `B${i}`));
    expect(others).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900, 1_100]);
  });

  it('a clock that went back a little still sees the slots after it', async () => {
    const { sequence } = limiterWith({ tierLimits: { '1': 1000 } }, { throughputMps: 10 });
    expect(await sequence(['a'])).toEqual([0]);
    expect(await sequence(['b'], { now: T0 + 150 })).toEqual([150]);
    // Another replica's clock, 100 ms behind: 100 would be too close to a (0) and b (150); 250 is free.
    expect(await sequence(['c'], { now: T0 + 50 })).toEqual([250]);
  });

  it('no throughput limit (0): no spacing and no log', async () => {
    const { sequence } = limiterWith({ tierLimits: { '1': 1000 } }, { throughputMps: 0 });
    expect(await sequence(ids(5))).toEqual([0, 0, 0, 0, 0]);
    expect(await redis.exists(key('send', 'mps'))).toBe(0);
  });
});

describe('tier: at most its limit in any moving window', () => {
  const windows: { name: string; over?: Partial<LimiterSettings>; tier: string; n: number; at: number[] }[] = [
    { name: 'tier 1 (3 / 60 s)', tier: '1', n: 7, at: [0, 0, 0, 60_000, 60_000, 60_000, 120_000] },
    { name: 'tier 1, margin 1 s (window 61 s)', tier: '1', over: { windowMarginMs: 1_000 }, n: 4, at: [0, 0, 0, 61_000] },
    { name: 'tier 2 (10 / 60 s)', tier: '2', n: 11, at: [...Array(10).fill(0), 60_000] },
    { name: 'an unknown tier counts as tier 1', tier: 'x', n: 4, at: [0, 0, 0, 60_000] },
    { name: 'unlimited', tier: 'unlimited', n: 12, at: Array(12).fill(0) },
  ];

  it.each(windows)('$name: $n at once', async ({ over, tier, n, at }) => {
    const { sequence } = limiterWith(over, { tier });
    expect(await sequence(ids(n))).toEqual(at);
  });

  it('the window moves with the clock: entries older than the window stop counting', async () => {
    const { sequence } = limiterWith();
    expect(await sequence(ids(3))).toEqual([0, 0, 0]);
    expect(await sequence(['half-way'], { now: T0 + 30_000 })).toEqual([60_000]);
    const later = limiterWith();
    await redis.flushall();
    expect(await later.sequence(ids(3))).toEqual([0, 0, 0]);
    expect(await later.sequence(['a window later'], { now: T0 + 60_000 })).toEqual([60_000]);
    expect(await later.sequence(['and one more'], { now: T0 + 60_000 })).toEqual([60_000]);
    expect(await redis.zcard(key('send', 'tier'))).toBe(2); // the three at T0 were dropped
  });

  it('the same message asked again keeps one slot (a retried reservation replaces its own)', async () => {
    const { sequence } = limiterWith({}, { throughputMps: 10 });
    expect(await sequence(['m1', 'm1', 'm1'])).toEqual([0, 0, 0]);
    expect(await sequence(['m2', 'm3', 'm4'])).toEqual([100, 200, 60_000]);
    expect(await redis.zcard(key('send', 'tier'))).toBe(4);
  });
});

describe('tier counting unique recipients (TIER_COUNTING=recipients)', () => {
  it('a business-initiated message counts its recipient once per window; replies do not count', async () => {
    const { reserve } = limiterWith({ tierCounting: 'recipients', tierLimits: { '1': 2 } });
    const steps: { id: string; to: string; bi: boolean; at: number }[] = [
      { id: 'a1', to: 'A', bi: true, at: 0 },
      { id: 'a2', to: 'A', bi: true, at: 0 }, // A already counted
      { id: 'b1', to: 'B', bi: true, at: 0 },
      { id: 'c1', to: 'C', bi: true, at: 60_000 }, // a third recipient waits for the window
      { id: 'd1', to: 'D', bi: false, at: 0 }, // a reply: not counted
      { id: 'a3', to: 'A', bi: true, at: 0 },
    ];
    for (const s of steps) expect({ id: s.id, at: (await reserve(s.id, { to: s.to, bi: s.bi })).at - T0 }).toEqual({ id: s.id, at: s.at });
    expect((await redis.zrange(key('send', 'tier'), 0, -1)).sort()).toEqual(['r:A', 'r:B', 'r:C']);
  });

  it('a recipient counted a whole window ago counts again', async () => {
    const { reserve } = limiterWith({ tierCounting: 'recipients', tierLimits: { '1': 2 } });
    await reserve('a1', { to: 'A', bi: true });
    await reserve('b1', { to: 'B', bi: true });
    // A's entry (T0) is not inside (now − window, now]: A takes a slot again, at once (A and B dropped out).
    expect(await reserve('a2', { to: 'A', bi: true, now: T0 + 60_000 })).toEqual({ at: T0 + 60_000, held: true });
    expect(await redis.zscore(key('send', 'tier'), 'r:A')).toBe(String(T0 + 60_000));
  });

  it('under TIER_COUNTING=messages the business-initiated flag does not matter: every message counts', async () => {
    const { reserve, sequence } = limiterWith();
    await reserve('x1', { bi: true });
    await reserve('x2', { bi: false });
    expect(await sequence(['x3', 'x4'])).toEqual([0, 60_000]);
  });
});

describe('pair: at most PAIR_RATE_LIMIT to one recipient per window', () => {
  const pairs: { margin: number; at: number[] }[] = [
    { margin: 0, at: [0, 0, 1_000, 1_000, 2_000] },
    { margin: 500, at: [0, 0, 1_500, 1_500, 3_000] },
  ];

  it.each(pairs)('limit 2 / 1 s, margin $margin ms: 5 to one recipient', async ({ margin, at }) => {
    const { sequence } = limiterWith({ pairLimit: 2, pairWindowMs: 1_000, windowMarginMs: margin }, { tier: 'unlimited' });
    expect(await sequence(ids(5))).toEqual(at);
    expect(await sequence(['other'], { to: '4917999' })).toEqual([0]); // another recipient has its own log
  });

  it('the three limits together: the slot is the latest any of them asks', async () => {
    const { sequence } = limiterWith({ pairLimit: 2, pairWindowMs: 1_000 }, { throughputMps: 10, tier: '1' });
    // 1st: free; 2nd: throughput spacing; 3rd: pair window (1 s after the 1st); 4th: tier (3 / 60 s).
    expect(await sequence(ids(4))).toEqual([0, 100, 1_000, 60_000]);
  });
});

describe('maxAhead: a slot too far ahead is reported, not held', () => {
  const aheads: { maxAhead: number; held: boolean }[] = [
    { maxAhead: 0, held: true }, // no bound
    { maxAhead: 1_000, held: false },
    { maxAhead: 59_999, held: false },
    { maxAhead: 60_000, held: true },
    { maxAhead: 120_000, held: true },
  ];

  it.each(aheads)('tier full, next slot 60 s ahead, maxAhead $maxAhead → held $held', async ({ maxAhead, held }) => {
    const { reserve, sequence } = limiterWith({}, { throughputMps: 10 });
    await sequence(ids(3));
    expect(await reserve('m4', { maxAhead })).toEqual({ at: T0 + 60_000, held });
    expect(await redis.zcard(key('send', 'tier'))).toBe(held ? 4 : 3);
    expect(await redis.zcard(key('send', 'mps'))).toBe(held ? 4 : 3);
    expect(await redis.exists(key('send', 'pair:4917000'))).toBe(1);
    expect(await redis.zcard(key('send', 'pair:4917000'))).toBe(held ? 4 : 3);
  });

  it('an unheld slot leaves the log as it was: the next ask gets the same slot', async () => {
    const { reserve } = limiterWith({ tierLimits: { '1': 4 } }, { throughputMps: 1 });
    for (const id of ids(3)) await reserve(id);
    expect(await reserve('m4', { maxAhead: 1_500 })).toEqual({ at: T0 + 3_000, held: false });
    expect(await reserve('m5', { maxAhead: 1_500 })).toEqual({ at: T0 + 3_000, held: false });
    expect(await reserve('m5')).toEqual({ at: T0 + 3_000, held: true });
    expect(await reserve('m4', { maxAhead: 1_500 })).toEqual({ at: T0 + 60_000, held: false }); // now past the tier too
  });
});

describe('plan and send logs are independent', () => {
  it('a full plan log does not hold a send, nor a full send log a plan', async () => {
    const { sequence } = limiterWith({}, { throughputMps: 10 });
    expect(await sequence(ids(4, 'p'), { log: 'plan' })).toEqual([0, 100, 200, 60_000]);
    expect(await sequence(ids(3, 's'), { log: 'send' })).toEqual([0, 100, 200]);
    expect(await sequence(['s4'], { log: 'send' })).toEqual([60_000]);
    expect(await sequence(['p5'], { log: 'plan' })).toEqual([60_100]); // the window of p2 (at 100)
    expect(await redis.zcard(key('plan', 'tier'))).toBe(5);
    expect(await redis.zcard(key('send', 'tier'))).toBe(4);
  });

  it('one message holds a slot in each log (same id, separate keys)', async () => {
    const { reserve } = limiterWith();
    await reserve('m1', { log: 'plan' });
    await reserve('m1', { log: 'send' });
    expect(await redis.zrange(key('plan', 'tier'), 0, -1)).toEqual(['m1']);
    expect(await redis.zrange(key('send', 'tier'), 0, -1)).toEqual(['m1']);
  });
});

describe('SendLimiter when Redis loses the tier log', () => {
  it('rebuilds it from the source (Postgres) so the day limit still holds, asking only while it is missing', async () => {
    const limiter = new SendLimiter(redis, 'sl', settings);
    const t0 = Date.now();
    const sent: { member: string; at: number }[] = [];
    let asked = 0;
    const source: TierLogSource = async (phoneNumberId, since) => {
      asked++;
      expect(phoneNumberId).toBe('1555000');
      return sent.filter((s) => s.at >= since);
    };
    for (const id of ['m1', 'm2', 'm3']) {
      const slot = await limiter.reserve(limits, request(id), 'send', 0, t0, source);
      expect(slot).toEqual({ at: t0, held: true });
      sent.push({ member: id, at: slot.at });
    }
    expect(asked).toBe(1); // the first reservation found no log (nothing sent yet); later ones had one

    await redis.del(tierKey);
    const fourth = await limiter.reserve(limits, request('m4'), 'send', 0, t0 + 10, source);
    expect(asked).toBe(2);
    expect(fourth.at).toBe(t0 + settings.tierWindowMs); // waits for the moving window, as before the loss
    expect(await redis.zcard(tierKey)).toBe(4);
  });

  it('without a source, a lost tier log starts over (what the plan log does)', async () => {
    const limiter = new SendLimiter(redis, 'sl', settings);
    const t0 = Date.now();
    for (const id of ['p1', 'p2', 'p3']) await limiter.reserve(limits, request(id), 'plan', 0, t0);
    await redis.del('sl:limits:{1555000}:plan:tier');
    expect(await limiter.reserve(limits, request('p4'), 'plan', 0, t0 + 10)).toEqual({ at: t0 + 10, held: true });
  });

  it('asks the source for one window (margin included) back from the clock', async () => {
    const { reserve } = limiterWith({ windowMarginMs: 1_000 });
    const asks: number[] = [];
    const source: TierLogSource = async (_, since) => {
      asks.push(since);
      return [];
    };
    await reserve('m1', { source });
    expect(asks).toEqual([T0 - 61_000]);
  });

  it('an empty source: nothing to put back, the reservation goes on', async () => {
    const { reserve } = limiterWith();
    expect(await reserve('m1', { source: async () => [] })).toEqual({ at: T0, held: true });
    expect(await redis.zrange(key('send', 'tier'), 0, -1)).toEqual(['m1']);
  });

  const notAsked: { name: string; over?: Partial<LimiterSettings>; tier: string; bi: boolean }[] = [
    { name: 'an unlimited number (no tier log)', tier: 'unlimited', bi: true },
    { name: 'a reply under TIER_COUNTING=recipients (not counted)', over: { tierCounting: 'recipients' }, tier: '1', bi: false },
  ];

  it.each(notAsked)('does not ask for $name', async ({ over, tier, bi }) => {
    const { reserve } = limiterWith(over, { tier });
    let asked = 0;
    const source: TierLogSource = async () => {
      asked++;
      return [];
    };
    expect(await reserve('m1', { bi, source })).toEqual({ at: T0, held: true });
    expect(asked).toBe(0);
    expect(await redis.exists(key('send', 'tier'))).toBe(0);
  });

  it('under TIER_COUNTING=recipients, recipients in the rebuilt log stay counted', async () => {
    const { reserve } = limiterWith({ tierCounting: 'recipients', tierLimits: { '1': 2 } });
    const source: TierLogSource = async () => [
      { member: 'r:A', at: T0 - 1_000 },
      { member: 'r:B', at: T0 - 500 },
    ];
    expect(await reserve('a2', { to: 'A', bi: true, source })).toEqual({ at: T0, held: true }); // A was counted before the loss
    expect(await reserve('c1', { to: 'C', bi: true, source })).toEqual({ at: T0 + 59_000, held: true }); // A's entry leaves the window first
    expect(await redis.zrange(key('send', 'tier'), 0, -1, 'WITHSCORES')).toEqual(['r:A', String(T0 - 1_000), 'r:B', String(T0 - 500), 'r:C', String(T0 + 59_000)]);
  });
});

describe('expiry: each log expires a window after the slot just taken', () => {
  it('tier, throughput and pair keys carry the slot distance plus their window (margin included) as TTL', async () => {
    const { sequence } = limiterWith({ windowMarginMs: 100 }, { throughputMps: 10 });
    const now = Date.now(); // Redis counts TTLs on its own clock
    expect(await sequence(ids(4), { now })).toEqual([0, 110, 220, 60_100].map((d) => now - T0 + d));
    // Throughput slots (1000 + 100) / 10 = 110 ms apart; the 4th slot is 60.1 s ahead: tier 60.1 + 60.1 s, throughput and pair 60.1 + 1.1 s.
    const ttl = async (k: string) => Number(await redis.pttl(k));
    const within = (ms: number) => [ms - 1_000, ms];
    for (const [k, ms] of [
      [key('send', 'tier'), 120_200],
      [key('send', 'mps'), 61_200],
      [key('send', 'pair:4917000'), 61_200],
    ] as const) {
      const t = await ttl(k);
      expect({ k, t: t > within(ms)[0] && t <= within(ms)[1] }).toEqual({ k, t: true });
    }
  });

  it('a slot that fills an earlier gap never shortens a log: the later slot is kept until its window has passed', async () => {
    const { reserve } = limiterWith({ pairLimit: 1, pairWindowMs: 6_000, windowMarginMs: 0 }, { throughputMps: 10 });
    const now = Date.now();
    expect((await reserve('x1', { to: 'X', now })).at).toBe(now);
    // The pair limit pushes X's second message 6 s ahead: the throughput log holds a slot there.
    expect((await reserve('x2', { to: 'X', now })).at).toBe(now + 6_000);
    // Y's message fills the gap right after the first slot; the log must still live past the slot 6 s ahead.
    expect((await reserve('y1', { to: 'Y', now })).at).toBe(now + 100);
    expect(Number(await redis.pttl(key('send', 'mps')))).toBeGreaterThan(6_000);
    expect(await redis.zscore(key('send', 'mps'), 'x2')).toBe(String(now + 6_000));
  });
});

