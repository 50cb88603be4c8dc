import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient, insertOutboundMessages, Prisma } from '@gtc/db';
import { createTestProvider, postWebhook, Stack, startStack, statusWebhook, testEnv, TestProvider } from '@gtc/testing';
import { buildMessageBody } from '@gtc/whatsapp';

// Whole stack, real Postgres and Redis: a status applies only to a message sent from the phone number whose
// webhook carried it. Another number's webhook naming our wamid or our id (biz_opaque_callback_data) is kept as
// unmatched for that number and changes nothing of ours.
const { databaseUrl, redisUrl, redisPrefix } = testEnv();
const prefix = `${redisPrefix}-status-scope`;
const prisma = createPrismaClient(databaseUrl);
const outboundQueue = new Queue('outbound', { connection: { url: redisUrl }, prefix });
const statusQueue = new Queue('status', { connection: { url: redisUrl }, prefix });
let stack: Stack;
let a: TestProvider;
let b: TestProvider;
let phone = 4420000000;

/** A signed status webhook to the provider's own URL, carrying the given statuses for its number. */
async function postStatuses(p: TestProvider, statuses: Record<string, unknown>[]): Promise<number> {
  const body = statusWebhook(p, statuses);
  return postWebhook(stack.ingress.url, p, body);
}

/** Waits until the sender has taken every status job (none waiting, delayed or running). */
async function statusJobsDone(): Promise<void> {
  await expect
    .poll(async () => {
      const c = await statusQueue.getJobCounts('wait', 'active', 'delayed', 'prioritized');
      return c.wait + c.active + c.delayed + c.prioritized;
    }, { timeout: 10_000, interval: 100 })
    .toBe(0);
}

/** A contact of the provider with a fresh inbound (open window). */
async function contactOf(p: TestProvider) {
  const to = String(phone++);
  return prisma.contact.create({ data: { tenantId: p.tenantId, providerId: p.providerId, waId: to, lastInboundAt: new Date() } });
}

beforeAll(async () => {
  stack = await startStack({
    databaseUrl,
    redisUrl,
    redisPrefix: prefix,
    // The unknown-outcome row of the second test is left to statuses alone (no resend while the test runs).
    env: { UNKNOWN_SEND_RECONCILE_MS: '600000', RECONCILE_INTERVAL_MS: '1000' },
  });
  // B's real delivered and read come late enough for A's forged statuses to arrive first.
  await stack.sim('POST', '/sim/config', { status_latency_ms: { sent: 5, delivered: 4000, read: 4500 } });
  a = await createTestProvider(prisma, { tier: 'unlimited' });
  b = await createTestProvider(prisma, { tier: 'unlimited' });
  await stack.register(a);
  await stack.register(b);
});
afterAll(async () => {
  await stack?.stop();
  await Promise.all([outboundQueue.close(), statusQueue.close(), prisma.$disconnect()]);
});

describe('statuses are bound to their phone number', () => {
  it("A's signed webhook with B's wamid leaves B's message alone, is kept unmatched for A, and B's real statuses still apply", async () => {
    const contact = await contactOf(b);
    const built = buildMessageBody({ message: 'your order shipped' }, contact.waId!);
    if (!built.ok) throw new Error(JSON.stringify(built.errors));
    const [row] = await prisma.$transaction((tx) =>
      insertOutboundMessages(tx, contact.id, [
        { tenantId: b.tenantId, providerId: b.providerId, type: built.type, body: built.body as unknown as Prisma.InputJsonValue },
      ]),
    );
    await outboundQueue.add('outbound', { outboundId: row.id }, { jobId: `o_${row.id}`, removeOnComplete: true });
    await expect.poll(async () => (await prisma.outboundMessage.findUnique({ where: { id: row.id } }))?.state, { timeout: 20_000 }).toBe('sent');
    const wamid = (await prisma.outboundMessage.findUniqueOrThrow({ where: { id: row.id } })).wamid!;

    // A forges failed, delivered and read for B's wamid, before B's own delivered/read arrive.
    const forged = [
      { id: wamid, status: 'failed', recipient_id: contact.waId, errors: [{ code: 131026, title: 'Message undeliverable' }] },
      { id: wamid, status: 'delivered', recipient_id: contact.waId },
      { id: wamid, status: 'read', recipient_id: contact.waId },
    ];
    expect(await postStatuses(a, forged)).toBe(200);
    const aRows = await prisma.statusEvent.findMany({ where: { providerId: a.providerId, wamid } });
    expect(aRows.map((r) => r.status).sort()).toEqual(['delivered', 'failed', 'read']);
    expect(aRows.map((r) => r.tenantId)).toEqual([a.tenantId, a.tenantId, a.tenantId]);
    await statusJobsDone();
    expect(await prisma.outboundMessage.findUniqueOrThrow({ where: { id: row.id } })).toMatchObject({ state: 'sent', failedAt: null });

    // B's real statuses are recorded for B (A's rows did not pre-empt them) and move B's message forward.
    await expect.poll(async () => (await prisma.outboundMessage.findUnique({ where: { id: row.id } }))?.state, { timeout: 20_000 }).toBe('read');
    const final = await prisma.outboundMessage.findUniqueOrThrow({ where: { id: row.id } });
    expect(final).toMatchObject({ state: 'read', failedAt: null, errorCode: null, lastError: null });
    const bRows = await prisma.statusEvent.findMany({ where: { providerId: b.providerId, wamid } });
    expect(bRows.map((r) => r.status).sort()).toEqual(['delivered', 'read', 'sent']);
    expect(bRows.every((r) => r.outboundId === row.id && r.appliedAt !== null)).toBe(true);
    // A's statuses stay unmatched for A's number: no message of A has that wamid.
    const aAfter = await prisma.statusEvent.findMany({ where: { providerId: a.providerId, wamid } });
    expect(aAfter.every((r) => r.outboundId === null && r.appliedAt === null)).toBe(true);
  });

  it("A's webhook carrying B's message id in biz_opaque_callback_data does not reconcile B's unknown send; B's own does", async () => {
    const contact = await contactOf(b);
    // A send whose answer was lost: no wamid, outcome unknown, only a status carrying our id can settle it.
    const row = await prisma.outboundMessage.create({
      data: {
        tenantId: b.tenantId,
        providerId: b.providerId,
        contactId: contact.id,
        seq: 1,
        type: 'text',
        body: { messaging_product: 'whatsapp', to: contact.waId, type: 'text', text: { body: 'hello' } },
        state: 'unknown',
        attempts: 1,
        sendingAt: new Date(),
      },
    });
    const forgedWamid = `wamid.forged.${row.id}`;
    expect(await postStatuses(a, [{ id: forgedWamid, status: 'sent', recipient_id: contact.waId, biz_opaque_callback_data: row.id }])).toBe(200);
    await expect.poll(() => prisma.statusEvent.count({ where: { providerId: a.providerId, wamid: forgedWamid } }), { timeout: 10_000 }).toBe(1);
    await statusJobsDone();
    expect(await prisma.outboundMessage.findUniqueOrThrow({ where: { id: row.id } })).toMatchObject({ state: 'unknown', wamid: null });

    // B's own webhook with the same id settles it: B's message adopts B's wamid and state.
    const realWamid = `wamid.real.${row.id}`;
    expect(await postStatuses(b, [{ id: realWamid, status: 'delivered', recipient_id: contact.waId, biz_opaque_callback_data: row.id }])).toBe(200);
    await expect.poll(async () => (await prisma.outboundMessage.findUnique({ where: { id: row.id } }))?.state, { timeout: 20_000 }).toBe('delivered');
    expect(await prisma.outboundMessage.findUniqueOrThrow({ where: { id: row.id } })).toMatchObject({ wamid: realWamid, state: 'delivered' });
    // A's status, processed long before, never touched it and stays unmatched for A.
    const aRow = await prisma.statusEvent.findFirstOrThrow({ where: { providerId: a.providerId, wamid: forgedWamid } });
    expect(aRow).toMatchObject({ tenantId: a.tenantId, callbackId: row.id, outboundId: null, appliedAt: null });
  });
});
