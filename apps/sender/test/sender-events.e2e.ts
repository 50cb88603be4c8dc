import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient, insertOutboundMessages, Prisma } from '@gtc/db';
import { createTestProvider, Stack, startStack, testEnv, TestProvider } from '@gtc/testing';
import { buildMessageBody } from '@gtc/whatsapp';

// The sender's events (issue 15): `message.failed` when it gives up on a message and `provider.paused` when it
// pauses a number, each written by the statement that makes the change, and only for a tenant with an endpoint
// that subscribes to it. Real processes (sender against graph-sim), real Postgres and Redis.
const { databaseUrl, redisUrl, redisPrefix } = testEnv();
const prefix = `${redisPrefix}-sender-events`;
const prisma = createPrismaClient(databaseUrl, { max: 10, connectionTimeoutMs: 30_000 });
const outboundQueue = new Queue('outbound', { connection: { url: redisUrl }, prefix });
let stack: Stack;
let phone = 3163000000;

/** Writes one text message to a new contact and enqueues it as admin does; `lastInboundAt: null` puts it outside the window. */
async function queueOne(p: TestProvider, text: string, lastInboundAt: Date | null = new Date()) {
  const to = String(phone++);
  const contact = await prisma.contact.create({ data: { tenantId: p.tenantId, providerId: p.providerId, waId: to, lastInboundAt } });
  const built = buildMessageBody({ message: text }, to);
  if (!built.ok) throw new Error(JSON.stringify(built.errors));
  const [row] = await prisma.$transaction((tx) =>
    insertOutboundMessages(tx, contact.id, [
      { tenantId: p.tenantId, providerId: p.providerId, type: built.type, body: built.body as unknown as Prisma.InputJsonValue, businessInitiated: false, retryOnRateLimit: true },
    ]),
  );
  await outboundQueue.add('outbound', { outboundId: row.id }, { jobId: `o_${row.id}`, removeOnComplete: true });
  return { to, contact, row, body: built.body };
}

/** A provider whose tenant has an endpoint subscribed to the sender's two events (null: a tenant without endpoints). */
async function provider(events: string[] | null): Promise<{ p: TestProvider; endpointId: string | null }> {
  const p = await createTestProvider(prisma, { tier: 'unlimited' });
  await stack.register(p);
  if (!events) return { p, endpointId: null };
  const endpoint = await prisma.eventEndpoint.create({ data: { tenantId: p.tenantId, url: 'https://receiver.example/hooks', events, secretEnc: 'not-used-here' } });
  return { p, endpointId: endpoint.id };
}

const eventsOf = (tenantId: string, type: string) => prisma.event.findMany({ where: { tenantId, type }, include: { deliveries: true }, orderBy: { createdAt: 'asc' } });
const state = async (id: string) => (await prisma.outboundMessage.findUniqueOrThrow({ where: { id } })).state;

beforeAll(async () => {
  stack = await startStack({ databaseUrl, redisUrl, redisPrefix: prefix, senders: 1, env: { SEND_MAX_ATTEMPTS: '3' } });
  await stack.sim('POST', '/sim/config', { status_latency_ms: { sent: 5, delivered: 30, read: 60 } });
});
afterAll(async () => {
  if (process.env.DUMP_LOGS) console.log(stack.logTail(40));
  await stack?.stop();
  await Promise.all([outboundQueue.close(), prisma.$disconnect()]);
});

describe('sender events', () => {
  it('a permanent failure and a closed window each write message.failed with the message, contact and reason; a tenant without endpoints gets none', async () => {
    const { p, endpointId } = await provider(['message.failed', 'provider.paused']);
    const { p: quiet } = await provider(null);
    const permanent = String(phone);
    const quietRecipient = String(phone + 1);
    await stack.sim('POST', '/sim/config', { send_errors: [{ code: 131026, count: 1, to: [permanent] }, { code: 131026, count: 1, to: [quietRecipient] }] });
    try {
      const refused = await queueOne(p, 'refused by Meta');
      expect(refused.to).toBe(permanent);
      const silent = await queueOne(quiet, 'refused, nobody listens');
      expect(silent.to).toBe(quietRecipient);
      const late = await queueOne(p, 'outside the window', null);
      for (const id of [refused.row.id, silent.row.id, late.row.id]) await expect.poll(() => state(id), { timeout: 30_000, interval: 250 }).toBe('failed');

      const failed = await eventsOf(p.tenantId, 'message.failed');
      expect(failed).toHaveLength(2);
      const byMessage = new Map(failed.map((e) => [(e.data as any).message.id, e]));
      const permanentEvent = byMessage.get(refused.row.id)!;
      expect(permanentEvent).toMatchObject({ tenantId: p.tenantId, teamId: p.teamId, contactId: refused.contact.id });
      expect(permanentEvent.data).toEqual({
        message: {
          id: refused.row.id,
          direction: 'outbound',
          wamid: null,
          type: 'text',
          content: refused.body,
          state: 'failed',
          error: { code: 131026, class: 'permanent', message: expect.stringContaining('permanent (131026)') },
        },
        contact: { id: refused.contact.id, wa_id: permanent, user_id: null, name: null },
        reason: { class: 'permanent', text: expect.stringContaining('permanent (131026)') },
      });
      expect(permanentEvent.deliveries.map((d) => ({ endpointId: d.endpointId, contactId: d.contactId }))).toEqual([{ endpointId, contactId: refused.contact.id }]);

      const windowEvent = byMessage.get(late.row.id)!;
      expect(windowEvent.contactId).toBe(late.contact.id);
      expect(windowEvent.data).toMatchObject({
        message: { id: late.row.id, state: 'failed', error: { code: null, class: 'window_closed' } },
        contact: { id: late.contact.id, wa_id: late.to },
        reason: { class: 'window_closed', text: 'the 24-hour customer service window is closed: only templates may be sent' },
      });

      expect(await prisma.event.count({ where: { tenantId: quiet.tenantId } })).toBe(0);
    } finally {
      await stack.sim('POST', '/sim/config', { send_errors: [] });
    }
  }, 90_000);

  it('an account-level error pauses the number and writes one provider.paused with its class, code and text; the held message fails nothing', async () => {
    const { p, endpointId } = await provider(['provider.paused']);
    await stack.sim('POST', '/sim/config', { send_errors: [{ code: 131042, phone_number_id: p.phoneNumberId }] });
    try {
      const first = await queueOne(p, 'before the payment problem');
      const second = await queueOne(p, 'also held');
      await expect.poll(async () => (await prisma.whatsAppProvider.findUniqueOrThrow({ where: { id: p.providerId } })).pausedCode, { timeout: 30_000 }).toBe(131042);
      await new Promise((r) => setTimeout(r, 1_000)); // any send in flight when the pause came has come back

      const paused = await eventsOf(p.tenantId, 'provider.paused');
      expect(paused).toHaveLength(1);
      expect(paused[0]).toMatchObject({ tenantId: p.tenantId, teamId: p.teamId, contactId: null });
      expect(paused[0].data).toEqual({
        provider: { id: p.providerId, phone_number_id: p.phoneNumberId },
        reason: { class: 'account', code: 131042, text: expect.stringContaining('account (131042)') },
      });
      expect(paused[0].deliveries.map((d) => ({ endpointId: d.endpointId, contactId: d.contactId }))).toEqual([{ endpointId, contactId: null }]);
      // Not subscribed to message.failed, and nothing failed anyway: the messages wait for a resume.
      expect(await prisma.event.count({ where: { tenantId: p.tenantId, type: { not: 'provider.paused' } } })).toBe(0);
      expect([await state(first.row.id), await state(second.row.id)]).toEqual(['queued', 'queued']);
    } finally {
      await stack.sim('POST', '/sim/config', { send_errors: [] });
    }
  }, 90_000);
});
