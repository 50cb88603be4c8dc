import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient } from '@gtc/db';
import { createTestProvider, postWebhook, Stack, startStack, statusWebhook, testEnv, TestProvider } from '@gtc/testing';

// Whole stack, real Postgres and Redis: ingress applies statuses in its own group commit, wakes a message whose
// ordering gate a status opened, and only a status that leaves work for the sender (an unknown message, a failure)
// becomes a status job. Jobs are counted with BullMQ's id counter of the status queue, which every add increments.
const { databaseUrl, redisUrl, redisPrefix } = testEnv();
const prefix = `${redisPrefix}-status-jobs`;
const prisma = createPrismaClient(databaseUrl);
const outboundQueue = new Queue('outbound', { connection: { url: redisUrl }, prefix });
const statusQueue = new Queue('status', { connection: { url: redisUrl }, prefix });
let stack: Stack;
let p: TestProvider;
let phone = 4430000000;

/** A signed webhook to the provider's URL carrying the given statuses for its number. */
async function postStatuses(statuses: Record<string, unknown>[]): Promise<number> {
  const body = statusWebhook(p, statuses);
  return postWebhook(stack.ingress.url, p, body);
}

/** How many jobs were ever added to the status queue. */
async function statusJobsAdded(): Promise<number> {
  const client = await statusQueue.client;
  return Number((await client.get(`${prefix}:status:id`)) ?? 0);
}

/** A contact with an open window and messages written as the sender leaves them: the first `sent` under a wamid. */
async function conversation(states: string[]) {
  const to = String(phone++);
  const contact = await prisma.contact.create({
    data: { tenantId: p.tenantId, providerId: p.providerId, waId: to, lastInboundAt: new Date(), nextSeq: states.length + 1 },
  });
  const rows = [];
  for (const [i, state] of states.entries()) {
    rows.push(
      await prisma.outboundMessage.create({
        data: {
          tenantId: p.tenantId,
          providerId: p.providerId,
          contactId: contact.id,
          seq: i + 1,
          type: 'text',
          body: { messaging_product: 'whatsapp', to, type: 'text', text: { body: `message ${i + 1}` } },
          state,
          ...(state === 'sent' ? { wamid: `wamid.test.${to}.${i + 1}`, attempts: 1, sendingAt: new Date(), sentAt: new Date() } : {}),
        },
      }),
    );
  }
  return { to, rows };
}

const message = (id: string) => prisma.outboundMessage.findUniqueOrThrow({ where: { id } });

beforeAll(async () => {
  stack = await startStack({ databaseUrl, redisUrl, redisPrefix: prefix, env: { RECONCILE_INTERVAL_MS: '1000' } });
  // The simulator's own statuses for the message sent in the test come long after it ends: only ours count.
  await stack.sim('POST', '/sim/config', { status_latency_ms: { sent: 600_000, delivered: 600_000, read: 600_000 } });
  p = await createTestProvider(prisma, { tier: 'unlimited', ordering: 'delivered', orderingTimeoutMs: 600_000 });
  await stack.register(p);
});
afterAll(async () => {
  await stack?.stop();
  await Promise.all([outboundQueue.close(), statusQueue.close(), prisma.$disconnect()]);
});

describe('ingress applies statuses in its group commit', () => {
  it('applies delivered and read of a message with nothing waiting behind it, one per POST or all in one, without a status job', async () => {
    const before = await statusJobsAdded();
    const { rows: [single] } = await conversation(['sent']);
    // One status per POST, as Meta mostly sends: each is applied by the time ingress answers.
    expect(await postStatuses([{ id: single.wamid, status: 'delivered', recipient_id: 'x' }])).toBe(200);
    expect(await message(single.id)).toMatchObject({ state: 'delivered' });
    expect(await postStatuses([{ id: single.wamid, status: 'read', recipient_id: 'x' }])).toBe(200);
    // A redelivered delivered, coming after the read, changes nothing.
    expect(await postStatuses([{ id: single.wamid, status: 'delivered', recipient_id: 'x' }])).toBe(200);
    const read = await message(single.id);
    expect(read).toMatchObject({ state: 'read' });
    expect(read.deliveredAt).not.toBeNull();
    expect(read.readAt).not.toBeNull();

    // sent, delivered and read of another message in one webhook: applied together, each state's time kept.
    const { rows: [batched] } = await conversation(['sent']);
    const t = Math.floor(Date.now() / 1000);
    expect(
      await postStatuses([
        { id: batched.wamid, status: 'read', timestamp: String(t + 2), recipient_id: 'x' },
        { id: batched.wamid, status: 'sent', timestamp: String(t), recipient_id: 'x' },
        { id: batched.wamid, status: 'delivered', timestamp: String(t + 1), recipient_id: 'x' },
      ]),
    ).toBe(200);
    const all = await message(batched.id);
    expect(all).toMatchObject({ state: 'read', deliveredAt: new Date((t + 1) * 1000), readAt: new Date((t + 2) * 1000) });

    const rows = await prisma.statusEvent.findMany({ where: { providerId: p.providerId, wamid: { in: [single.wamid!, batched.wamid!] } } });
    expect(rows).toHaveLength(5);
    expect(rows.every((r) => r.appliedAt !== null && r.outboundId === (r.wamid === single.wamid ? single.id : batched.id))).toBe(true);
    for (const r of rows) expect(await statusQueue.getJob(`s_${r.id}`)).toBeUndefined();
    expect(await statusJobsAdded()).toBe(before);
  });

  it('a status that overtakes its send\'s record is matched through biz_opaque_callback_data and applied at once, without a status job', async () => {
    // The sender claimed the message and Meta answered, but the wamid is not recorded yet when Meta's status comes.
    const { to, rows: [row] } = await conversation(['queued']);
    await prisma.outboundMessage.update({ where: { id: row.id }, data: { state: 'sending', attempts: 1, sendingAt: new Date() } });
    const before = await statusJobsAdded();
    const wamid = `wamid.overtaken.${row.id}`;
    expect(await postStatuses([{ id: wamid, status: 'delivered', recipient_id: to, biz_opaque_callback_data: row.id }])).toBe(200);
    expect(await message(row.id)).toMatchObject({ state: 'delivered', wamid });
    const [event] = await prisma.statusEvent.findMany({ where: { providerId: p.providerId, wamid } });
    expect(event).toMatchObject({ outboundId: row.id });
    expect(event.appliedAt).not.toBeNull();
    expect(await statusJobsAdded()).toBe(before);

    // A callback with the shape of our ids that names no message of ours leaves the status unknown: kept unapplied,
    // with its job (the sender looks again: it may be a send whose record is on its way).
    const stray = `wamid.stray.${row.id}`;
    const notOurs = '00000000-0000-4000-8000-000000000000';
    expect(await postStatuses([{ id: stray, status: 'sent', recipient_id: to, biz_opaque_callback_data: notOurs }])).toBe(200);
    const [unknown] = await prisma.statusEvent.findMany({ where: { providerId: p.providerId, wamid: stray } });
    expect(unknown).toMatchObject({ outboundId: null, appliedAt: null, callbackId: notOurs });
    // (enqueued just after the webhook is answered)
    await expect.poll(statusJobsAdded, { timeout: 10_000 }).toBe(before + 1);
    expect(await statusQueue.getJob(`s_${unknown.id}`)).toBeDefined();
    expect(await statusQueue.getJob(`s_${event.id}`)).toBeUndefined();
    expect(await message(row.id)).toMatchObject({ state: 'delivered', wamid });
  });

  it('a status of an unknown message whose callback data cannot be one of our ids (or that has none) is kept unapplied without a status job, and the reconciler never sweeps it', async () => {
    const { to, rows: [row] } = await conversation(['sent']);
    const before = await statusJobsAdded();
    // Statuses of messages another app sent from the same number: 100 in one webhook, none of them a job.
    const foreign = Array.from({ length: 100 }, (_, i) => `wamid.foreign.${row.id}.${i}`);
    expect(
      await postStatuses(foreign.map((id, i) => ({ id, status: 'delivered', recipient_id: to, ...(i % 2 ? { biz_opaque_callback_data: `app-${i}` } : {}) }))),
    ).toBe(200);
    const kept = await prisma.statusEvent.findMany({ where: { providerId: p.providerId, wamid: { in: foreign } } });
    expect(kept).toHaveLength(100);
    expect(kept.every((e) => e.outboundId === null && e.appliedAt === null)).toBe(true);

    // No job came of them, then or from the reconciler's sweeps (it takes only statuses whose message is known).
    await new Promise((r) => setTimeout(r, 7_000));
    expect(await statusJobsAdded()).toBe(before);

    // The sweep reads only statuses that got a job (status_events_pending_idx), so another app's traffic costs it
    // nothing: even once one of those wamids is a message's (here by hand; a send's record would apply its waiting
    // statuses itself, applyPending), the reconciler's passes (every second here) leave it alone.
    await prisma.outboundMessage.update({ where: { id: row.id }, data: { wamid: foreign[0] } });
    await new Promise((r) => setTimeout(r, 4_000));
    expect(await statusJobsAdded()).toBe(before);
    expect(await message(row.id)).toMatchObject({ state: 'sent' });
    expect(await prisma.statusEvent.findFirstOrThrow({ where: { providerId: p.providerId, wamid: foreign[0] } })).toMatchObject({ outboundId: null, appliedAt: null });
  });

  it('a status left for a job whose message becomes known after its job ran is offered again by the reconciler and applied', async () => {
    const { to, rows: [row] } = await conversation(['sent']);
    const before = await statusJobsAdded();
    // Callback data of our ids' shape naming no message: kept unapplied with a job, which finds nothing to do.
    const wamid = `wamid.later.${row.id}`;
    expect(await postStatuses([{ id: wamid, status: 'delivered', recipient_id: to, biz_opaque_callback_data: '00000000-0000-4000-8000-000000000001' }])).toBe(200);
    const event = await prisma.statusEvent.findFirstOrThrow({ where: { providerId: p.providerId, wamid } });
    expect(event).toMatchObject({ outboundId: null, appliedAt: null });
    await expect.poll(async () => (await statusQueue.getJob(`s_${event.id}`))?.finishedOn ?? null, { timeout: 10_000 }).not.toBeNull();
    await statusQueue.remove(`s_${event.id}`);
    expect(await statusJobsAdded()).toBe(before + 1);

    // Its message is known now (here by hand): the sweep (status_events_pending_idx) offers it again.
    await prisma.outboundMessage.update({ where: { id: row.id }, data: { wamid } });
    await expect.poll(async () => (await message(row.id)).state, { timeout: 20_000, interval: 100 }).toBe('delivered');
    expect(await statusJobsAdded()).toBe(before + 2);
    expect(await prisma.statusEvent.findUniqueOrThrow({ where: { id: event.id } })).toMatchObject({ outboundId: row.id });
  });

  it('a job that finds its message sent applies the statuses without callback data that came before the send was recorded', async () => {
    // The sender claimed the message; Meta's status, without callback data, comes before the send's record.
    const { to, rows: [row] } = await conversation(['queued']);
    await prisma.outboundMessage.update({ where: { id: row.id }, data: { state: 'sending', attempts: 1, sendingAt: new Date() } });
    const before = await statusJobsAdded();
    const wamid = `wamid.first.${row.id}`;
    expect(await postStatuses([{ id: wamid, status: 'delivered', recipient_id: to }])).toBe(200);
    // The send is recorded, and its process dies before applying what came first: its job runs again.
    await prisma.outboundMessage.update({ where: { id: row.id }, data: { state: 'sent', wamid, sentAt: new Date() } });
    await outboundQueue.add('outbound', { outboundId: row.id }, { jobId: `o_${row.id}`, removeOnComplete: true });
    await expect.poll(async () => (await message(row.id)).state, { timeout: 20_000, interval: 100 }).toBe('delivered');
    expect(await prisma.statusEvent.findFirstOrThrow({ where: { providerId: p.providerId, wamid } })).toMatchObject({ outboundId: row.id });
    expect((await prisma.statusEvent.findFirstOrThrow({ where: { providerId: p.providerId, wamid } })).appliedAt).not.toBeNull();
    // Nothing was sent again, and no status job was needed.
    expect(await stack.sim<unknown[]>('GET', `/sim/messages?to=${to}&phone_number_id=${p.phoneNumberId}`)).toEqual([]);
    expect(await statusJobsAdded()).toBe(before);
  });

  it('of two wamids whose statuses name one message without a wamid in one webhook, the first is bound; the other stays unmatched', async () => {
    const { to, rows: [row] } = await conversation(['queued']);
    await prisma.outboundMessage.update({ where: { id: row.id }, data: { state: 'sending', attempts: 1, sendingAt: new Date() } });
    const [first, second] = [`wamid.a.${row.id}`, `wamid.b.${row.id}`];
    expect(await postStatuses([
      { id: second, status: 'sent', recipient_id: to, biz_opaque_callback_data: row.id },
      { id: first, status: 'delivered', recipient_id: to, biz_opaque_callback_data: row.id },
    ])).toBe(200);
    expect(await message(row.id)).toMatchObject({ state: 'delivered', wamid: first });
    const events = await prisma.statusEvent.findMany({ where: { providerId: p.providerId, wamid: { in: [first, second] } } });
    // A bound status carries its message's wamid (retention and erasure find a message's statuses by it).
    expect(events.map((e) => [e.wamid, e.outboundId, e.appliedAt !== null]).sort()).toEqual([
      [first, row.id, true],
      [second, null, false],
    ]);
  });

  it('a delivered that opens the gate of a waiting message is applied at once and that message is woken by ingress before its recheck, without a status job', async () => {
    const { to, rows: [first, second] } = await conversation(['sent', 'queued']);
    await outboundQueue.add('outbound', { outboundId: second.id }, { jobId: `o_${second.id}`, removeOnComplete: true });
    const client = await outboundQueue.client;
    // The second message waits on the gate (first not delivered) in the delayed set; take a wait with time left.
    let until = 0;
    await expect
      .poll(async () => {
        const score = await client.zscore(`${prefix}:outbound:delayed`, `o_${second.id}`);
        until = score === null ? 0 : Math.floor(Number(score) / 0x1000);
        return until - Date.now();
      }, { timeout: 20_000, interval: 50 })
      .toBeGreaterThan(2_000);

    const before = await statusJobsAdded();
    expect(await postStatuses([{ id: first.wamid, status: 'delivered', recipient_id: to }])).toBe(200);
    expect(await message(first.id)).toMatchObject({ state: 'delivered' });
    await expect.poll(async () => (await message(second.id)).state, { timeout: 20_000, interval: 50 }).toBe('sent');

    // Woken by the status (promoted), not by its own recheck: the simulator received it before the wait was over.
    const [received] = await stack.sim<{ body: { text: { body: string } }; received_at: string }[]>('GET', `/sim/messages?to=${to}&phone_number_id=${p.phoneNumberId}`);
    expect(received.body.text.body).toBe('message 2');
    expect(Date.parse(received.received_at)).toBeLessThan(until);
    // No status job: the status was written applied, and ingress brought the waiting job forward itself.
    expect(await statusJobsAdded()).toBe(before);
    expect((await prisma.statusEvent.findFirstOrThrow({ where: { providerId: p.providerId, wamid: first.wamid! } })).appliedAt).not.toBeNull();
  });
});
