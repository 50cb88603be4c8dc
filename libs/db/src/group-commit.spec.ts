import { afterEach, describe, expect, it, vi } from 'vitest';
import { GroupCommit } from './group-commit';

/** A data error as Postgres reports one (SQLSTATE 22P05: untranslatable character). */
const dataError = () => Object.assign(new Error('unsupported Unicode escape sequence'), { code: '22P05' });

describe('GroupCommit', () => {
  it('splits a failed batch until only the guilty item fails; every other item is written once, in order', async () => {
    const written: number[] = [];
    let flushes = 0;
    const commit = new GroupCommit<number, string>(
      async (items) => {
        flushes++;
        await new Promise((r) => setTimeout(r, 5));
        if (items.includes(13)) throw dataError();
        written.push(...items);
        return items.map((i) => `ok ${i}`);
      },
      1,
      50,
      (err) => (err as { code?: string }).code === '22P05',
    );
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => commit.submit(i)));
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(results[13]).toMatchObject({ status: 'rejected', reason: { code: '22P05' } });
    results.forEach((r, i) => i !== 13 && expect(r).toEqual({ status: 'fulfilled', value: `ok ${i}` }));
    expect(written).toEqual(Array.from({ length: 40 }, (_, i) => i).filter((i) => i !== 13));
    expect(flushes).toBeGreaterThan(2);
  });

  it('fails the whole batch without splitting when the failure is not the content (database unreachable)', async () => {
    const sizes: number[] = [];
    const commit = new GroupCommit<number, number>(
      async (items) => {
        sizes.push(items.length);
        await new Promise((r) => setTimeout(r, 5));
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      },
      1,
      50,
      (err) => (err as { code?: string }).code === '22P05',
    );
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => commit.submit(i)));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(10);
  });

  it('with a linger, items arriving one by one go in one flush; a full batch goes at once', async () => {
    const sizes: number[] = [];
    const commit = new GroupCommit<number, number>(
      async (items) => {
        sizes.push(items.length);
        return items;
      },
      1,
      4,
      () => false,
      60_000, // longer than the test: only a full batch can flush before the timer
    );
    const firstFour = [0, 1, 2, 3].map((i) => commit.submit(i));
    expect(await Promise.all(firstFour)).toEqual([0, 1, 2, 3]);
    expect(sizes).toEqual([4]);

    const lingering = new GroupCommit<number, number>(
      async (items) => {
        sizes.push(items.length);
        return items;
      },
      1,
      100,
      () => false,
      20,
    );
    const trickle: Promise<number>[] = [];
    for (let i = 0; i < 3; i++) trickle.push(lingering.submit(i));
    expect(await Promise.all(trickle)).toEqual([0, 1, 2]);
    expect(sizes).toEqual([4, 3]);
  });
});

/** Lets every pending promise callback and the drains they start run. */
const settle = () => new Promise((r) => setImmediate(r));

/** A flush whose batches finish only when the test says so, with what it saw. */
function controlledFlush() {
  const batches: { items: number[]; finish: (err?: Error) => void; done: boolean }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const flush = (items: number[]) =>
    new Promise<string[]>((resolve, reject) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const batch = {
        items,
        done: false,
        finish: (err?: Error) => {
          batch.done = true;
          inFlight--;
          if (err) reject(err);
          else resolve(items.map((i) => `r${i}`));
        },
      };
      batches.push(batch);
    });
  return { flush, batches, open: () => batches.filter((b) => !b.done), maxInFlight: () => maxInFlight };
}

describe('GroupCommit under concurrency', () => {
  it('maxConcurrent 3, maxBatch 4: at most 3 flushes at once, none above 4 items, batches started in arrival order, results matched to items though flushes finish last-first', async () => {
    const f = controlledFlush();
    const commit = new GroupCommit<number, string>(f.flush, 3, 4, () => false);
    const results = Array.from({ length: 20 }, (_, i) => commit.submit(i));
    // Idle, the first three go alone at once; the rest wait for a free flush.
    expect(f.batches.map((b) => b.items)).toEqual([[0], [1], [2]]);
    // Finish the newest flush each time: the first two stay open to the end.
    while (f.open().length) {
      f.open().at(-1)!.finish();
      await settle();
    }
    expect(f.maxInFlight()).toBe(3);
    expect(Math.max(...f.batches.map((b) => b.items.length))).toBe(4);
    expect(f.batches.flatMap((b) => b.items)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(await Promise.all(results)).toEqual(Array.from({ length: 20 }, (_, i) => `r${i}`));
  });

  it('maxConcurrent 1: what arrives during a flush goes in maxBatch slices, in order, one flush at a time', async () => {
    const f = controlledFlush();
    const commit = new GroupCommit<number, string>(f.flush, 1, 3, () => false);
    const results = Array.from({ length: 10 }, (_, i) => commit.submit(i));
    while (f.open().length) {
      expect(f.open()).toHaveLength(1);
      f.open()[0]!.finish();
      await settle();
    }
    expect(f.batches.map((b) => b.items)).toEqual([[0], [1, 2, 3], [4, 5, 6], [7, 8, 9]]);
    expect(await Promise.all(results)).toEqual(Array.from({ length: 10 }, (_, i) => `r${i}`));
  });

  it('a batch that fails unsplittably rejects its own items only; batches in flight beside it are written', async () => {
    const f = controlledFlush();
    const commit = new GroupCommit<number, string>(f.flush, 2, 4, () => false);
    const settled = Promise.allSettled(Array.from({ length: 10 }, (_, i) => commit.submit(i)));
    await settle();
    expect(f.batches.map((b) => b.items)).toEqual([[0], [1]]);
    f.batches[1]!.finish(Object.assign(new Error('connection terminated'), { code: '57P01' }));
    await settle();
    expect(f.batches.map((b) => b.items)).toEqual([[0], [1], [2, 3, 4, 5]]);
    while (f.open().length) {
      f.open()[0]!.finish();
      await settle();
    }
    expect((await settled).map((r) => (r.status === 'fulfilled' ? r.value : 'rejected'))).toEqual(['r0', 'rejected', ...[2, 3, 4, 5, 6, 7, 8, 9].map((i) => `r${i}`)]);
  });

  it('splitting under concurrency: only the guilty items fail, every other item is written once with its own result', async () => {
    const written: number[] = [];
    const guilty = new Set([7, 16, 17]);
    let inFlight = 0;
    let maxInFlight = 0;
    const commit = new GroupCommit<number, string>(
      async (items) => {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await new Promise((r) => setTimeout(r, 1 + (items[0]! % 3)));
        inFlight--;
        if (items.some((i) => guilty.has(i))) throw dataError();
        written.push(...items);
        return items.map((i) => `ok ${i}`);
      },
      2,
      5,
      (err) => (err as { code?: string }).code === '22P05',
    );
    const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => commit.submit(i)));
    results.forEach((r, i) =>
      expect(r).toEqual(guilty.has(i) ? { status: 'rejected', reason: expect.objectContaining({ code: '22P05' }) } : { status: 'fulfilled', value: `ok ${i}` }),
    );
    expect([...written].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i).filter((i) => !guilty.has(i)));
    expect(maxInFlight).toBe(2);
  });
});

describe('GroupCommit linger (fake clock)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a lone item waits exactly the linger', async () => {
    vi.useFakeTimers();
    const sizes: number[] = [];
    const flush = async (items: number[]) => {
      sizes.push(items.length);
      return items;
    };
    const commit = new GroupCommit<number, number>(flush, 1, 10, () => false, 20);
    const one = commit.submit(1);
    await vi.advanceTimersByTimeAsync(19);
    expect(sizes).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(sizes).toEqual([1]);
    expect(await one).toBe(1);
  });

  it('concurrency 2, maxBatch 4: full batches go at once (two at a time), the remainder waits the linger', async () => {
    vi.useFakeTimers();
    const f = controlledFlush();
    const commit = new GroupCommit<number, string>(f.flush, 2, 4, () => false, 50);
    const results = Array.from({ length: 9 }, (_, i) => commit.submit(i));
    expect(f.batches.map((b) => b.items)).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
    ]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(f.batches).toHaveLength(2); // both flushes busy: the 9th waits for one, lingering does not start it
    f.batches[0]!.finish();
    await vi.advanceTimersByTimeAsync(49);
    expect(f.batches).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(f.batches.map((b) => b.items)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8]]);
    f.batches[1]!.finish();
    f.batches[2]!.finish();
    expect(await Promise.all(results)).toEqual(Array.from({ length: 9 }, (_, i) => `r${i}`));
  });
});

describe('GroupCommit overlap (fake clock)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a second flush starts only once the running one has taken overlapAfterMs; one that ends sooner takes what waited', async () => {
    vi.useFakeTimers();
    const f = controlledFlush();
    const commit = new GroupCommit<number, string>(f.flush, 2, 10, () => false, 0, 20);
    const results = [commit.submit(0), commit.submit(1), commit.submit(2)];
    expect(f.batches.map((b) => b.items)).toEqual([[0]]); // idle: the first goes at once, alone
    await vi.advanceTimersByTimeAsync(19);
    expect(f.batches).toHaveLength(1); // the others wait for it while it is quick
    f.batches[0]!.finish();
    await vi.advanceTimersByTimeAsync(0);
    expect(f.batches.map((b) => b.items)).toEqual([[0], [1, 2]]); // it ended in time: they go together, next
    results.push(commit.submit(3), commit.submit(4));
    await vi.advanceTimersByTimeAsync(19);
    expect(f.batches).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    // [1, 2] has taken 20 ms (a lock, a slow statement): what waited behind it goes beside it.
    expect(f.batches.map((b) => b.items)).toEqual([[0], [1, 2], [3, 4]]);
    expect(f.open()).toHaveLength(2);
    const five = commit.submit(5);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(f.batches).toHaveLength(3); // two running: the most it runs
    f.batches[2]!.finish();
    await vi.advanceTimersByTimeAsync(0);
    expect(f.batches.map((b) => b.items)).toEqual([[0], [1, 2], [3, 4], [5]]); // the oldest is long past its 20 ms
    f.batches[1]!.finish();
    f.batches[3]!.finish();
    expect(await Promise.all([...results, five])).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
  });

  it('a full batch does not wait for the overlap', async () => {
    vi.useFakeTimers();
    const f = controlledFlush();
    const commit = new GroupCommit<number, string>(f.flush, 2, 3, () => false, 0, 1_000);
    const results = Array.from({ length: 4 }, (_, i) => commit.submit(i));
    expect(f.batches.map((b) => b.items)).toEqual([[0], [1, 2, 3]]);
    f.batches.forEach((b) => b.finish());
    expect(await Promise.all(results)).toEqual(['r0', 'r1', 'r2', 'r3']);
  });

  it('with a weight, a batch holds at most its max (a heavier item alone), in order, and a full weight does not wait for the overlap', async () => {
    vi.useFakeTimers();
    const f = controlledFlush();
    // Items weigh their own value: 5 at most per batch, 100 items at most.
    const commit = new GroupCommit<number, string>(f.flush, 2, 100, () => false, 0, 1_000, { of: (i) => i, max: 5 });
    const results = [1, 2, 2, 1, 9, 3, 1].map((i) => commit.submit(i));
    // The first goes alone (idle); the next four weigh 5 together: a full batch goes beside it at once.
    expect(f.batches.map((b) => b.items)).toEqual([[1], [2, 2, 1]]);
    f.batches[0]!.finish();
    await vi.advanceTimersByTimeAsync(0);
    // 9 is over the max: it goes alone; 3 + 1 wait for the next turn.
    expect(f.batches.map((b) => b.items)).toEqual([[1], [2, 2, 1], [9]]);
    // 3 + 1 are not a full weight: beside a running flush they wait for the overlap, or for it to end.
    f.batches[1]!.finish();
    await vi.advanceTimersByTimeAsync(0);
    expect(f.batches).toHaveLength(3);
    f.batches[2]!.finish();
    await vi.advanceTimersByTimeAsync(0);
    expect(f.batches.map((b) => b.items)).toEqual([[1], [2, 2, 1], [9], [3, 1]]);
    f.batches[3]!.finish();
    expect(await Promise.all(results)).toEqual(['r1', 'r2', 'r2', 'r1', 'r9', 'r3', 'r1']);
  });
});
