import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPgPool,
  createPrismaClient,
  insertOutboundMessages,
  isOutboundCauseTaken,
  NewOutboundMessage,
  outboundWriteCtes,
  Pool,
  PrismaClient,
  statusMoveSetSql,
} from '@gtc/db';
import { ownDatabase } from '@gtc/testing';

// The one outbound writer (outbound-writer.ts) against a real Postgres of its own: contiguous, distinct seqs per
// contact under concurrent writers (through both of its callers' shapes), and (cause_id, ordinal) written once.
let db: { url: string; drop: () => Promise<void> };
let pool: Pool;
let prisma: PrismaClient;
let tenantId: string;
let providerId: string;

beforeAll(async () => {
  db = await ownDatabase('outbound_writer');
  pool = createPgPool(db.url, { max: 12 });
  prisma = createPrismaClient(db.url, {}, pool);
  const tenant = await prisma.tenant.create({ data: { slug: 'writer', name: 'Writer' } });
  const team = await prisma.team.create({ data: { tenantId: tenant.id, slug: 'support', name: 'Support' } });
  const provider = await prisma.whatsAppProvider.create({
    data: {
      tenantId: tenant.id,
      teamId: team.id,
      publicBaseUrl: 'http://127.0.0.1',
      phoneNumberId: '100000000000001',
      accessTokenEnc: 'sealed',
      verifyToken: 'v',
    },
  });
  tenantId = tenant.id;
  providerId = provider.id;
});
afterAll(async () => {
  await prisma?.$disconnect();
  await pool?.end();
  await db?.drop();
});

let phone = 15550000000;
const contact = () => prisma.contact.create({ data: { tenantId, providerId, waId: String(phone++) } });
const message = (text: string, extra: Partial<NewOutboundMessage> = {}): NewOutboundMessage => ({
  tenantId,
  providerId,
  type: 'text',
  body: { messaging_product: 'whatsapp', to: 'x', type: 'text', text: { body: text } },
  ...extra,
});
const seqsOf = async (contactId: string) =>
  (await prisma.outboundMessage.findMany({ where: { contactId }, orderBy: { seq: 'asc' } })).map(
    (r) => r.seq,
  );
const nextSeqOf = async (contactId: string) =>
  (await prisma.contact.findUniqueOrThrow({ where: { id: contactId } })).nextSeq;
const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** A statement shaped like the flow-runner's step: several contacts at once, composed from outboundWriteCtes. */
async function writeMany(
  writes: { contactId: string; texts: string[]; causeId?: string }[],
): Promise<{ id: string; contact_id: string; seq: number }[]> {
  const rows = writes.flatMap((w) =>
    w.texts.map((t, i) => ({
      contactId: w.contactId,
      i,
      causeId: w.causeId ?? null,
      body: JSON.stringify({ text: t }),
    })),
  );
  const { rows: out } = await pool.query<{ id: string; contact_id: string; seq: number }>({
    text: `WITH step AS (
        SELECT * FROM unnest($1::uuid[], $2::int[]) AS x(contact_id, n)
      ), msg AS (
        SELECT r.contact_id, r.pos, $5::uuid AS tenant_id, $6::uuid AS provider_id, r.cause_id, r.pos AS ordinal, 'text' AS type,
               r.body::jsonb AS body, false AS business_initiated, true AS retry_on_rate_limit
        FROM unnest($3::uuid[], $4::int[], $7::text[], $8::text[]) AS r(contact_id, pos, cause_id, body)
      ), ${outboundWriteCtes({ contacts: 'step', messages: 'msg', returning: 'id, contact_id, seq' })}
      SELECT * FROM outb ORDER BY contact_id, seq`,
    values: [
      writes.map((w) => w.contactId),
      writes.map((w) => w.texts.length),
      rows.map((r) => r.contactId),
      rows.map((r) => r.i),
      tenantId,
      providerId,
      rows.map((r) => r.causeId),
      rows.map((r) => r.body),
    ],
  });
  return out;
}

describe('insertOutboundMessages (one contact, one statement)', () => {
  it("writes the rows at the contact's next seqs, answers them as Prisma reads them, and moves next_seq on", async () => {
    const c = await contact();
    const before = await prisma.contact.findUniqueOrThrow({ where: { id: c.id } });
    const rows = await insertOutboundMessages(prisma, c.id, [
      message('one'),
      message('two', { businessInitiated: true, retryOnRateLimit: false }),
      message('three'),
    ]);
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(rows.map((r) => r.ordinal)).toEqual([0, 1, 2]);
    expect(rows.map((r) => [r.businessInitiated, r.retryOnRateLimit])).toEqual([
      [false, true],
      [true, false],
      [false, true],
    ]);
    const read = await prisma.outboundMessage.findMany({
      where: { contactId: c.id },
      orderBy: { seq: 'asc' },
    });
    expect(rows).toEqual(read);
    expect(read.every((r) => r.state === 'queued' && r.contactId === c.id && r.causeId === null)).toBe(true);
    const after = await prisma.contact.findUniqueOrThrow({ where: { id: c.id } });
    expect(after.nextSeq).toBe(4);
    expect(after.updatedAt.getTime()).toBeGreaterThanOrEqual(before.updatedAt.getTime());

    const more = await insertOutboundMessages(prisma, c.id, [message('four')]);
    expect(more.map((r) => r.seq)).toEqual([4]);
    expect(await insertOutboundMessages(prisma, c.id, [])).toEqual([]);
    expect(await nextSeqOf(c.id)).toBe(5);
  });

  it("inside the caller's transaction: rolled back with it, seq and all", async () => {
    const c = await contact();
    await expect(
      prisma.$transaction(async (tx) => {
        await insertOutboundMessages(tx, c.id, [message('one'), message('two')]);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await seqsOf(c.id)).toEqual([]);
    expect(await nextSeqOf(c.id)).toBe(1);
  });

  it('writes nothing for a contact that does not exist', async () => {
    expect(await insertOutboundMessages(prisma, randomUUID(), [message('nobody')])).toEqual([]);
  });
});

describe('concurrent writers', () => {
  it('get contiguous, distinct seqs per contact: single-contact writes and multi-contact statements, contacts in any order', async () => {
    const [a, b, c] = [await contact(), await contact(), await contact()];
    const ids = [a.id, b.id, c.id];
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 12; i++) {
      const order = i % 2 ? [...ids].reverse() : ids;
      writes.push(writeMany(order.map((id) => ({ contactId: id, texts: [`m${i}-1`, `m${i}-2`] }))));
      writes.push(
        insertOutboundMessages(prisma, ids[i % 3], [
          message(`s${i}-1`),
          message(`s${i}-2`),
          message(`s${i}-3`),
        ]),
      );
      writes.push(
        prisma.$transaction((tx) => insertOutboundMessages(tx, ids[(i + 1) % 3], [message(`t${i}`)])),
      );
    }
    await Promise.all(writes);
    // Each contact: 12 × 2 from the multi-contact statements, 4 × 3 single writes, 4 × 1 in transactions.
    for (const id of ids) {
      expect(await seqsOf(id)).toEqual(range(24 + 12 + 4));
      expect(await nextSeqOf(id)).toBe(41);
    }
    // Each write's rows are consecutive in its order (the first write of m0 to a has seqs n, n+1 in reply order).
    const rows = await prisma.outboundMessage.findMany({
      where: { contactId: a.id },
      orderBy: { seq: 'asc' },
    });
    const bodies = rows.map((r) => JSON.stringify(r.body));
    for (let i = 0; i < 12; i++) {
      const first = bodies.findIndex((t) => t.includes(`"m${i}-1"`));
      expect(bodies[first + 1]).toContain(`"m${i}-2"`);
    }
  });
});

describe('(cause_id, ordinal) is written once', () => {
  it('a repeated cause fails the whole write, recognised by isOutboundCauseTaken, with no seq taken', async () => {
    const c = await contact();
    const cause = `api:${randomUUID()}`;
    const [first] = await insertOutboundMessages(prisma, c.id, [
      message('once', { causeId: cause, ordinal: 0 }),
    ]);
    const again = await insertOutboundMessages(prisma, c.id, [
      message('other', { causeId: `api:${randomUUID()}` }),
      message('once', { causeId: cause, ordinal: 0 }),
    ]).catch((err: unknown) => err);
    expect(isOutboundCauseTaken(again)).toBe(true);
    expect(await seqsOf(c.id)).toEqual([first.seq]);
    expect(await nextSeqOf(c.id)).toBe(2);
    // The same cause with another ordinal is another message.
    const [second] = await insertOutboundMessages(prisma, c.id, [
      message('twice', { causeId: cause, ordinal: 1 }),
    ]);
    expect(second.seq).toBe(2);
  });

  it('node-postgres reports it too (the composed statement on the pool): 23505 on the cause key', async () => {
    const c = await contact();
    const cause = randomUUID();
    await writeMany([{ contactId: c.id, texts: ['reply'], causeId: cause }]);
    const err = await writeMany([{ contactId: c.id, texts: ['reply'], causeId: cause }]).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: '23505', constraint: 'outbound_messages_cause_id_ordinal_key' });
    expect(isOutboundCauseTaken(err)).toBe(true);
    expect(isOutboundCauseTaken(new Error('other'))).toBe(false);
    expect(await nextSeqOf(c.id)).toBe(2);
  });

  it('concurrent writes of one cause (an Idempotency-Key sent twice at once): one row, the others refused, no gap', async () => {
    const c = await contact();
    const cause = `api:${randomUUID()}`;
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () =>
        insertOutboundMessages(prisma, c.id, [message('once', { causeId: cause, ordinal: 0 })]),
      ),
    );
    const written = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(written).toHaveLength(1);
    expect(refused.every((r) => isOutboundCauseTaken(r.reason))).toBe(true);
    expect(await seqsOf(c.id)).toEqual([1]);
    const [next] = await insertOutboundMessages(prisma, c.id, [message('next')]);
    expect(next.seq).toBe(2);
  });
});

describe("a message's state changes (migration 20261206040000_outbound_hot_state)", () => {
  it('claim, delivered and read update the row in place (HOT: no index entry); the send, which sets the wamid, does not', async () => {
    const c = await contact();
    const [m] = await insertOutboundMessages(prisma, c.id, [message('in place')]);
    const client = await pool.connect();
    try {
      // pg_stat_xact_user_tables: this transaction's own updates of the table, and how many of them were HOT.
      await client.query('BEGIN');
      const step = async (sql: string) => {
        await client.query(sql, [m.id]);
        const { rows } = await client.query<{ upd: number; hot: number }>(
          `SELECT n_tup_upd::int AS upd, n_tup_hot_upd::int AS hot FROM pg_stat_xact_user_tables WHERE relname = 'outbound_messages'`,
        );
        return rows[0];
      };
      const move = (status: string) =>
        `UPDATE outbound_messages o SET ${statusMoveSetSql({ status: `'${status}'`, sentAt: 'now()', deliveredAt: 'now()', readAt: 'now()', failedAt: 'now()', errors: `'[]'::jsonb` })} WHERE o.id = $1`;
      // The sender's claim (outbound.store.ts), then its record of the send, then the statuses' moves (status-move.ts).
      expect(await step(`UPDATE outbound_messages SET state = 'sending', sending_at = now(), attempts = attempts + 1, updated_at = now() WHERE id = $1`)).toEqual({ upd: 1, hot: 1 });
      expect(await step(`UPDATE outbound_messages SET wamid = 'wamid.in-place', state = 'sent', sent_at = now(), updated_at = now() WHERE id = $1`)).toEqual({ upd: 2, hot: 1 });
      expect(await step(move('delivered'))).toEqual({ upd: 3, hot: 2 });
      expect(await step(move('read'))).toEqual({ upd: 4, hot: 3 });
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const done = await prisma.outboundMessage.findUniqueOrThrow({ where: { id: m.id } });
    expect([done.state, done.wamid, done.attempts]).toEqual(['read', 'wamid.in-place', 1]);
  });
});
