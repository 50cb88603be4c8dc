import { afterAll, describe, expect, it } from 'vitest';
import { batchStatement, createPgPool, NAMED_BATCH_MAX_ROWS } from '@gtc/db';
import { testEnv } from '@gtc/testing';

// batchStatement against the real Postgres, on one connection: the prepared statements listed are that connection's.
const pool = createPgPool(testEnv().databaseUrl, { max: 1 });
afterAll(() => pool.end());

const TEXT = `SELECT x.n * 2 AS d FROM unnest($1::int[]) WITH ORDINALITY AS x(n, k) ORDER BY x.k`;

async function preparedBatches(): Promise<{ name: string; generic_plans: number; custom_plans: number }[]> {
  const { rows } = await pool.query(
    `SELECT name, generic_plans::int, custom_plans::int FROM pg_prepared_statements WHERE name LIKE 'batch-%' ORDER BY name`,
  );
  return rows;
}

describe('batchStatement', () => {
  it('prepares a batch of up to NAMED_BATCH_MAX_ROWS rows once per connection, and Postgres reuses a generic plan for it', async () => {
    const rows = Array.from({ length: NAMED_BATCH_MAX_ROWS }, (_, i) => i);
    for (let i = 0; i < 8; i++) {
      const { rows: out } = await pool.query<{ d: number }>(batchStatement(TEXT, [rows]));
      expect(out.map((r) => r.d)).toEqual(rows.map((n) => n * 2));
    }
    const { name } = batchStatement(TEXT, [rows]);
    expect(name).toMatch(/^batch-[0-9a-f]{16}$/);
    const [prepared, ...others] = await preparedBatches();
    expect(others).toEqual([]);
    expect(prepared.name).toBe(name);
    // Parsed once, run 8 times; after its first custom plans Postgres keeps the generic one.
    expect(prepared.custom_plans + prepared.generic_plans).toBe(8);
    expect(prepared.generic_plans).toBeGreaterThan(0);
  });

  it('leaves a larger batch unnamed, planned for its size, and names each text apart', async () => {
    const rows = Array.from({ length: NAMED_BATCH_MAX_ROWS + 1 }, (_, i) => i);
    const statement = batchStatement(TEXT, [rows]);
    expect(statement.name).toBeUndefined();
    const before = await preparedBatches();
    const { rows: out } = await pool.query<{ d: number }>(statement);
    expect(out.map((r) => r.d)).toEqual(rows.map((n) => n * 2));
    expect(await preparedBatches()).toEqual(before);
    expect(batchStatement(`${TEXT} LIMIT 5`, [[1]]).name).not.toBe(batchStatement(TEXT, [[1]]).name);
    expect(batchStatement(TEXT, [[1]]).name).toBe(batchStatement(TEXT, [[1, 2, 3]]).name);
  });
});
