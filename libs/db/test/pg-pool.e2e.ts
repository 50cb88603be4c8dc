import { afterAll, describe, expect, it } from 'vitest';
import { createPgPool } from '@gtc/db';
import { testEnv } from '@gtc/testing';

// The session settings every connection of our pools gets (createPgPool), against the real Postgres.
const pool = createPgPool(testEnv().databaseUrl, { max: 1 });
afterAll(() => pool.end());

describe('createPgPool', () => {
  it('opens sessions in UTC and without JIT', async () => {
    const { rows } = await pool.query<{ tz: string; jit: string }>(`SELECT current_setting('TimeZone') AS tz, current_setting('jit') AS jit`);
    expect(rows[0]).toEqual({ tz: 'UTC', jit: 'off' });
  });

  it('does not compile a statement whose estimate passes jit_above_cost', async () => {
    // Estimated above the default jit_above_cost (100,000): with JIT on, Postgres would compile it.
    const { rows } = await pool.query(`EXPLAIN (FORMAT JSON) SELECT count(*) FROM generate_series(1, 10000000) g WHERE g % 7 = 0`);
    const plan = rows[0]['QUERY PLAN'][0];
    expect(plan.Plan['Total Cost']).toBeGreaterThan(100_000);
    expect(plan.JIT).toBeUndefined();
  });
});
