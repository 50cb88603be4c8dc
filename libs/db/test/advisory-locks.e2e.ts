import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from 'pg';
import { createPgPool, createPrismaClient, batchLocksSql, batchLocksTakenSql, Pool, PrismaClient, withDefaultUser } from '@gtc/db';
import { createTestProvider, ownDatabase } from '@gtc/testing';

// The outbound message locks (advisory-locks.ts) against a real Postgres of their own: a batch that changes messages
// waits for another batch holding any of them, in any list order, and its update writes no row lock of its own to the WAL.
let db: { url: string; drop: () => Promise<void> };
let pool: Pool;
let prisma: PrismaClient;
const ids: string[] = [];

/** A batch's update of messages `list` (as the sends' records and the statuses' batches run it): attempts + 1. */
const BATCH = `WITH x AS (SELECT * FROM unnest($1::uuid[]) AS x(id)), l AS (${batchLocksSql('outbound_messages', 'x', 'id')})
  UPDATE outbound_messages o SET attempts = o.attempts + 1 FROM x WHERE o.id = x.id AND ${batchLocksTakenSql('l')}`;

beforeAll(async () => {
  db = await ownDatabase('advisory_locks');
  pool = createPgPool(db.url, { max: 6 });
  prisma = createPrismaClient(db.url, {}, pool);
  const p = await createTestProvider(prisma);
  const contact = await prisma.contact.create({ data: { tenantId: p.tenantId, providerId: p.providerId, waId: '15551230000' } });
  for (let seq = 1; seq <= 4; seq++) {
    const row = await prisma.outboundMessage.create({ data: { tenantId: p.tenantId, providerId: p.providerId, contactId: contact.id, seq, type: 'text', body: {} } });
    ids.push(row.id);
  }
});
afterAll(async () => {
  await prisma?.$disconnect();
  await pool?.end();
  await db?.drop();
});

async function connect(): Promise<Client> {
  const c = new Client({ connectionString: withDefaultUser(db.url) });
  await c.connect();
  return c;
}

describe('outbound message locks', () => {
  it('make a batch wait for another that holds one of its messages, whatever the lists’ order, and both apply', async () => {
    const [first, second, watcher] = await Promise.all([connect(), connect(), connect()]);
    try {
      await first.query('BEGIN');
      await first.query(BATCH, [[ids[1], ids[0]]]);
      const secondPid = (await second.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      const waiting = second.query(BATCH, [[ids[2], ids[1]]]);
      // The second waits on an advisory lock (seen from a third connection), not on a row.
      await expect
        .poll(async () => (await watcher.query('SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE pid = $1', [secondPid])).rows[0], { timeout: 10_000 })
        .toEqual({ wait_event_type: 'Lock', wait_event: 'advisory' });
      // A batch of another message does not wait (the first still holds its locks).
      expect((await pool.query(BATCH, [[ids[3]]])).rowCount).toBe(1);
      await first.query('COMMIT');
      expect((await waiting).rowCount).toBe(2);
      const attempts = await prisma.outboundMessage.findMany({ where: { id: { in: ids } }, select: { id: true, attempts: true } });
      expect(Object.fromEntries(attempts.map((a) => [a.id, a.attempts]))).toEqual({ [ids[0]]: 1, [ids[1]]: 2, [ids[2]]: 1, [ids[3]]: 1 });
    } finally {
      await Promise.all([first.end(), second.end(), watcher.end()]);
    }
  });

  it('leave no lock record in the WAL, where a row lock taken first leaves one per row', async () => {
    const admin = await connect();
    try {
      await admin.query('CREATE EXTENSION IF NOT EXISTS pg_walinspect');
      const node = (await admin.query<{ node: string }>(`SELECT pg_relation_filenode('outbound_messages')::text AS node`)).rows[0].node;
      const lockRecords = async (run: () => Promise<unknown>) => {
        const from = (await admin.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0].lsn;
        await run();
        // Flushed at its commit (synchronous_commit): other sessions' records after it may not be yet.
        const to = (await admin.query<{ lsn: string }>('SELECT pg_current_wal_flush_lsn()::text AS lsn')).rows[0].lsn;
        const { rows } = await admin.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn)
           WHERE record_type = 'LOCK' AND block_ref ~ ('rel \\d+/\\d+/' || $3 || '( |$)')`,
          [from, to, node],
        );
        return rows[0].n;
      };
      expect(await lockRecords(() => pool.query(BATCH, [ids]))).toBe(0);
      const rowLocksFirst = `WITH l AS (SELECT id FROM outbound_messages WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE)
        UPDATE outbound_messages o SET attempts = o.attempts + 1 FROM l WHERE o.id = l.id`;
      expect(await lockRecords(() => pool.query(rowLocksFirst, [ids]))).toBe(ids.length);
    } finally {
      await admin.end();
    }
  });
});
