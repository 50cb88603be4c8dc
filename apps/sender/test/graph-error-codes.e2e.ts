import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient, insertOutboundMessages, Prisma } from '@gtc/db';
import { createTestProvider, ServiceProcess, Stack, startService, startStack, testEnv, TestProvider } from '@gtc/testing';
import { buildMessageBody, GRAPH_ERROR_CODES, type GraphErrorClass } from '@gtc/whatsapp';

// Every Graph error code the platform handles, end to end: graph-sim answers a send with the code (at the HTTP
// status Meta uses for it), the sender classes it, and the test checks what became of the message and of the
// provider: retried and delivered (throttled, transient), failed at once (window_closed, permanent), or the number
// paused with its reason, its messages kept queued and sent after an admin resumes it (auth, account).
const { databaseUrl, redisUrl, redisPrefix } = testEnv();
const prefix = `${redisPrefix}-graph-errors`;
const ADMIN_KEY = 'graph-error-codes-e2e-admin-key-0123456789';
const prisma = createPrismaClient(databaseUrl, { max: 10, connectionTimeoutMs: 30_000 });
const outboundQueue = new Queue('outbound', { connection: { url: redisUrl }, prefix });
let stack: Stack;
let admin: ServiceProcess;
let phone = 3162000000;

/** What the sender must do with a code, and so what the test expects. */
type Outcome = 'retried' | 'failed' | 'paused';
const OUTCOME: Record<GraphErrorClass, Outcome> = {
  throttled: 'retried',
  transient: 'retried',
  window_closed: 'failed',
  permanent: 'failed',
  auth: 'paused',
  account: 'paused',
};

/** code → class, for every code of the table plus one Graph permission code (200–299 are auth by range). */
const table = [
  ...Object.entries(GRAPH_ERROR_CODES).map(([code, info]) => ({ code: Number(code), errorClass: info.errorClass, httpStatus: info.httpStatus })),
  { code: 200, errorClass: 'auth' as const, httpStatus: 400 },
];
const byOutcome = (outcome: Outcome) => table.filter((row) => OUTCOME[row.errorClass] === outcome);

interface SimMessage {
  wamid: string;
  to: string;
  body: Record<string, any>;
}

/** Writes text messages to one new contact (with a fresh last inbound) and enqueues them as admin does. */
async function queueTo(p: TestProvider, texts: string[]) {
  const to = String(phone++);
  const contact = await prisma.contact.create({ data: { tenantId: p.tenantId, providerId: p.providerId, waId: to, lastInboundAt: new Date() } });
  const rows = await prisma.$transaction((tx) =>
    insertOutboundMessages(
      tx,
      contact.id,
      texts.map((text) => {
        const built = buildMessageBody({ message: text }, to);
        if (!built.ok) throw new Error(JSON.stringify(built.errors));
        return { tenantId: p.tenantId, providerId: p.providerId, type: built.type, body: built.body as unknown as Prisma.InputJsonValue, businessInitiated: false, retryOnRateLimit: true };
      }),
    ),
  );
  await outboundQueue.addBulk(rows.map((r) => ({ name: 'outbound', data: { outboundId: r.id }, opts: { jobId: `o_${r.id}`, removeOnComplete: true } })));
  return { to, rows };
}

async function provider(): Promise<TestProvider> {
  const p = await createTestProvider(prisma, { tier: 'unlimited' });
  await stack.register(p);
  return p;
}

const rowsOf = (ids: string[]) => prisma.outboundMessage.findMany({ where: { id: { in: ids } }, orderBy: [{ contactId: 'asc' }, { seq: 'asc' }] });
const providerRow = (id: string) => prisma.whatsAppProvider.findUniqueOrThrow({ where: { id } });
const received = (to: string) => stack.sim<SimMessage[]>('GET', `/sim/messages?to=${to}`);

async function adminApi(method: 'GET' | 'POST', p: TestProvider, path = ''): Promise<{ status: number; json: any }> {
  const res = await fetch(`${admin.url}/v1/tenants/${p.tenantSlug}/teams/${p.teamSlug}/provider${path}`, { method, headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  return { status: res.status, json: await res.json() };
}

beforeAll(async () => {
  stack = await startStack({
    databaseUrl,
    redisUrl,
    redisPrefix: prefix,
    senders: 1,
    env: { SEND_MAX_ATTEMPTS: '3', RECONCILE_INTERVAL_MS: '1000' },
  });
  admin = await startService('admin', { ...stack.env, ADMIN_API_KEY: ADMIN_KEY });
  await stack.sim('POST', '/sim/config', { status_latency_ms: { sent: 5, delivered: 30, read: 60 } });
});
afterAll(async () => {
  if (process.env.DUMP_LOGS) console.log(stack.logTail(40));
  await Promise.all([stack?.stop(), admin?.kill()]);
  await Promise.all([outboundQueue.close(), prisma.$disconnect()]);
});

describe('Graph error codes end to end: code → class → message and provider', () => {
  // A resume wakes the held messages at once (the sender's own recheck of a paused number is 30 s): the polls after
  // a resume wait 20 s at most.
  it('graph-sim answers each code with the HTTP status Meta uses for it, and the sender acts by class', async () => {
    const shared = await provider();
    const perMessage = [...byOutcome('retried'), ...byOutcome('failed')];
    const pausing = byOutcome('paused');
    const paused = await Promise.all(pausing.map(() => provider()));
    const recipients = perMessage.map(() => String(phone++));
    phone -= perMessage.length; // queueTo hands out the same numbers, in order
    await stack.sim('POST', '/sim/config', {
      send_errors: [
        // Message-level codes: the first send to that row's recipient fails with the code.
        ...perMessage.map((row, i) => ({ code: row.code, count: 1, to: [recipients[i]] })),
        // Number-level codes: every send from that row's number fails with the code, until the rules are cleared.
        ...pausing.map((row, i) => ({ code: row.code, phone_number_id: paused[i].phoneNumberId })),
      ],
    });

    const single = await Promise.all(perMessage.map((row) => queueTo(shared, [`code ${row.code}`])));
    expect(single.map((s) => s.to)).toEqual(recipients);
    const held = await Promise.all(pausing.map(async (row, i) => [await queueTo(paused[i], [`${row.code} first`, `${row.code} second`]), await queueTo(paused[i], [`${row.code} other`])]));

    // Message-level codes: retried once and delivered, or failed at once with Meta's code.
    const ids = single.map((s) => s.rows[0].id);
    await expect
      .poll(async () => prisma.outboundMessage.count({ where: { id: { in: ids }, state: { in: ['delivered', 'read', 'failed'] } } }), { timeout: 60_000, interval: 250 })
      .toBe(ids.length);
    const final = await rowsOf(ids);
    for (const [i, row] of perMessage.entries()) {
      const m = final.find((r) => r.id === ids[i])!;
      const seen = { code: row.code, state: m.state, errorClass: m.errorClass, attempts: m.attempts };
      if (OUTCOME[row.errorClass] === 'retried') {
        expect(seen).toEqual({ code: row.code, state: expect.stringMatching(/^(delivered|read)$/), errorClass: row.errorClass, attempts: 2 });
        expect(m.lastError).toContain(`(${row.code})`);
        expect((await received(recipients[i])).map((r) => r.body.text.body)).toEqual([`code ${row.code}`]);
      } else {
        expect(seen).toEqual({ code: row.code, state: 'failed', errorClass: row.errorClass, attempts: 1 });
        expect(m.errorCode).toBe(row.code);
        expect(await received(recipients[i])).toEqual([]);
      }
    }
    // The number that carried all of these was never paused.
    expect((await providerRow(shared.providerId)).pausedAt).toBeNull();

    // Number-level codes: the number is paused with the class, code and reason; nothing it holds has failed or gone.
    await expect
      .poll(async () => prisma.whatsAppProvider.count({ where: { id: { in: paused.map((p) => p.providerId) }, pausedAt: { not: null } } }), { timeout: 30_000, interval: 250 })
      .toBe(paused.length);
    await new Promise((r) => setTimeout(r, 1_000)); // any send in flight when the pause came has come back
    for (const [i, row] of pausing.entries()) {
      const view = await adminApi('GET', paused[i]);
      expect(view.status).toBe(200);
      expect({ code: row.code, ...view.json }).toMatchObject({ code: row.code, paused: true, paused_class: row.errorClass, paused_code: row.code });
      expect(view.json.paused_reason).toContain(`(${row.code})`);
      const msgs = await rowsOf(held[i].flatMap((h) => h.rows.map((r) => r.id)));
      expect({ code: row.code, states: msgs.map((m) => m.state) }).toEqual({ code: row.code, states: ['queued', 'queued', 'queued'] });
      const tried = msgs.filter((m) => m.attempts > 0);
      expect(tried.length).toBeGreaterThanOrEqual(1);
      expect(tried.every((m) => m.errorClass === row.errorClass && m.errorCode === row.code)).toBe(true);
      for (const h of held[i]) expect(await received(h.to)).toEqual([]);
    }
    const health = await (await fetch(`${stack.senders[0].url}/health`)).json();
    for (const p of paused) expect(JSON.stringify(health.info.paused_providers)).toContain(p.phoneNumberId);

    // Meta is fixed; an admin resumes each number: every message it held goes out, in order per recipient.
    await stack.sim('POST', '/sim/config', { send_errors: [] });
    for (const p of paused) {
      const resumed = await adminApi('POST', p, '/resume');
      expect(resumed.status).toBe(200);
      expect(resumed.json).toMatchObject({ paused: false, paused_at: null, paused_reason: null, paused_class: null, paused_code: null });
    }
    const heldIds = held.flatMap((hs) => hs.flatMap((h) => h.rows.map((r) => r.id)));
    await expect
      .poll(async () => prisma.outboundMessage.count({ where: { id: { in: heldIds }, state: { in: ['delivered', 'read'] } } }), { timeout: 20_000, interval: 500 })
      .toBe(heldIds.length);
    for (const [i, row] of pausing.entries()) {
      const [pair, other] = held[i];
      expect((await received(pair.to)).map((r) => r.body.text.body)).toEqual([`${row.code} first`, `${row.code} second`]);
      expect((await received(other.to)).map((r) => r.body.text.body)).toEqual([`${row.code} other`]);
    }
    expect(await prisma.outboundMessage.count({ where: { id: { in: heldIds }, state: 'failed' } })).toBe(0);
  }, 180_000);

  it('a failed status with an account-level code (131042 payment) pauses the number too; the next message waits for resume', async () => {
    const p = await provider();
    const failing = String(phone);
    await stack.sim('POST', '/sim/config', {
      fail: { recipients: [failing], probability: 0, code: 131042, title: 'Business eligibility payment issue', message: 'Business eligibility payment issue', details: 'Message failed to send because there were one or more errors related to your payment method.' },
    });
    try {
      const first = await queueTo(p, ['before the payment problem shows']);
      expect(first.to).toBe(failing);
      await expect.poll(async () => (await rowsOf([first.rows[0].id]))[0].state, { timeout: 30_000 }).toBe('failed');
      expect((await rowsOf([first.rows[0].id]))[0]).toMatchObject({ errorCode: 131042, errorClass: 'delivery_failed' });
      await expect.poll(async () => (await providerRow(p.providerId)).pausedCode, { timeout: 15_000 }).toBe(131042);
      expect((await adminApi('GET', p)).json).toMatchObject({ paused: true, paused_class: 'account', paused_code: 131042 });

      const next = await queueTo(p, ['after the payment problem shows']);
      await new Promise((r) => setTimeout(r, 1_500));
      expect((await rowsOf([next.rows[0].id]))[0]).toMatchObject({ state: 'queued', attempts: 0 });
      expect(await received(next.to)).toEqual([]);

      expect((await adminApi('POST', p, '/resume')).json.paused).toBe(false);
      await expect.poll(async () => (await rowsOf([next.rows[0].id]))[0].state, { timeout: 20_000, interval: 500 }).toMatch(/^(delivered|read)$/);
      // The failed message got a wamid: it is never sent again.
      expect(await received(failing)).toHaveLength(1);
    } finally {
      await stack.sim('POST', '/sim/config', { fail: { recipients: [], probability: 0 } });
    }
  }, 120_000);

  it('a new access token does not lift an account pause; only resume does', async () => {
    const p = await provider();
    await stack.sim('POST', '/sim/config', { send_errors: [{ code: 131042, phone_number_id: p.phoneNumberId, count: 1 }] });
    const { rows } = await queueTo(p, ['after payment']);
    await expect.poll(async () => (await providerRow(p.providerId)).pausedClass, { timeout: 30_000 }).toBe('account');
    const renewed = `${p.accessToken}-renewed`;
    await stack.sim('POST', '/sim/phone-numbers', { phone_number_id: p.phoneNumberId, access_token: renewed, app_secret: p.appSecret, webhook_url: `${stack.ingress.url}/webhook/whatsapp/${p.tenantSlug}/${p.teamSlug}` });
    const patched = await fetch(`${admin.url}/v1/tenants/${p.tenantSlug}/teams/${p.teamSlug}/provider`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ access_token: renewed }),
    });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ changed: true, paused: true, paused_class: 'account', paused_code: 131042 });
    expect((await rowsOf([rows[0].id]))[0].state).toBe('queued');
    expect((await adminApi('POST', p, '/resume')).json.paused).toBe(false);
    await expect.poll(async () => (await rowsOf([rows[0].id]))[0].state, { timeout: 20_000, interval: 500 }).toMatch(/^(delivered|read)$/);
  }, 120_000);
});
