import { describe, expect, it } from 'vitest';
import { CUSTOMER_SERVICE_WINDOW_MS, GRAPH_ERROR_ACTIONS, GRAPH_ERROR_CLASSES, type GraphErrorClass } from '@gtc/whatsapp';
import { backoff, decideSendFailure, failedStatusPause, preSendRefusal, SEND_POLICY, type SendDecision, type SendFailure } from './send-policy';

const MAX = 3;
/** The middle of the jitter range: backoff gives ceiling × 3/4. */
const half = () => 0.5;
const failure = (f: Partial<SendFailure> & { errorClass: GraphErrorClass }): SendFailure => ({
  message: 'boom',
  outcomeUnknown: false,
  attempts: 1,
  retryOnRateLimit: true,
  ...f,
});

/** Every class, first attempt, with a code: what becomes of the message. */
const byClass: { errorClass: GraphErrorClass; code: number; decision: SendDecision }[] = [
  { errorClass: 'throttled', code: 130429, decision: { kind: 'retry', reason: 'throttled (130429): boom', delayMs: 750 } },
  { errorClass: 'transient', code: 131000, decision: { kind: 'retry', reason: 'transient (131000): boom', delayMs: 375 } },
  { errorClass: 'window_closed', code: 131047, decision: { kind: 'fail', reason: 'window_closed (131047): boom' } },
  { errorClass: 'permanent', code: 131026, decision: { kind: 'fail', reason: 'permanent (131026): boom' } },
  { errorClass: 'auth', code: 190, decision: { kind: 'pause', reason: 'auth (190): boom' } },
  { errorClass: 'account', code: 131042, decision: { kind: 'pause', reason: 'account (131042): boom' } },
];

describe('SEND_POLICY: error class → action', () => {
  it('has a row for every class, with the action @gtc/whatsapp names for it', () => {
    expect(Object.keys(SEND_POLICY).sort()).toEqual([...GRAPH_ERROR_CLASSES].sort());
    for (const c of GRAPH_ERROR_CLASSES) expect({ c, action: SEND_POLICY[c].action }).toEqual({ c, action: GRAPH_ERROR_ACTIONS[c] });
  });

  it('the table of classes below covers every class', () => {
    expect(byClass.map((r) => r.errorClass).sort()).toEqual([...GRAPH_ERROR_CLASSES].sort());
  });

  it.each(byClass)('$errorClass ($code), first attempt → $decision.kind', ({ errorClass, code, decision }) => {
    expect(decideSendFailure(failure({ errorClass, code }), MAX, half)).toEqual(decision);
  });

  it.each(GRAPH_ERROR_CLASSES.map((errorClass) => ({ errorClass })))(
    '$errorClass with an unknown outcome → await a status, whatever the class',
    ({ errorClass }) => {
      expect(decideSendFailure(failure({ errorClass, outcomeUnknown: true }), MAX, half)).toEqual({ kind: 'await_status', reason: `${errorClass}: boom` });
    },
  );
});

/** When a retried class gives up, and why. */
const givingUp: { name: string; f: SendFailure; decision: SendDecision['kind']; reason?: string }[] = [
  { name: 'transient, attempt 2 of 3', f: failure({ errorClass: 'transient', attempts: 2 }), decision: 'retry' },
  { name: 'transient, attempt 3 of 3', f: failure({ errorClass: 'transient', attempts: 3 }), decision: 'fail', reason: 'transient: boom (gave up after 3 attempts)' },
  { name: 'throttled, attempt 8 of 9 (3 × max)', f: failure({ errorClass: 'throttled', attempts: 8 }), decision: 'retry' },
  { name: 'throttled, attempt 9 of 9', f: failure({ errorClass: 'throttled', code: 4, attempts: 9 }), decision: 'fail', reason: 'throttled (4): boom (gave up after 9 attempts)' },
  {
    name: 'throttled, retry_on_rate_limit false',
    f: failure({ errorClass: 'throttled', code: 130429, retryOnRateLimit: false }),
    decision: 'fail',
    reason: 'throttled (130429): boom (retry_on_rate_limit is false)',
  },
  { name: 'transient, retry_on_rate_limit false (only throttling asks it)', f: failure({ errorClass: 'transient', retryOnRateLimit: false }), decision: 'retry' },
];

describe('decideSendFailure: attempts and retry_on_rate_limit', () => {
  it.each(givingUp)('$name → $decision', ({ f, decision, reason }) => {
    const d = decideSendFailure(f, MAX, half);
    expect(d.kind).toBe(decision);
    if (reason) expect(d.reason).toBe(reason);
  });
});

/** [attempt, base, cap] → ceiling; the delay lies in [ceiling / 2, ceiling]. */
const bounds: [number, number, number, number][] = [
  [1, 500, 30_000, 500],
  [2, 500, 30_000, 1_000],
  [3, 500, 30_000, 2_000],
  [7, 500, 30_000, 30_000],
  [30, 500, 30_000, 30_000],
  [1, 1_000, 60_000, 1_000],
  [6, 1_000, 60_000, 32_000],
  [7, 1_000, 60_000, 60_000],
  [0, 1_000, 60_000, 1_000],
];

describe('backoff', () => {
  it.each(bounds)('attempt %i, base %i, cap %i: between ceiling/2 and ceiling %i', (attempt, base, cap, ceiling) => {
    expect(backoff(attempt, base, cap, () => 0)).toBe(ceiling / 2);
    expect(backoff(attempt, base, cap, () => 0.999999)).toBe(ceiling);
    for (let i = 0; i < 50; i++) {
      const d = backoff(attempt, base, cap);
      expect(d).toBeGreaterThanOrEqual(ceiling / 2);
      expect(d).toBeLessThanOrEqual(ceiling);
    }
  });
});

const NOW = 1_000 * CUSTOMER_SERVICE_WINDOW_MS;
const refusals: { name: string; m: Parameters<typeof preSendRefusal>[0]; refused: string | null }[] = [
  { name: 'reply inside the window', m: { businessInitiated: false, optedOut: false, type: 'text', lastInboundAtMs: NOW - 1_000 }, refused: null },
  { name: 'reply at the window edge', m: { businessInitiated: false, optedOut: false, type: 'text', lastInboundAtMs: NOW - CUSTOMER_SERVICE_WINDOW_MS }, refused: null },
  { name: 'reply just after the window', m: { businessInitiated: false, optedOut: false, type: 'text', lastInboundAtMs: NOW - CUSTOMER_SERVICE_WINDOW_MS - 1 }, refused: 'window_closed' },
  { name: 'reply to a contact who never wrote', m: { businessInitiated: false, optedOut: false, type: 'text', lastInboundAtMs: null }, refused: 'window_closed' },
  { name: 'template outside the window', m: { businessInitiated: true, optedOut: false, type: 'template', lastInboundAtMs: null }, refused: null },
  { name: 'business-initiated to an opted-out contact', m: { businessInitiated: true, optedOut: true, type: 'template', lastInboundAtMs: null }, refused: 'opted_out' },
  { name: 'a reply to an opted-out contact inside the window', m: { businessInitiated: false, optedOut: true, type: 'text', lastInboundAtMs: NOW }, refused: null },
];

describe('preSendRefusal', () => {
  it.each(refusals)('$name → $refused', ({ m, refused }) => {
    expect(preSendRefusal(m, NOW)?.errorClass ?? null).toBe(refused);
  });
});

const statuses: { name: string; applied: Parameters<typeof failedStatusPause>[0]; pause: string | null }[] = [
  { name: 'failed 131042 (payment)', applied: { state: 'failed', errorCode: 131042, lastError: 'payment' }, pause: 'account' },
  { name: 'failed 131031 (locked)', applied: { state: 'failed', errorCode: 131031, lastError: null }, pause: 'account' },
  { name: 'failed 190 (token)', applied: { state: 'failed', errorCode: 190, lastError: 'expired' }, pause: 'auth' },
  { name: 'failed 131026 (undeliverable)', applied: { state: 'failed', errorCode: 131026, lastError: 'x' }, pause: null },
  { name: 'failed without a code', applied: { state: 'failed', errorCode: null, lastError: 'x' }, pause: null },
  { name: 'delivered with an old code', applied: { state: 'delivered', errorCode: 131042, lastError: 'x' }, pause: null },
];

describe('failedStatusPause', () => {
  it.each(statuses)('$name → $pause', ({ applied, pause }) => {
    expect(failedStatusPause(applied)?.errorClass ?? null).toBe(pause);
  });

  it('keeps the code and says it came from a failed status', () => {
    expect(failedStatusPause({ state: 'failed', errorCode: 131042, lastError: 'payment' })).toEqual({
      errorClass: 'account',
      code: 131042,
      reason: 'account (131042): failed status: payment',
    });
  });
});

/** A seeded generator in [0, 1) (mulberry32): the jitter of many retries, the same at every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A retried class, attempt n of MAX × its factor → the ceiling of its delay (SEND_POLICY's base and cap). */
const retryDelays: { errorClass: 'throttled' | 'transient'; attempts: number; ceiling: number }[] = [
  { errorClass: 'transient', attempts: 1, ceiling: 500 },
  { errorClass: 'transient', attempts: 2, ceiling: 1_000 },
  { errorClass: 'throttled', attempts: 1, ceiling: 1_000 },
  { errorClass: 'throttled', attempts: 2, ceiling: 2_000 },
  { errorClass: 'throttled', attempts: 5, ceiling: 16_000 },
  { errorClass: 'throttled', attempts: 6, ceiling: 32_000 },
  { errorClass: 'throttled', attempts: 7, ceiling: 60_000 },
  { errorClass: 'throttled', attempts: 8, ceiling: 60_000 },
];

describe('decideSendFailure: the retry delay by class and attempt, jitter in [ceiling / 2, ceiling]', () => {
  it.each(retryDelays)('$errorClass, attempt $attempts → ceiling $ceiling ms', ({ errorClass, attempts, ceiling }) => {
    const delay = (random: () => number) => {
      const d = decideSendFailure(failure({ errorClass, attempts }), MAX, random);
      if (d.kind !== 'retry') throw new Error(`expected a retry, got ${d.kind}`);
      return d.delayMs;
    };
    expect(delay(() => 0)).toBe(ceiling / 2);
    expect(delay(half)).toBe((ceiling * 3) / 4);
    expect(delay(() => 0.999_999)).toBe(ceiling);
    const random = seeded(attempts * 31 + ceiling);
    const delays = Array.from({ length: 500 }, () => delay(random));
    for (const d of delays) {
      expect(Number.isInteger(d)).toBe(true);
      expect(d).toBeGreaterThanOrEqual(ceiling / 2);
      expect(d).toBeLessThanOrEqual(ceiling);
    }
    // The jitter spreads them: some in the lowest and some in the highest tenth of the range.
    expect(delays.some((d) => d < ceiling * 0.55)).toBe(true);
    expect(delays.some((d) => d > ceiling * 0.95)).toBe(true);
  });

  it('the delay is a whole number of ms even when the ceiling is odd', () => {
    for (const r of [0, 0.1, 1 / 3, 0.5, 0.999_999]) {
      expect(Number.isInteger(backoff(1, 3, 100, () => r))).toBe(true);
      expect(Number.isInteger(backoff(2, 333, 10_000, () => r))).toBe(true);
    }
  });

  it('the ceiling never falls as attempts go on, and stops at the cap', () => {
    for (const [base, cap] of [
      [500, 30_000],
      [1_000, 60_000],
    ]) {
      const ceilings = Array.from({ length: 40 }, (_, i) => backoff(i + 1, base, cap, () => 0.999_999));
      ceilings.slice(1).forEach((c, i) => expect(c).toBeGreaterThanOrEqual(ceilings[i]!));
      expect(Math.max(...ceilings)).toBe(cap);
    }
  });
});
