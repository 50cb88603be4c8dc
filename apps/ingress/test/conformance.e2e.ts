import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient } from '@gtc/db';
import { createTestProvider, startService, ServiceProcess, testEnv, TestProvider } from '@gtc/testing';
import { signPayload } from '@gtc/whatsapp';

// Webhook conformance against a real ingress, Postgres and Redis: every signed JSON body is kept and acknowledged
// 200, every message becomes an inbound row, and the kinds Meta documents are recorded as rows and events.
const { databaseUrl, redisUrl, redisPrefix } = testEnv();
const prefix = `${redisPrefix}-conformance`;
const prisma = createPrismaClient(databaseUrl);
const scenariosDir = resolve(__dirname, '../../../libs/whatsapp/test/fixtures/meta-2026');

let ingress: ServiceProcess;
let p: TestProvider;
let other: TestProvider;
let seq = 0;
const unique = (tag: string) => `wamid.conf.${tag}.${++seq}.${Date.now()}`;

/** A meta-2026 scenario's payload, re-addressed to the provider's number (every `phone_number_id` replaced). */
function scenario(name: string, phoneNumberId: string): any {
  const { payload } = JSON.parse(readFileSync(resolve(scenariosDir, `${name}.json`), 'utf8')) as { payload: unknown };
  return JSON.parse(JSON.stringify(payload).replaceAll('"106540352242922"', JSON.stringify(phoneNumberId)));
}

function envelope(phoneNumberId: string, value: Record<string, unknown>, field = 'messages'): unknown {
  return {
    object: 'whatsapp_business_account',
    entry: [{ id: 'WABA', changes: [{ field, value: { messaging_product: 'whatsapp', metadata: { display_phone_number: '1555', phone_number_id: phoneNumberId }, ...value } }] }],
  };
}

const now = () => String(Math.floor(Date.now() / 1000));

async function post(provider: TestProvider, body: unknown): Promise<number> {
  const bytes = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(`${ingress.url}/webhook/whatsapp/${provider.tenantSlug}/${provider.teamSlug}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signPayload(bytes, provider.appSecret) },
    body: bytes,
  });
  await res.text();
  return res.status;
}

/** The ingress counter `gtc_ingress_nonconforming_total{problem}`, 0 when not yet exported. */
async function nonconforming(problem: string): Promise<number> {
  const text = await (await fetch(`${ingress.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('gtc_ingress_nonconforming_total{') && l.includes(`problem="${problem}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

beforeAll(async () => {
  [p, other] = await Promise.all([createTestProvider(prisma), createTestProvider(prisma)]);
  ingress = await startService('ingress', { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, REDIS_PREFIX: prefix });
});
afterAll(async () => {
  await ingress?.kill();
  await prisma.$disconnect();
});

describe('every signed, well-formed JSON webhook is acknowledged and kept', () => {
  it.each([
    ['entry missing', { object: 'whatsapp_business_account' }, 'entry is missing, not an array'],
    ['object "page" (another product on the same URL)', { object: 'page', entry: [{ id: '1', time: 1, changes: [{ field: 'feed', value: {} }] }] }, 'object is "page", not "whatsapp_business_account"'],
    ['a JSON array', [1, 2, 3], 'body is an array, not an object'],
  ])('%s → 200, kept raw with the problem, counted, and once however often Meta sends it', async (_name, body, reason) => {
    const marked = Array.isArray(body) ? [...body, seq++] : { ...body, nonce: seq++ };
    const before = await nonconforming('not_whatsapp');
    expect(await post(p, marked)).toBe(200);
    expect(await post(p, marked)).toBe(200);
    const rows = await prisma.webhookEvent.findMany({ where: { providerId: p.providerId, field: 'gtc.nonconforming' } });
    const kept = rows.filter((r) => Buffer.from(r.rawBody!).toString() === JSON.stringify(marked));
    expect(kept).toHaveLength(1);
    expect((kept[0].payload as any).reason).toBe(reason);
    expect((kept[0].payload as any).body).toEqual(marked);
    expect(await nonconforming('not_whatsapp')).toBe(before + 2);
  });

  it('an unknown field → 200, kept raw, counted as unknown_field', async () => {
    const before = await nonconforming('unknown_field');
    const body = envelope(p.phoneNumberId, { brand_new: { n: seq++ } }, 'some_new_field');
    expect(await post(p, body)).toBe(200);
    const row = await prisma.webhookEvent.findFirst({ where: { providerId: p.providerId, field: 'some_new_field' }, orderBy: { receivedAt: 'desc' } });
    expect((row!.payload as any).brand_new).toEqual((body as any).entry[0].changes[0].value.brand_new);
    expect(await nonconforming('unknown_field')).toBe(before + 1);
  });

  it('still refuses what is not JSON (400) or not signed (401), and keeps nothing', async () => {
    const before = await prisma.webhookEvent.count({ where: { providerId: p.providerId } });
    expect(await post(p, '{"object": ')).toBe(400);
    const res = await fetch(`${ingress.url}/webhook/whatsapp/${p.tenantSlug}/${p.teamSlug}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signPayload('{}', 'wrong') },
      body: JSON.stringify({ object: 'page' }),
    });
    expect(res.status).toBe(401);
    expect(await prisma.webhookEvent.count({ where: { providerId: p.providerId } })).toBe(before);
  });
});

describe('every message appears in the history', () => {
  it('a text message without its text object is an inbound row of type text, with the problem recorded', async () => {
    const before = await nonconforming('unreadable_message');
    const body = scenario('text_without_text', p.phoneNumberId);
    const wamid = unique('notext');
    body.entry[0].changes[0].value.messages[0].id = wamid;
    expect(await post(p, body)).toBe(200);
    const row = await prisma.inboundMessage.findUnique({ where: { providerId_wamid: { providerId: p.providerId, wamid } } });
    expect(row).toMatchObject({ type: 'text', state: 'pending' });
    expect(row!.contactId).not.toBeNull();
    expect((row!.payload as any).problems).toEqual(['text: expected an object']);
    expect(await nonconforming('unreadable_message')).toBe(before + 1);
  });
});

describe('documented kinds are normalized', () => {
  it('a link click (user_actions) is an event bound to its contact and message', async () => {
    const from = `1555${String(seq++).padStart(7, '0')}`;
    const first = envelope(p.phoneNumberId, {
      contacts: [{ profile: { name: 'Clicker' }, wa_id: from }],
      messages: [{ from, id: unique('hi'), timestamp: now(), type: 'text', text: { body: 'hi' } }],
    });
    expect(await post(p, first)).toBe(200);
    const contact = await prisma.contact.findFirstOrThrow({ where: { providerId: p.providerId, waId: from } });
    const click = envelope(p.phoneNumberId, {
      contacts: [{ profile: { name: 'Clicker' }, wa_id: from }],
      user_actions: [
        {
          action_type: 'marketing_messages_link_click',
          timestamp: now(),
          message_id: 'wamid.OUR_PROMO',
          marketing_messages_link_click_data: { click_component: 'cta', click_id: `click-${seq}`, tracking_token: 't' },
        },
      ],
    });
    expect(await post(p, click)).toBe(200);
    const event = await prisma.webhookEvent.findFirstOrThrow({ where: { providerId: p.providerId, field: 'messages.user_actions.marketing_messages_link_click', contactId: contact.id } });
    expect(event.wamid).toBe('wamid.OUR_PROMO');
    expect(event.payload).toMatchObject({ actionType: 'marketing_messages_link_click', linkClick: { clickComponent: 'cta', clickId: `click-${seq}` } });
    // A click is not the user writing: it does not open the 24-hour window.
    const after = await prisma.contact.findUniqueOrThrow({ where: { id: contact.id } });
    expect(after.lastInboundAt).toEqual(contact.lastInboundAt);
  });

  it('the documented click (no user, no message) is kept as an event too', async () => {
    const body = scenario('link_click', p.phoneNumberId);
    body.entry[0].changes[0].value.user_actions[0].marketing_messages_link_click_data.click_id = `click-doc-${seq++}`;
    expect(await post(p, body)).toBe(200);
    const events = await prisma.webhookEvent.findMany({ where: { providerId: p.providerId, field: 'messages.user_actions.marketing_messages_link_click', contactId: null } });
    expect(events.some((e) => (e.payload as any).linkClick.clickId === body.entry[0].changes[0].value.user_actions[0].marketing_messages_link_click_data.click_id)).toBe(true);
  });

  it('a BSUID change moves the contact to its new id: one contact row, every message on it', async () => {
    const oldId = `US.${Date.now()}${seq++}`;
    const newId = `US.${Date.now()}${seq++}9`;
    const w1 = unique('bsuid1');
    const w2 = unique('bsuid2');
    const w3 = unique('bsuid3');
    const fromUser = (userId: string, wamid: string, text: string) =>
      envelope(p.phoneNumberId, {
        contacts: [{ profile: { name: 'Zed', username: 'zed' }, user_id: userId }],
        messages: [{ from_user_id: userId, id: wamid, timestamp: now(), type: 'text', text: { body: text } }],
      });
    expect(await post(p, fromUser(oldId, w1, 'before'))).toBe(200);
    const change = scenario('system_user_changed_user_id', p.phoneNumberId);
    Object.assign(change.entry[0].changes[0].value.messages[0], { id: w2, from_user_id: oldId, timestamp: now() });
    Object.assign(change.entry[0].changes[0].value.messages[0].system, { user_id: newId, parent_user_id: 'US.ENT.NEW' });
    expect(await post(p, change)).toBe(200);
    expect(await post(p, fromUser(newId, w3, 'after'))).toBe(200);

    const contacts = await prisma.contact.findMany({ where: { providerId: p.providerId, userId: { in: [oldId, newId] } } });
    expect(contacts).toHaveLength(1);
    expect(contacts[0]).toMatchObject({ userId: newId, parentUserId: 'US.ENT.NEW' });
    const rows = await prisma.inboundMessage.findMany({ where: { providerId: p.providerId, wamid: { in: [w1, w2, w3] } } });
    expect(rows.map((r) => r.contactId)).toEqual([contacts[0].id, contacts[0].id, contacts[0].id]);
  });

  it('parent BSUIDs of messages are kept on the contact', async () => {
    const userId = `US.${Date.now()}${seq++}`;
    const body = envelope(p.phoneNumberId, {
      contacts: [{ profile: { name: 'P' }, user_id: userId, parent_user_id: 'US.ENT.PARENT1' }],
      messages: [{ from_user_id: userId, from_parent_user_id: 'US.ENT.PARENT1', id: unique('parent'), timestamp: now(), type: 'text', text: { body: 'x' } }],
    });
    expect(await post(p, body)).toBe(200);
    expect(await prisma.contact.findFirst({ where: { providerId: p.providerId, userId } })).toMatchObject({ parentUserId: 'US.ENT.PARENT1' });
  });

  it('an edit and a revoke are linked to their message; a revoke cancels a step not yet run', async () => {
    const from = `1556${String(seq++).padStart(7, '0')}`;
    const original = unique('orig');
    const edited = unique('edited');
    const text = (wamid: string, body: string) =>
      envelope(p.phoneNumberId, { contacts: [{ profile: { name: 'E' }, wa_id: from }], messages: [{ from, id: wamid, timestamp: now(), type: 'text', text: { body } }] });
    expect(await post(p, text(original, 'helo'))).toBe(200);
    expect(await post(p, text(edited, 'keep me'))).toBe(200);
    const edit = scenario('edit', p.phoneNumberId);
    const editWamid = unique('edit');
    Object.assign(edit.entry[0].changes[0].value.messages[0], { id: editWamid, from, timestamp: now() });
    edit.entry[0].changes[0].value.contacts[0].wa_id = from;
    edit.entry[0].changes[0].value.messages[0].edit.original_message_id = edited;
    const revoke = scenario('revoke', p.phoneNumberId);
    const revokeWamid = unique('revoke');
    Object.assign(revoke.entry[0].changes[0].value.messages[0], { id: revokeWamid, from, timestamp: now() });
    revoke.entry[0].changes[0].value.contacts[0].wa_id = from;
    revoke.entry[0].changes[0].value.messages[0].revoke.original_message_id = original;
    expect(await post(p, edit)).toBe(200);
    expect(await post(p, revoke)).toBe(200);

    const byWamid = async (wamid: string) => prisma.inboundMessage.findUniqueOrThrow({ where: { providerId_wamid: { providerId: p.providerId, wamid } } });
    const o = await byWamid(original);
    expect(o.state).toBe('revoked');
    expect(o.revokedAt).not.toBeNull();
    expect(o.flowRun).toMatchObject({ outcome: 'revoked' });
    const e = await byWamid(edited);
    expect(e.state).toBe('pending');
    expect(e.editedAt).not.toBeNull();
    expect(await byWamid(editWamid)).toMatchObject({ type: 'edit', originalWamid: edited });
    expect(await byWamid(revokeWamid)).toMatchObject({ type: 'revoke', originalWamid: original });
    expect(((await byWamid(editWamid)).payload as any).edit).toMatchObject({ originalMessageId: edited, text: 'fixed typo' });
  });

  it('a revoke that arrives before its message: the message comes in already revoked, its step never runs', async () => {
    const from = `1557${String(seq++).padStart(7, '0')}`;
    const original = unique('late');
    const revoke = scenario('revoke', p.phoneNumberId);
    Object.assign(revoke.entry[0].changes[0].value.messages[0], { id: unique('early-revoke'), from, timestamp: now() });
    revoke.entry[0].changes[0].value.contacts[0].wa_id = from;
    revoke.entry[0].changes[0].value.messages[0].revoke.original_message_id = original;
    expect(await post(p, revoke)).toBe(200);
    const late = envelope(p.phoneNumberId, { contacts: [{ profile: { name: 'L' }, wa_id: from }], messages: [{ from, id: original, timestamp: now(), type: 'text', text: { body: 'late' } }] });
    expect(await post(p, late)).toBe(200);
    const o = await prisma.inboundMessage.findUniqueOrThrow({ where: { providerId_wamid: { providerId: p.providerId, wamid: original } } });
    expect(o).toMatchObject({ state: 'revoked', flowRun: { outcome: 'revoked' } });
    expect(o.revokedAt).not.toBeNull();
  });

  it('phone_number_id is read on every field: another number\'s account_update is dropped, ours is kept', async () => {
    const mine = envelope(p.phoneNumberId, { event: 'ACCOUNT_UPDATE_MINE', n: seq++ }, 'account_update');
    const theirs = envelope(other.phoneNumberId, { event: 'ACCOUNT_UPDATE_THEIRS', n: seq++ }, 'account_update');
    expect(await post(p, mine)).toBe(200);
    expect(await post(p, theirs)).toBe(200);
    const events = await prisma.webhookEvent.findMany({ where: { providerId: p.providerId, field: 'account_update' } });
    expect(events.some((e) => (e.payload as any).event === 'ACCOUNT_UPDATE_MINE')).toBe(true);
    expect(events.some((e) => (e.payload as any).event === 'ACCOUNT_UPDATE_THEIRS')).toBe(false);
    expect(await prisma.webhookEvent.count({ where: { providerId: other.providerId } })).toBe(0);
  });
});
