import { describe, expect, it } from 'vitest';
import { restoreString, StorageProblem, storableJson, storableKey, storableTimestamp } from './storable';

describe('storable', () => {
  it('escapes NUL and lone surrogates (in values and keys) reversibly, and leaves everything else as it is', () => {
    const problems: StorageProblem[] = [];
    const input = { text: { body: 'a\u0000b \\u0000 c' }, ['k\u0000']: ['\ud800', '\udc00x', '😀 ok \\n'], n: 1e30 };
    const out = storableJson(input, problems) as any;
    // No key or string holds NUL or a lone surrogate any more.
    const strings: string[] = [];
    JSON.stringify(out, (k, v) => (strings.push(k, typeof v === 'string' ? v : ''), v));
    expect(strings.filter((x) => /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(x))).toEqual([]);
    expect(JSON.parse(JSON.stringify(out))).toEqual(out);
    expect(restoreString(out.text.body)).toBe('a\u0000b \\u0000 c');
    expect(out['k\\u0000'].map(restoreString)).toEqual(['\ud800', '\udc00x', '😀 ok \\n']);
    expect(out['k\\u0000'][2]).toBe('😀 ok \\n');
    expect(out.n).toBe(1e30);
    expect(problems.map((p) => p.path)).toEqual(['text.body', 'k\\u0000', 'k\\u0000[0]', 'k\\u0000[1]']);
  });

  it('gives back a value that needs nothing equal, with no problem, its top level a copy to set fields on', () => {
    const problems: StorageProblem[] = [];
    const input = { id: 'wamid.X', text: { body: 'hello 😀 \\n' }, list: [1, 'two', null, { three: true }] };
    const out = storableJson(input, problems) as typeof input;
    expect(out).toEqual(input);
    expect(problems).toEqual([]);
    out.id = 'changed';
    expect(input.id).toBe('wamid.X');
    expect(storableJson('plain', problems)).toBe('plain');
    expect(storableJson([1, 2], problems)).toEqual([1, 2]);
  });

  it('keeps values nested deeper than jsonb takes as JSON text', () => {
    let deep: unknown[] = [];
    const root = deep;
    for (let i = 0; i < 200; i++) deep = (deep[0] = []) as unknown[];
    const problems: StorageProblem[] = [];
    const out = storableJson({ root }, problems);
    expect(problems).toEqual([expect.objectContaining({ problem: 'too_deep' })]);
    expect(JSON.stringify(out).length).toBeLessThan(2000);
  });

  it('hashes over-long keys the same way each time and clamps timestamps beyond tomorrow', () => {
    const problems: StorageProblem[] = [];
    const long = 'w'.repeat(3000);
    expect(storableKey(long, problems, 'wamid')).toBe(storableKey(long, [], 'wamid'));
    expect(storableKey(long, [], 'wamid')).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(storableKey('wamid.short', problems, 'wamid')).toBe('wamid.short');
    expect(storableTimestamp(1e30, 1_700_000_000, problems)).toBe(1_700_000_000);
    expect(storableTimestamp(1_699_999_000, 1_700_000_000, problems)).toBe(1_699_999_000);
    expect(problems.map((p) => p.problem)).toEqual(['key_too_long', 'timestamp_out_of_range']);
  });
});
