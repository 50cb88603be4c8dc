import { afterAll, describe, expect, it } from 'vitest';
import { createPgPool } from '@gtc/db';
import { testEnv } from '@gtc/testing';

// The session settings every connection of our pools gets (createPgPool), against the real Postgres.
const pool = createPgPool(testEnv().databaseUrl, { max: 1 });
afterAll(() => pool.end());

describe('createPgPool', () => {
  it('opens sessions in UTC, without JIT and without sequential scans where an index serves', async () => {
    const { rows } = await pool.query<{ tz: string; jit: string; seq: string }>(
      `SELECT current_setting('TimeZone') AS tz, current_setting('jit') AS jit, current_setting('enable_seqscan') AS seq`,
    );
    expect(rows[0]).toEqual({ tz: 'UTC', jit: 'off', seq: 'off' });
  });

  it('keeps a batch statement prepared on a small table on its index, so that its cached plan still fits once the table has grown', async () => {
    const client = await pool.connect();
    try {
      await client.query(`CREATE TEMP TABLE seq_probe (id int PRIMARY KEY, v text)`);
      await client.query(`INSERT INTO seq_probe SELECT g, 'v' FROM generate_series(1, 50) g`);
      await client.query(`PREPARE seq_probe_batch(int[]) AS SELECT p.v FROM unnest($1) AS x(id) JOIN seq_probe p ON p.id = x.id`);
      // Past five runs Postgres keeps the generic plan it makes now, while the table is small.
      for (let i = 0; i < 6; i++) await client.query(`EXECUTE seq_probe_batch('{1,2,3}')`);
      await client.query(`INSERT INTO seq_probe SELECT g, 'v' FROM generate_series(51, 100000) g`);
      const { rows } = await client.query(`EXPLAIN EXECUTE seq_probe_batch('{1,2,3}')`);
      const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toMatch(/Index Scan using seq_probe_pkey/);
      expect(plan).not.toMatch(/Seq Scan/);
    } finally {
      await client.query(`DISCARD ALL`);
      client.release();
    }
  });

  it('does not compile a statement whose estimate passes jit_above_cost', async () => {
    // Estimated above the default jit_above_cost (100,000): with JIT on, Postgres would compile it.
    const { rows } = await pool.query(`EXPLAIN (FORMAT JSON) SELECT count(*) FROM generate_series(1, 10000000) g WHERE g % 7 = 0`);
    const plan = rows[0]['QUERY PLAN'][0];
    expect(plan.Plan['Total Cost']).toBeGreaterThan(100_000);
    expect(plan.JIT).toBeUndefined();
  });
});
