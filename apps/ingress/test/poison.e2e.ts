import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient } from '@gtc/db';
import { createTestProvider, installFlows, messagesWebhook, postWebhook, Stack, startStack, testEnv, TestProvider } from '@gtc/testing';
import { restoreString } from '../src/storable';

// Whole stack (graph-sim, ingress, flow-runner, sender), real Postgres and Redis: no webhook's content can fail
// another webhook, and a webhook Postgres cannot take as is is still stored, acknowledged and answered.
const { databaseUrl, redisUrl, redisPrefix } = testEnv();
const prefix = `${redisPrefix}-poison`;
const prisma = createPrismaClient(databaseUrl, { max: 10, connectionTimeoutMs: 30_000 });
let stack: Stack;
let phone = 4917000000;

/** Keeps the user's text in a session variable and echoes it: both are Postgres writes of the stored text. */
const ECHO = `name: echo
version: "1"
nodes:
  - id: keep
    type: set
    config:
      vars:
        said: "message.text"
    next: answer
  - id: answer
    type: reply
    config:
      message: "echo: {{said}}"
triggers:
  - type: any
    target: keep
`;

type Kind = 'good' | 'nul' | 'surrogate' | 'timestamp';
interface Sent {
  p: TestProvider;
  kind: Kind;
  from: string;
  wamid: string;
  text: string;
}

/** A signed text webhook; poison kinds carry NUL or a lone surrogate in the text, or a timestamp of 10^30 s. */
function textWebhook(p: TestProvider, kind: Kind, i: number): { sent: Sent; body: string } {
  const from = String(phone++);
  const wamid = `wamid.poison.${kind}.${i}.${Date.now().toString(36)}.${p.phoneNumberId}`;
  const text = kind === 'nul' ? `nul\u0000here ${i}` : kind === 'surrogate' ? `half \ud800 pair ${i}` : `hello ${kind} ${i}`;
  const timestamp = kind === 'timestamp' ? '1' + '0'.repeat(30) : String(Math.floor(Date.now() / 1000));
  const body = messagesWebhook(p, {
    contacts: [{ profile: { name: kind === 'nul' ? 'Bad\u0000Name' : 'User' }, wa_id: from }],
    messages: [{ from, id: wamid, timestamp, type: 'text', text: { body: text } }],
  });
  return { sent: { p, kind, from, wamid, text }, body };
}

/** Every row that belongs to a tenant, as JSON: to prove another tenant's rows did not change. */
async function tenantRows(tenantId: string): Promise<string> {
  const where = { where: { tenantId } };
  const rows = await Promise.all([
    prisma.contact.findMany({ ...where, orderBy: { id: 'asc' } }),
    prisma.inboundMessage.findMany({ ...where, orderBy: { id: 'asc' } }),
    prisma.outboundMessage.findMany({ ...where, orderBy: { id: 'asc' } }),
    prisma.statusEvent.findMany({ ...where, orderBy: { id: 'asc' } }),
    prisma.webhookEvent.findMany({ ...where, orderBy: { id: 'asc' } }),
    prisma.session.findMany({ ...where, orderBy: { id: 'asc' } }),
  ]);
  return JSON.stringify(rows, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
}

beforeAll(async () => {
  stack = await startStack({ databaseUrl, redisUrl, redisPrefix: prefix, env: { RECONCILE_INTERVAL_MS: '1000' } });
});
afterAll(async () => {
  await stack?.stop();
  await prisma.$disconnect();
});

describe('poison webhooks', () => {
  it('acknowledges 60 poison and 60 good webhooks of two tenants sent at once, answers every user, and changes no other tenant', async () => {
    const a = await createTestProvider(prisma, { tier: 'unlimited', throughputMps: 500 });
    const b = await createTestProvider(prisma, { tier: 'unlimited', throughputMps: 500 });
    const bystander = await createTestProvider(prisma);
    for (const p of [a, b]) {
      await installFlows(prisma, p, { 'echo.ygtc': ECHO });
      await stack.register(p);
    }
    // The bystander has a conversation of its own before the storm: a message, its reply and its status.
    await installFlows(prisma, bystander, { 'echo.ygtc': ECHO });
    await stack.register(bystander);
    const calm = textWebhook(bystander, 'good', 0);
    expect(await postWebhook(stack.ingress.url, bystander, calm.body)).toBe(200);
    await expect
      .poll(() => prisma.outboundMessage.count({ where: { tenantId: bystander.tenantId, state: { in: ['delivered', 'read'] } } }), { timeout: 30_000 })
      .toBe(1);
    await expect.poll(() => prisma.statusEvent.count({ where: { tenantId: bystander.tenantId, appliedAt: { not: null } } }), { timeout: 30_000 }).toBeGreaterThan(0);
    // graph-sim sends read a little after delivered: let the bystander's statuses settle before the snapshot.
    await expect.poll(() => prisma.outboundMessage.count({ where: { tenantId: bystander.tenantId, state: 'read' } }), { timeout: 30_000 }).toBe(1);
    await new Promise((r) => setTimeout(r, 1_000));
    const before = await tenantRows(bystander.tenantId);

    const hooks: { sent: Sent; body: string }[] = [];
    const kinds: Kind[] = ['nul', 'surrogate', 'timestamp'];
    for (let i = 0; i < 60; i++) {
      const p = i % 2 ? a : b;
      hooks.push(textWebhook(p, kinds[i % 3], i), textWebhook(p, 'good', i));
    }
    const codes = await Promise.all(hooks.map((h) => postWebhook(stack.ingress.url, h.sent.p, h.body)));
    expect(codes.filter((c) => c !== 200)).toEqual([]);

    // Every message is stored under its own number, once; poison ones say what was changed to store them.
    for (const { sent } of hooks) {
      const rows = await prisma.inboundMessage.findMany({ where: { wamid: sent.wamid } });
      expect(rows.map((r) => r.providerId)).toEqual([sent.p.providerId]);
      const payload = rows[0].payload as any;
      if (sent.kind === 'good') expect(payload.storageProblems).toBeUndefined();
      else expect(payload.storageProblems.length).toBeGreaterThan(0);
      // The escape is reversible: the stored text gives back the exact text sent.
      expect(restoreString(payload.text)).toBe(sent.text);
      if (sent.kind === 'timestamp') {
        expect(payload.storageProblems).toContainEqual({ path: 'timestamp', problem: 'timestamp_out_of_range', detail: '1e+30' });
        expect(Math.abs(payload.timestamp - Date.now() / 1000)).toBeLessThan(3600);
      }
    }
    // A webhook stored escaped keeps its exact bytes too.
    const kept = await prisma.webhookEvent.findMany({ where: { tenantId: { in: [a.tenantId, b.tenantId] }, field: 'gtc.storage_problems' } });
    expect(kept).toHaveLength(60);
    const keptBodies = new Set(kept.map((k) => Buffer.from(k.rawBody!).toString('utf8')));
    for (const h of hooks) expect(keptBodies.has(h.body)).toBe(h.sent.kind !== 'good');

    // Every user, poison or not, is answered by the flow with their own text (escaped where it had to be).
    const answered = async () => {
      const out = await prisma.outboundMessage.findMany({ where: { tenantId: { in: [a.tenantId, b.tenantId] } } });
      const contacts = new Map((await prisma.contact.findMany({ where: { id: { in: out.map((o) => o.contactId) } } })).map((c) => [c.id, c]));
      return out.map((o) => ({ ...o, contact: contacts.get(o.contactId)! }));
    };
    await expect.poll(async () => (await answered()).filter((o) => ['sent', 'delivered', 'read'].includes(o.state)).length, { timeout: 90_000, interval: 500 }).toBe(120);
    const replies = await answered();
    for (const { sent } of hooks) {
      const mine = replies.filter((o) => o.contact.waId === sent.from);
      expect(mine, sent.wamid).toHaveLength(1);
      expect(mine[0].providerId).toBe(sent.p.providerId);
      expect(restoreString((mine[0].body as any).text.body)).toBe(`echo: ${sent.text}`);
      const got = await stack.sim<{ body: any }[]>('GET', `/sim/messages?to=${sent.from}&phone_number_id=${sent.p.phoneNumberId}`);
      expect(got.map((m) => restoreString(m.body.text.body))).toEqual([`echo: ${sent.text}`]);
    }
    const sessions = await prisma.session.findMany({ where: { tenantId: { in: [a.tenantId, b.tenantId] } }, include: { contact: true } });
    for (const { sent } of hooks) {
      const s = sessions.find((x) => x.contact.waId === sent.from);
      expect(restoreString((s?.vars as any)?.said)).toBe(sent.text);
    }

    expect(await tenantRows(bystander.tenantId)).toBe(before);
  });
});
