import { describe, expect, it } from 'vitest';
import { envSchema } from '@gtc/config';
import { RetrySchedule } from './retry-schedule';

/** A seeded generator in [0, 1) (mulberry32): the jitter of many deliveries, the same at every run. */
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

const DEFAULT = envSchema.shape.EVENT_RETRY_SCHEDULE_MS.parse(undefined);

/** schedule, failed attempts so far → the wait before the next (null: none, the delivery fails). */
const rows: { raw: string; attemptsMade: number; wait: number | null }[] = [
  { raw: '5000,30000,120000', attemptsMade: 1, wait: 5_000 },
  { raw: '5000,30000,120000', attemptsMade: 2, wait: 30_000 },
  { raw: '5000,30000,120000', attemptsMade: 3, wait: 120_000 },
  { raw: '5000,30000,120000', attemptsMade: 4, wait: null },
  { raw: '5000,30000,120000', attemptsMade: 40, wait: null },
  { raw: '5000,30000,120000', attemptsMade: 0, wait: null }, // no attempt made: nothing to retry
  { raw: '1000', attemptsMade: 1, wait: 1_000 },
  { raw: '1000', attemptsMade: 2, wait: null },
  { raw: '0,10', attemptsMade: 1, wait: 0 },
  { raw: '0,10', attemptsMade: 2, wait: 10 },
  { raw: DEFAULT, attemptsMade: 1, wait: 5_000 },
  { raw: DEFAULT, attemptsMade: 5, wait: 1_800_000 },
  { raw: DEFAULT, attemptsMade: 9, wait: 86_400_000 },
  { raw: DEFAULT, attemptsMade: 10, wait: null },
];

describe('RetrySchedule.next: the wait after n failed attempts, ±10%', () => {
  it.each(rows)('$raw after $attemptsMade → $wait', ({ raw, attemptsMade, wait }) => {
    const schedule = new RetrySchedule(raw);
    if (wait === null) {
      expect(schedule.next(attemptsMade, () => 0.5)).toBeNull();
      return;
    }
    expect(schedule.next(attemptsMade, () => 0)).toBe(Math.round(wait * 0.9));
    expect(schedule.next(attemptsMade, () => 0.5)).toBe(wait);
    // The top of [0, 1): 1.1 × the wait, less 2 ppm of it.
    expect(schedule.next(attemptsMade, () => 0.999_999)).toBe(Math.round(wait * (1.1 - 0.000_000_2)));
    const random = seeded(attemptsMade * 7 + wait);
    for (let i = 0; i < 200; i++) {
      const w = schedule.next(attemptsMade, random)!;
      expect(Number.isInteger(w)).toBe(true);
      expect(w).toBeGreaterThanOrEqual(Math.round(wait * 0.9));
      expect(w).toBeLessThanOrEqual(Math.round(wait * 1.1));
    }
  });

  it('spreads the retries of deliveries that failed together over the whole ±10%', () => {
    const schedule = new RetrySchedule('60000');
    const random = seeded(42);
    const waits = Array.from({ length: 1_000 }, () => schedule.next(1, random)!);
    expect(Math.min(...waits)).toBeLessThan(54_600); // within the lowest tenth of [54 000, 66 000]
    expect(Math.max(...waits)).toBeGreaterThan(65_400); // within the highest tenth
    expect(new Set(waits).size).toBeGreaterThan(500);
  });

  it('the default schedule: 9 retries, each wait longer than the one before, about 2 days in all', () => {
    const schedule = new RetrySchedule(DEFAULT);
    const waits: number[] = [];
    for (let n = 1; ; n++) {
      const w = schedule.next(n, () => 0.5);
      if (w === null) break;
      waits.push(w);
    }
    expect(waits).toHaveLength(9);
    waits.slice(1).forEach((w, i) => expect(w).toBeGreaterThan(waits[i]!));
    const total = waits.reduce((a, b) => a + b, 0);
    expect(total / 3_600_000).toBeGreaterThan(40);
    expect(total / 3_600_000).toBeLessThan(48);
  });
});
