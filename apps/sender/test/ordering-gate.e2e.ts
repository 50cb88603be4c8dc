import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgPool, createPrismaClient, ORDERING_RECHECK_MS, PrismaClient } from '@gtc/db';
import { createTestProvider, ownDatabase, Stack, startStack, testEnv, TestProvider } from '@gtc/testing';

// The sender holding a message at its recipient's ordering gate, whole stack on a database of its own (the test locks
// the numbers' table, which would stall every other file's stack on the run's shared database). Real processes,
// Postgres and Redis.
const { redisUrl, redisPrefix } = testEnv();
const prefix = `${redisPrefix}-ordering-gate`;
const outboundQueue = new Queue('outbound', { connection: { url: redisUrl }, prefix });
let db: { url: string; drop: () => Promise<void> };
let prisma: PrismaClient;
let stack: Stack;
let p: TestProvider;

/** A contact with an open window and two messages to it: the first sent (not delivered yet), the second queued. */
async function sentThenQueued() {
  const to = '4431000001';
  const contact = await prisma.contact.create({ data: { tenantId: p.tenantId, providerId: p.providerId, waId: to, lastInboundAt: new Date(), nextSeq: 3 } });
  const row = (seq: number, sent: boolean) =>
    prisma.outboundMessage.create({
      data: {
        tenantId: p.tenantId,
        providerId: p.providerId,
        contactId: contact.id,
        seq,
        type: 'text',
        body: { messaging_product: 'whatsapp', to, type: 'text', text: { body: `message ${seq}` } },
        state: sent ? 'sent' : 'queued',
        ...(sent ? { wamid: `wamid.test.${to}.${seq}`, attempts: 1, sendingAt: new Date(), sentAt: new Date() } : {}),
      },
    });
  return { to, first: await row(1, true), second: await row(2, false) };
}

/** The sender's gtc_ordering_waits_total. */
async function orderingWaits(): Promise<number> {
  const text = await (await fetch(`${stack.senders[0].url}/metrics`)).text();
  return Number(/^gtc_ordering_waits_total(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? 0);
}

beforeAll(async () => {
  db = await ownDatabase('ordering_gate');
  prisma = createPrismaClient(db.url);
  stack = await startStack({ databaseUrl: db.url, redisUrl, redisPrefix: prefix });
  // The simulator's own statuses for the message sent in the test come long after it ends.
  await stack.sim('POST', '/sim/config', { status_latency_ms: { sent: 600_000, delivered: 600_000, read: 600_000 } });
  p = await createTestProvider(prisma, { tier: 'unlimited', ordering: 'delivered', orderingTimeoutMs: 600_000 });
  await stack.register(p);
});
afterAll(async () => {
  await stack?.stop();
  await Promise.all([outboundQueue.close(), prisma?.$disconnect()]);
  await db?.drop();
});

describe('the sender holding a message at its gate', () => {
  it('wakes a message it held on a stale read at once, when the release came while it was deciding (not at its recheck)', async () => {
    const { to, first, second } = await sentThenQueued();
    const waitsBefore = await orderingWaits();
    // The number is not cached by the sender yet: reading it is the sender's step between loading the message (its
    // earlier one still sent) and holding it, and a lock on the numbers' table stops the sender right there.
    const pool = createPgPool(db.url, { max: 1 });
    const locker = await pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE whatsapp_providers IN ACCESS EXCLUSIVE MODE');
      await outboundQueue.add('outbound', { outboundId: second.id }, { jobId: `o_${second.id}`, removeOnComplete: true });
      await expect
        .poll(
          async () => (await prisma.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%ordering_timeout_ms,%FROM whatsapp_providers WHERE id%'`)[0].n,
          { timeout: 20_000, interval: 20 },
        )
        .toBe(1);
      // The release, with no wake-up (ingress would have found the job running: nothing to wake), seen as the lock goes.
      await locker.query(`UPDATE outbound_messages SET state = 'delivered', delivered_at = now() WHERE id = $1::uuid`, [first.id]);
      await locker.query('COMMIT');
    } finally {
      locker.release();
      await pool.end();
    }
    const released = Date.now();
    // Held once, on what it had read; woken by its own look at the gate right after, not by its recheck.
    await expect.poll(async () => (await prisma.outboundMessage.findUniqueOrThrow({ where: { id: second.id } })).state, { timeout: 15_000, interval: 50 }).toBe('sent');
    expect(Date.now() - released).toBeLessThan(ORDERING_RECHECK_MS / 2);
    expect(await orderingWaits()).toBe(waitsBefore + 1);
    const received = await stack.sim<{ body: { text: { body: string } } }[]>('GET', `/sim/messages?to=${to}&phone_number_id=${p.phoneNumberId}`);
    expect(received.map((m) => m.body.text.body)).toEqual(['message 2']);
  });
});
