import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient, ORDERING_RECHECK_MS } from '@gtc/db';
import { createTestProvider, installFlows, ServiceProcess, startService, Stack, startStack, testEnv, TestProvider } from '@gtc/testing';

// The kinds Meta documents, end to end: graph-sim sends them as Meta does, ingress records them, flow-runner runs
// (or deliberately does not run) the flow, sender sends the replies back through graph-sim.
const { databaseUrl, redisUrl, redisPrefix } = testEnv();
const prisma = createPrismaClient(databaseUrl);

const FLOW = `name: conformance
version: "1"
nodes:
  - id: route
    type: branch
    config:
      conditions:
        - expression: "referral.source_id != ''"
          next: from_ad
        - expression: "referred_product.product_retailer_id != ''"
          next: product
      default: echo
  - id: from_ad
    type: reply
    config:
      message: "ad {{referral.source_id}} {{referral.headline}} {{referral.ctwa_clid}}"
  - id: product
    type: reply
    config:
      message: "product {{referred_product.product_retailer_id}} of {{referred_product.catalog_id}}"
  - id: echo
    type: reply
    config:
      message: "echo {{message.text}}"
triggers:
  - type: any
    target: route
`;

/** Two replies in one step: under ordering "delivered" the second waits for the first's delivery. */
const TWO_REPLIES = `name: two
version: "1"
nodes:
  - id: first
    type: reply
    config:
      message: "first"
    next: second
  - id: second
    type: reply
    config:
      message: "second"
triggers:
  - type: any
    target: first
`;

const ADMIN_KEY = 'conformance-admin-key-0123456789abcdef';
let stack: Stack;
let admin: ServiceProcess;
let p: TestProvider;
let n = 0;
const user = () => `4917${String(Date.now() % 1e7).padStart(7, '0')}${++n}`;

/** A counter summed over the stack's flow-runners. */
async function flowRunnerCount(metric: string): Promise<number> {
  let total = 0;
  for (const r of stack.flowRunners) total += Number(new RegExp(`^${metric}(?:\\{[^}]*\\})? (\\d+)`, 'm').exec(await (await fetch(`${r.url}/metrics`)).text())?.[1] ?? 0);
  return total;
}

/** A user writes through graph-sim; returns the wamid. */
async function inbound(body: Record<string, unknown>): Promise<string> {
  return (await stack.sim<{ wamid: string }>('POST', '/sim/inbound', { phone_number_id: p.phoneNumberId, ...body })).wamid;
}

/** Text bodies graph-sim received for a recipient, in order. */
async function sentTo(to: string): Promise<string[]> {
  const list = await stack.sim<{ body: { text?: { body: string } } }[]>('GET', `/sim/messages?to=${to}&phone_number_id=${p.phoneNumberId}`);
  return list.map((m) => m.body.text?.body ?? JSON.stringify(m.body));
}

/** The inbound row of a wamid once ingress has recorded it. */
async function row(wamid: string) {
  await expect.poll(() => prisma.inboundMessage.count({ where: { providerId: p.providerId, wamid } }), { timeout: 20_000 }).toBe(1);
  return prisma.inboundMessage.findUniqueOrThrow({ where: { providerId_wamid: { providerId: p.providerId, wamid } } });
}

/** Waits until the row's step has run (or been cancelled) and returns it. */
async function settled(wamid: string) {
  await row(wamid);
  await expect
    .poll(async () => (await prisma.inboundMessage.findUniqueOrThrow({ where: { providerId_wamid: { providerId: p.providerId, wamid } } })).state, { timeout: 20_000 })
    .not.toBe('pending');
  return prisma.inboundMessage.findUniqueOrThrow({ where: { providerId_wamid: { providerId: p.providerId, wamid } } });
}

beforeAll(async () => {
  p = await createTestProvider(prisma, { ordering: 'none' });
  await installFlows(prisma, p, { 'conformance.ygtc': FLOW });
  stack = await startStack({ databaseUrl, redisUrl, redisPrefix: `${redisPrefix}-conf`, env: { RECONCILE_INTERVAL_MS: '1000' } });
  await stack.register(p);
  admin = await startService('admin', { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, REDIS_PREFIX: `${redisPrefix}-conf`, ADMIN_API_KEY: ADMIN_KEY });
}, 120_000);

/** GET on the admin API with the admin key. */
async function adminGet(path: string): Promise<any> {
  const res = await fetch(`${admin.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  expect(res.status, path).toBe(200);
  return res.json();
}

afterAll(async () => {
  await admin?.kill();
  await stack?.stop();
  await prisma.$disconnect();
});

describe('graph-sim → ingress → flow-runner → sender, for the kinds Meta documents', () => {
  it('a flow reads the referral of a click-to-WhatsApp ad', async () => {
    const from = user();
    await inbound({
      from,
      text: 'I saw your ad',
      referral: { source_url: 'https://fb.me/ad1', source_id: 'ad-123', source_type: 'ad', headline: 'Spring sale', media_type: 'image', ctwa_clid: 'clid-7' },
    });
    await expect.poll(() => sentTo(from), { timeout: 30_000 }).toEqual(['ad ad-123 Spring sale clid-7']);
  });

  it('a flow reads the referred product of a product enquiry', async () => {
    const from = user();
    await inbound({ from, text: 'Is this in stock?', referred_product: { catalog_id: 'CAT1', product_retailer_id: 'SKU-9' } });
    await expect.poll(() => sentTo(from), { timeout: 30_000 }).toEqual(['product SKU-9 of CAT1']);
  });

  it('an edit is linked to the message it edits and shown in its history; it is not answered again', async () => {
    const from = user();
    const original = await inbound({ from, text: 'helo' });
    await expect.poll(() => sentTo(from), { timeout: 30_000 }).toEqual(['echo helo']);
    const edit = await inbound({ from, edit: { original_message_id: original, text: 'hello' } });
    const e = await settled(edit);
    expect(e).toMatchObject({ type: 'edit', originalWamid: original, state: 'processed' });
    expect(e.flowRun).toMatchObject({ outcome: 'ignored' });
    expect((e.payload as any).edit).toMatchObject({ originalMessageId: original, text: 'hello' });
    expect((await row(original)).editedAt).not.toBeNull();
    // The edit's own step ran (processed, above) and sent nothing.
    expect(await sentTo(from)).toEqual(['echo helo']);
    // The operator's history links both ways.
    const shown = await adminGet(`/v1/tenants/${p.tenantSlug}/messages/${(await row(original)).id}`);
    expect(shown).toMatchObject({ wamid: original, edited_at: expect.any(String), revoked_at: null, changes: [{ wamid: edit, type: 'edit', text: 'hello' }] });
    const shownEdit = await adminGet(`/v1/tenants/${p.tenantSlug}/messages/${e.id}`);
    expect(shownEdit).toMatchObject({ type: 'edit', original_wamid: original, original_id: shown.id });
  });

  it('a revoke before the step runs cancels it: the next message is answered, the revoked one never', async () => {
    const from = user();
    const runner = stack.flowRunners[0];
    await runner.kill();
    try {
      const original = await inbound({ from, text: 'delete me' });
      await row(original);
      await inbound({ from, revoke: { original_message_id: original } });
      await expect.poll(async () => (await row(original)).state, { timeout: 20_000 }).toBe('revoked');
    } finally {
      stack.flowRunners[0] = await startService('flow-runner', stack.env, { port: runner.port });
    }
    await inbound({ from, text: 'still there?' });
    await expect.poll(() => sentTo(from), { timeout: 30_000 }).toEqual(['echo still there?']);
    const rows = await prisma.inboundMessage.findMany({ where: { providerId: p.providerId, contact: { waId: from } }, orderBy: { arrival: 'asc' } });
    expect(rows.map((r) => [r.type, r.state])).toEqual([
      ['text', 'revoked'],
      ['revoke', 'processed'],
      ['text', 'processed'],
    ]);
    expect(rows[0].revokedAt).not.toBeNull();
    const shown = await adminGet(`/v1/tenants/${p.tenantSlug}/messages/${rows[0].id}`);
    expect(shown).toMatchObject({ state: 'revoked', revoked_at: expect.any(String), changes: [{ type: 'revoke', wamid: rows[1].wamid }] });
  });

  it('a group message is recorded with its group and skipped with a recorded reason: nothing is sent to the group or the participant', async () => {
    const from = user();
    const groupId = `Y2FwaV9ncm91cDo${Date.now()}`;
    const wamid = await inbound({ from, group_id: groupId, text: 'hello group' });
    const r = await settled(wamid);
    expect(r.state).toBe('processed');
    expect(r.flowRun).toMatchObject({ outcome: 'group_skipped', replies: 0 });
    expect((r.flowRun as any).reason).toMatch(/group/);
    expect((r.payload as any).groupId).toBe(groupId);
    expect(await adminGet(`/v1/tenants/${p.tenantSlug}/messages/${r.id}`)).toMatchObject({ group_id: groupId, flow_run: { outcome: 'group_skipped' } });
    // The participant's own conversation still works, and the group message left it untouched.
    await inbound({ from, text: 'just me' });
    await expect.poll(() => sentTo(from), { timeout: 30_000 }).toEqual(['echo just me']);
    expect(await sentTo(groupId)).toEqual([]);
  });

  it('a BSUID change then a message from the new id: answered on the same contact, which now has the new id', async () => {
    const from = user();
    const oldId = `DE.${Date.now()}1`;
    const newId = `DE.${Date.now()}2`;
    await inbound({ from, user_id: oldId, text: 'first' });
    await expect.poll(() => sentTo(from), { timeout: 30_000 }).toEqual(['echo first']);
    const change = await inbound({ from, user_id: oldId, system: { type: 'user_changed_user_id', user_id: newId, parent_user_id: 'DE.ENT.9' } });
    expect((await settled(change)).flowRun).toMatchObject({ outcome: 'ignored' });
    await inbound({ from, user_id: newId, text: 'second' });
    await expect.poll(() => sentTo(from), { timeout: 30_000 }).toEqual(['echo first', 'echo second']);
    const contacts = await prisma.contact.findMany({ where: { providerId: p.providerId, OR: [{ waId: from }, { userId: { in: [oldId, newId] } }] } });
    expect(contacts).toHaveLength(1);
    expect(contacts[0]).toMatchObject({ userId: newId, parentUserId: 'DE.ENT.9' });
    const outbound = await prisma.outboundMessage.findMany({ where: { contactId: contacts[0].id }, orderBy: { seq: 'asc' } });
    expect(outbound.map((o) => o.seq)).toEqual([1, 2]);
  });

  it('contacts, order, nfm_reply, reaction and a number change arrive as rows of their own type', async () => {
    const from = user();
    const sent = [
      [await inbound({ from, contacts: [{ name: { formatted_name: 'Ann Lee', first_name: 'Ann' }, phones: [{ phone: '+1 555 0100', type: 'CELL' }] }] }), 'contacts'],
      [await inbound({ from, order: { catalog_id: 'CAT1', product_items: [{ product_retailer_id: 'SKU-1', quantity: 2, item_price: 9.5, currency: 'EUR' }] } }), 'order'],
      [await inbound({ from, nfm_reply: { response_json: '{"flow_token":"t","choice":"a"}' } }), 'interactive'],
      [await inbound({ from, reaction: { message_id: 'wamid.X', emoji: '👍' } }), 'reaction'],
      [await inbound({ from, system: { type: 'user_changed_number', wa_id: `${from}0` } }), 'system'],
    ] as const;
    for (const [wamid, type] of sent) {
      const r = await row(wamid);
      expect(r.type, type).toBe(type);
      expect((r.payload as any).known, type).toBe(true);
    }
    expect(((await row(sent[1][0])).payload as any).order.productItems[0]).toMatchObject({ productRetailerId: 'SKU-1', quantity: 2 });
    expect(((await row(sent[2][0])).payload as any).nfmReply.response).toEqual({ flow_token: 't', choice: 'a' });
  });

  it("a step's second reply waits for the first's delivery, and the delivered status wakes it (ordering: delivered)", async () => {
    const gated = await createTestProvider(prisma, { ordering: 'delivered' });
    await installFlows(prisma, gated, { 'two.ygtc': TWO_REPLIES });
    await stack.register(gated);
    const from = user();
    const held = await flowRunnerCount('gtc_flow_replies_held_total');
    await stack.sim('POST', '/sim/inbound', { phone_number_id: gated.phoneNumberId, from, text: 'go' });
    const received = () => stack.sim<{ body: { text?: { body: string } }; received_at: string; statuses: { status: string }[] }[]>('GET', `/sim/messages?to=${from}&phone_number_id=${gated.phoneNumberId}`);
    await expect.poll(async () => (await received()).map((m) => m.body.text?.body), { timeout: 30_000 }).toEqual(['first', 'second']);
    const [first, second] = await received();
    // The second went only after the first was delivered: held at the gate from the start (counted by the
    // flow-runner, never taken by a sender to wait), and woken by the status, well before its recheck would have let
    // it look again (ORDERING_RECHECK_MS after it was enqueued).
    expect(first.statuses.map((s) => s.status)).toContain('delivered');
    expect(await flowRunnerCount('gtc_flow_replies_held_total')).toBe(held + 1);
    expect(Date.parse(second.received_at) - Date.parse(first.received_at)).toBeLessThan(ORDERING_RECHECK_MS - 1_000);
    const rows = await prisma.outboundMessage.findMany({ where: { providerId: gated.providerId }, orderBy: { seq: 'asc' } });
    expect(rows.map((r) => r.attempts)).toEqual([1, 1]);
  });

  it('a link click (user_actions) sent by graph-sim is kept as an event bound to the contact', async () => {
    const from = user();
    await inbound({ from, text: 'hi' });
    await expect.poll(() => sentTo(from), { timeout: 30_000 }).toEqual(['echo hi']);
    await stack.sim('POST', '/sim/user-actions', { phone_number_id: p.phoneNumberId, from, click_component: 'cta', click_id: `clk-${from}` });
    const contact = await prisma.contact.findFirstOrThrow({ where: { providerId: p.providerId, waId: from } });
    await expect
      .poll(() => prisma.webhookEvent.count({ where: { providerId: p.providerId, contactId: contact.id, field: 'messages.user_actions.marketing_messages_link_click' } }), { timeout: 20_000 })
      .toBe(1);
  });

  it('a raw signed body that is not a WhatsApp notification is acknowledged once and kept (graph-sim stops retrying)', async () => {
    const body = { object: 'page', entry: [{ id: 'P', time: Date.now(), changes: [{ field: 'feed', value: { n: Date.now() } }] }] };
    await stack.sim('POST', '/sim/webhooks/raw', { phone_number_id: p.phoneNumberId, body });
    await expect
      .poll(async () => (await prisma.webhookEvent.findMany({ where: { providerId: p.providerId, field: 'gtc.nonconforming' } })).filter((e) => (e.payload as any).body?.entry?.[0]?.time === body.entry[0].time).length, { timeout: 20_000 })
      .toBe(1);
    const log = await stack.sim<{ recent: { outcome: string; status_code?: number }[] }>('GET', '/sim/webhooks?limit=500');
    expect(log.recent.filter((l) => l.outcome === 'failed')).toEqual([]);
  });
});
