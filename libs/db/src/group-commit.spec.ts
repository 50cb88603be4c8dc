import { describe, expect, it } from 'vitest';
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
