import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseWebhook } from '@gtc/whatsapp';
import { ServiceProcess, startService } from '../../../libs/testing/src/service-process';
import { ReceivedStatus, WebhookReceiver, client, signatureMatches, sleep, textBody } from '../test/sim-harness';

// The webhook side of graph-sim against the built app and a loopback receiver: signatures over the exact bytes,
// inbound payload shapes, status sequences, every fault knob, redelivery and batching.

const PN = '1122334455667';
const TOKEN = 'token-abc';
const SECRET = 'app-secret-xyz';
const WABA = '5467539754836534';
const DISPLAY = '972123456789';

let sim: ServiceProcess;
let receiver: WebhookReceiver;
let api: ReturnType<typeof client>;

beforeAll(async () => {
  receiver = await WebhookReceiver.start();
  sim = await startService('graph-sim', {
    GRAPH_SIM_STATUS_SENT_MS: '5',
    GRAPH_SIM_STATUS_DELIVERED_MS: '25',
    GRAPH_SIM_STATUS_READ_MS: '45',
    GRAPH_SIM_WEBHOOK_RETRY_BASE_MS: '20',
    GRAPH_SIM_WEBHOOK_RETRY_MAX_MS: '100',
  });
  api = client(sim.url);
});

afterAll(async () => {
  await sim?.stop();
  await receiver?.close();
});

beforeEach(async () => {
  expect((await api.post('/sim/reset', { all: true })).status).toBe(200);
  receiver.clear();
  const r = await api.post('/sim/phone-numbers', {
    phone_number_id: PN,
    access_token: TOKEN,
    app_secret: SECRET,
    webhook_url: receiver.url,
    display_phone_number: DISPLAY,
    waba_id: WABA,
  });
  expect(r.status).toBe(200);
});

async function send(to: string, text: string, callbackData?: string): Promise<string> {
  const r = await api.send(PN, TOKEN, textBody(to, text, callbackData));
  expect(r.status).toBe(200);
  return r.body.messages[0].id;
}

const ofMessage = (wamid: string) => (s: ReceivedStatus) => s.id === wamid;
const names = (list: ReceivedStatus[]) => list.map((s) => s.status);

describe('signatures and inbound messages', () => {
  it('signs the exact bytes, escapes non-ASCII like Meta, and sends the real inbound text format', async () => {
    const text = 'Olá, Zoë! 👋 مرحبا / ok';
    const r = await api.post('/sim/inbound', { phone_number_id: PN, from: '972987654321', name: 'Zoë Ångström', text });
    expect(r.status).toBe(202);
    const wamid = r.body.wamid;
    expect(wamid).toMatch(/^wamid\./);
    await receiver.waitFor(() => receiver.accepted.length === 1, 5000, 'inbound webhook');
    const got = receiver.received[0];

    expect(got.headers['content-type']).toContain('application/json');
    expect(signatureMatches(got.raw, got.headers['x-hub-signature-256'], SECRET)).toBe(true);
    expect(signatureMatches(got.raw, got.headers['x-hub-signature-256'], 'another-secret')).toBe(false);
    // Meta escapes non-ASCII and "/": the raw bytes are pure ASCII, and re-serialised JSON hashes differently.
    expect(got.raw.every((b) => b < 0x80)).toBe(true);
    expect(got.raw.toString('utf8')).toContain('Ol\\u00e1');
    expect(signatureMatches(Buffer.from(JSON.stringify(got.body)), got.headers['x-hub-signature-256'], SECRET)).toBe(false);

    expect(got.body).toEqual({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: WABA,
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: DISPLAY, phone_number_id: PN },
                contacts: [{ profile: { name: 'Zoë Ångström' }, wa_id: '972987654321' }],
                messages: [{ from: '972987654321', id: wamid, timestamp: expect.stringMatching(/^\d{10}$/), type: 'text', text: { body: text } }],
              },
            },
          ],
        },
      ],
    });

    const parsed = parseWebhook(got.body);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) {
      expect(parsed.changes[0].messages[0]).toMatchObject({ wamid, from: '972987654321', type: 'text', text, profileName: 'Zoë Ångström' });
      expect(parsed.changes[0].invalid).toEqual([]);
    }
    const inbound = (await api.get(`/sim/inbound?from=972987654321`)).body;
    expect(inbound).toHaveLength(1);
    expect(inbound[0].delivered_at).toEqual(expect.any(String));
  });

  it('builds every inbound type in the shape Meta uses', async () => {
    const cases = [
      { input: { button_reply: { id: 'yes', title: 'Yes' }, context: { id: 'wamid.prev' } }, type: 'interactive' },
      { input: { list_reply: { id: 'r1', title: 'Row 1', description: 'first' } }, type: 'interactive' },
      { input: { button: { payload: 'confirm', text: 'Confirm' }, context: { id: 'wamid.tpl' } }, type: 'button' },
      { input: { location: { latitude: 37.46, longitude: -122.21, name: 'HQ', address: '1 Hacker Way' } }, type: 'location' },
      { input: { image: { caption: 'look' } }, type: 'image' },
      { input: { document: { filename: 'a.pdf', caption: 'doc' } }, type: 'document' },
      { input: { audio: { voice: true } }, type: 'audio' },
      { input: { sticker: {} }, type: 'sticker' },
    ];
    for (const c of cases) {
      const r = await api.post('/sim/inbound', { phone_number_id: PN, from: '972987654321', name: 'Test Name', user_id: 'US.1349', ...c.input });
      expect(r.status).toBe(202);
    }
    await receiver.waitFor(() => receiver.messages().length === cases.length, 5000, 'inbound webhooks');
    const byType = receiver.messages();
    const contact = receiver.accepted[0].body.entry[0].changes[0].value.contacts[0];
    expect(contact).toEqual({ profile: { name: 'Test Name' }, wa_id: '972987654321', user_id: 'US.1349' });
    const find = (pred: (m: Record<string, unknown>) => boolean) => byType.find(pred);

    expect(find((m) => m.interactive?.type === 'button_reply')).toMatchObject({
      type: 'interactive',
      context: { from: DISPLAY, id: 'wamid.prev' },
      interactive: { type: 'button_reply', button_reply: { id: 'yes', title: 'Yes' } },
    });
    expect(find((m) => m.interactive?.type === 'list_reply').interactive).toEqual({
      type: 'list_reply',
      list_reply: { id: 'r1', title: 'Row 1', description: 'first' },
    });
    expect(find((m) => m.type === 'button')).toMatchObject({ context: { from: DISPLAY, id: 'wamid.tpl' }, button: { payload: 'confirm', text: 'Confirm' } });
    expect(find((m) => m.type === 'location').location).toEqual({ latitude: 37.46, longitude: -122.21, name: 'HQ', address: '1 Hacker Way' });
    const image = find((m) => m.type === 'image').image;
    expect(Object.keys(image).sort()).toEqual(['caption', 'id', 'mime_type', 'sha256']);
    expect(Object.keys(find((m) => m.type === 'document').document).sort()).toEqual(['caption', 'filename', 'id', 'mime_type', 'sha256']);
    expect(find((m) => m.type === 'audio').audio).toMatchObject({ mime_type: 'audio/ogg; codecs=opus', voice: true });
    expect(find((m) => m.type === 'sticker').sticker).toMatchObject({ mime_type: 'image/webp', animated: false });

    for (const r of receiver.accepted) {
      const parsed = parseWebhook(r.body);
      expect(parsed.ok && parsed.changes[0].invalid).toEqual([]);
      expect(parsed.ok && parsed.changes[0].messages.every((m) => m.known)).toBe(true);
    }

    // The image can be downloaded like Meta media: GET /{media-id} for a URL, then GET the URL with the token.
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await api.get(`/v18.0/${image.id}`)).status).toBe(401);
    const meta = await api.get(`/v18.0/${image.id}`, auth);
    expect(meta.status).toBe(200);
    expect(meta.body).toMatchObject({ id: image.id, mime_type: 'image/png', sha256: image.sha256, messaging_product: 'whatsapp', file_size: expect.any(Number) });
    expect((await fetch(meta.body.url)).status).toBe(401);
    const file = await fetch(meta.body.url, { headers: auth });
    expect(file.status).toBe(200);
    const bytes = Buffer.from(await file.arrayBuffer());
    expect(bytes.subarray(1, 4).toString('ascii')).toBe('PNG');
    expect(bytes.length).toBe(meta.body.file_size);
    expect(createHash('sha256').update(bytes).digest('base64')).toBe(image.sha256);
  });

  it('rejects inbound for an unknown number (404) and with no or two kinds of content (400)', async () => {
    expect((await api.post('/sim/inbound', { phone_number_id: 'nope', from: '1', text: 'hi' })).status).toBe(404);
    expect((await api.post('/sim/inbound', { phone_number_id: PN, from: '1' })).status).toBe(400);
    expect((await api.post('/sim/inbound', { phone_number_id: PN, from: '1', text: 'a', button: { payload: 'p', text: 't' } })).status).toBe(400);
  });

  it('redelivers an inbound webhook with backoff until it gets a 200, with the same signed bytes', async () => {
    receiver.respond = (_req, i) => (i < 3 ? 500 : 200);
    const r = await api.post('/sim/inbound', { phone_number_id: PN, from: '15550001', text: 'retry me' });
    await receiver.waitFor(() => receiver.accepted.length === 1, 5000, 'redelivered webhook');
    expect(receiver.received.map((x) => x.answered)).toEqual([500, 500, 500, 200]);
    for (const x of receiver.received) {
      expect(x.raw.equals(receiver.received[0].raw)).toBe(true);
      expect(signatureMatches(x.raw, x.headers['x-hub-signature-256'], SECRET)).toBe(true);
    }
    const gaps = receiver.received.slice(1).map((x, i) => x.at - receiver.received[i].at);
    expect(gaps[0]).toBeGreaterThanOrEqual(15);
    expect(gaps[2]).toBeGreaterThanOrEqual(gaps[0]);
    const stats = (await api.get('/sim/stats')).body.webhooks;
    expect(stats).toMatchObject({ failed_attempts: 3, redelivered: 3, delivered: 1 });
    expect((await api.get('/sim/inbound')).body[0]).toMatchObject({ wamid: r.body.wamid, attempts: 4 });
  });

  it('also retries network errors, and gives up after max_attempts', async () => {
    await api.post('/sim/config', { webhook: { max_attempts: 3 } });
    await api.post('/sim/phone-numbers', { phone_number_id: PN, access_token: TOKEN, app_secret: SECRET, webhook_url: 'http://127.0.0.1:9/closed' });
    await api.post('/sim/inbound', { phone_number_id: PN, from: '15550001', text: 'lost cause' });
    const deadline = Date.now() + 5000;
    let w = (await api.get('/sim/webhooks')).body;
    while (w.stats.gave_up === 0 && Date.now() < deadline) {
      await sleep(20);
      w = (await api.get('/sim/webhooks')).body;
    }
    expect(w.stats).toMatchObject({ attempts: 3, failed_attempts: 3, gave_up: 1, delivered: 0 });
    expect(w.recent.filter((e: { outcome: string }) => e.outcome === 'failed').every((e: { error?: string }) => typeof e.error === 'string')).toBe(true);
  });

  it('batches inbound messages of one number when inbound_batch_size > 1', async () => {
    await api.post('/sim/config', { inbound_batch_size: 3 });
    const list = Array.from({ length: 5 }, (_, i) => ({ phone_number_id: PN, from: `1555000${i}`, text: `m${i}` }));
    const r = await api.post('/sim/inbound/batch', list);
    expect(r.status).toBe(202);
    expect(r.body.wamids).toHaveLength(5);
    await receiver.waitFor(() => receiver.messages().length === 5, 5000, 'batched inbound');
    expect(receiver.accepted).toHaveLength(2);
    expect(receiver.accepted[0].body.entry[0].changes[0].value.contacts).toHaveLength(3);
    expect(receiver.messages().map((m) => m.id)).toEqual(r.body.wamids);
  });
});

describe('status webhooks', () => {
  it('emits sent → delivered → read, echoing biz_opaque_callback_data, in Meta format, signed', async () => {
    const wamid = await send('15550001', 'hello', 'our-id-42');
    await receiver.waitFor(() => receiver.statuses(ofMessage(wamid)).length === 3, 5000, 'three statuses');
    // Each status is its own POST, so on a busy machine they may arrive in any order (as from Meta); their
    // timestamps still say sent ≤ delivered ≤ read.
    const rank = { sent: 0, delivered: 1, read: 2 } as Record<string, number>;
    const list = receiver.statuses(ofMessage(wamid)).sort((x, y) => rank[x.status] - rank[y.status]);
    expect(names(list)).toEqual(['sent', 'delivered', 'read']);
    expect(list.map((s) => Number(s.timestamp))).toEqual(list.map((s) => Number(s.timestamp)).sort((x, y) => x - y));
    for (const s of list) {
      expect(s).toMatchObject({
        id: wamid,
        recipient_id: '15550001',
        biz_opaque_callback_data: 'our-id-42',
        timestamp: expect.stringMatching(/^\d{10}$/),
        conversation: { id: expect.any(String), origin: { type: 'service' } },
        pricing: { billable: true, pricing_model: 'CBP', category: 'service' },
      });
    }
    expect(list[0].conversation.expiration_timestamp).toEqual(expect.stringMatching(/^\d{10}$/));
    for (const r of receiver.received) {
      expect(signatureMatches(r.raw, r.headers['x-hub-signature-256'], SECRET)).toBe(true);
      expect(r.body.object).toBe('whatsapp_business_account');
      expect(r.body.entry[0].id).toBe(WABA);
      expect(r.body.entry[0].changes[0].field).toBe('messages');
      expect(r.body.entry[0].changes[0].value.metadata).toEqual({ display_phone_number: DISPLAY, phone_number_id: PN });
      const parsed = parseWebhook(r.body);
      expect(parsed.ok && parsed.changes[0].invalid).toEqual([]);
    }
    const [m] = (await api.get(`/sim/messages?to=15550001`)).body;
    expect(m.statuses.map((s: { status: string }) => s.status)).toEqual(['sent', 'delivered', 'read']);
    expect(m.statuses[0]).toMatchObject({ timestamp: expect.any(String), emitted_at: expect.any(String) });
  });

  it('omits biz_opaque_callback_data when the send had none, and skips read when read_probability is 0', async () => {
    await api.post('/sim/config', { read_probability: 0 });
    const wamid = await send('15550001', 'no tracker');
    await receiver.waitFor(() => receiver.statuses(ofMessage(wamid)).length === 2, 5000, 'two statuses');
    await sleep(100);
    const list = receiver.statuses(ofMessage(wamid));
    expect(names(list)).toEqual(['sent', 'delivered']);
    expect(list.every((s) => !('biz_opaque_callback_data' in s))).toBe(true);
  });

  it('reorders: delivered arrives before sent with reorder_probability 1', async () => {
    await api.post('/sim/config', { reorder_probability: 1, read_probability: 0 });
    const wamid = await send('15550001', 'shuffled');
    await receiver.waitFor(() => receiver.statuses(ofMessage(wamid)).length === 2, 5000, 'two statuses');
    expect(names(receiver.statuses(ofMessage(wamid)))).toEqual(['delivered', 'sent']);
  });

  it('duplicates: every webhook arrives twice with identical bytes', async () => {
    await api.post('/sim/config', { duplicate_probability: 1 });
    const wamid = await send('15550001', 'twice');
    await receiver.waitFor(() => receiver.statuses(ofMessage(wamid)).length === 6, 5000, 'six statuses');
    const bodies = receiver.received.map((r) => r.raw.toString('utf8'));
    expect(new Set(bodies).size).toBe(3);
    for (const b of new Set(bodies)) expect(bodies.filter((x) => x === b)).toHaveLength(2);
    expect((await api.get('/sim/stats')).body.webhooks.duplicated).toBe(3);
  });

  it('loses the first attempt and redelivers it', async () => {
    await api.post('/sim/config', { loss_probability: 1, read_probability: 0 });
    const t0 = Date.now();
    const wamid = await send('15550001', 'lossy');
    await receiver.waitFor(() => receiver.statuses(ofMessage(wamid)).length === 2, 5000, 'two statuses');
    // Every webhook arrived once, after at least one retry delay.
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received[0].at - t0).toBeGreaterThanOrEqual(20);
    const w = (await api.get('/sim/webhooks')).body;
    expect(w.stats).toMatchObject({ lost: 2, redelivered: 2, delivered: 2 });
    expect(w.recent.filter((e: { outcome: string }) => e.outcome === 'lost')).toHaveLength(2);
  });

  it('holds delivered/read of offline recipients until they come back online', async () => {
    await api.post('/sim/config', { offline: ['+1 555 0009'] }); // written as a phone number: the recipient 15550009
    const away = await send('15550009', 'are you there?');
    const here = await send('15550001', 'hi');
    await receiver.waitFor(() => receiver.statuses(ofMessage(here)).length === 3, 5000, 'online recipient statuses');
    await sleep(150);
    expect(names(receiver.statuses(ofMessage(away)))).toEqual(['sent']);
    expect((await api.get('/sim/stats')).body.pending.statuses.parked).toBe(2);

    await api.post('/sim/config', { offline: [] });
    await receiver.waitFor(() => receiver.statuses(ofMessage(away)).length === 3, 5000, 'statuses after coming online');
    expect(names(receiver.statuses(ofMessage(away)))).toEqual(['sent', 'delivered', 'read']);
    expect((await api.get('/sim/messages?to=%2B15550009')).body.map((m: { wamid: string }) => m.wamid)).toContain(away);
  });

  it('fails deliveries to listed recipients with the configured error', async () => {
    await api.post('/sim/config', { fail: { recipients: ['15550009'], code: 131026, title: 'Message undeliverable', message: 'Message undeliverable' } });
    const wamid = await send('15550009', 'doomed', 'cb-fail');
    await receiver.waitFor(() => receiver.statuses(ofMessage(wamid)).length === 2, 5000, 'failed status');
    await sleep(80);
    const list = receiver.statuses(ofMessage(wamid));
    expect(names(list)).toEqual(['sent', 'failed']);
    expect(list[1]).toMatchObject({
      biz_opaque_callback_data: 'cb-fail',
      recipient_id: '15550009',
      errors: [{ code: 131026, title: 'Message undeliverable', message: 'Message undeliverable', error_data: { details: expect.any(String) } }],
    });
    expect(list[1].conversation).toBeUndefined();
    const parsed = parseWebhook(receiver.received.find((r) => r.body.entry[0].changes[0].value.statuses[0].status === 'failed')!.body);
    expect(parsed.ok && parsed.changes[0].statuses[0]).toMatchObject({ status: 'failed' });
  });

  it('fails free-form messages outside the 24-hour window with 131047 when the window is enforced', async () => {
    await api.post('/sim/config', { window: { enforce: true } });
    const cold = await send('15550001', 'unsolicited');
    await receiver.waitFor(() => receiver.statuses(ofMessage(cold)).length === 1, 5000, 'failed status');
    expect(receiver.statuses(ofMessage(cold))[0]).toMatchObject({ status: 'failed', errors: [{ code: 131047 }] });

    await api.post('/sim/inbound', { phone_number_id: PN, from: '15550001', text: 'hi!' });
    const warm = await send('15550001', 'answer');
    await receiver.waitFor(() => receiver.statuses(ofMessage(warm)).length === 3, 5000, 'statuses in window');
    expect(names(receiver.statuses(ofMessage(warm)))).toEqual(['sent', 'delivered', 'read']);
  });

  it('redelivers status webhooks until a 200', async () => {
    receiver.respond = (req, i) => (i < 2 ? 503 : 200);
    const wamid = await send('15550001', 'flaky receiver');
    await receiver.waitFor(() => receiver.statuses(ofMessage(wamid)).length === 3, 5000, 'all statuses');
    expect(receiver.received.filter((r) => r.answered === 503)).toHaveLength(2);
    expect(new Set(receiver.statuses(ofMessage(wamid)).map((s) => s.status))).toEqual(new Set(['sent', 'delivered', 'read']));
  });

  it('batches statuses of one number due within batch_window_ms into one POST', async () => {
    await api.post('/sim/config', { webhook: { batch_window_ms: 50 }, read_probability: 0 });
    const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => send(`1555001${i}`, `b${i}`)));
    await receiver.waitFor(() => receiver.statuses().length === 20, 5000, 'twenty statuses');
    expect(receiver.received.length).toBeLessThan(10);
    expect(Math.max(...receiver.received.map((r) => r.body.entry[0].changes[0].value.statuses.length))).toBeGreaterThan(1);
    for (const id of ids) expect(names(receiver.statuses(ofMessage(id)))).toEqual(['sent', 'delivered']);
  });

  it('drops pending statuses and retries on reset', async () => {
    receiver.respond = () => 500;
    await send('15550001', 'before reset');
    await receiver.waitFor(() => receiver.received.length >= 1, 5000, 'a first attempt');
    await api.post('/sim/reset', {});
    // An attempt already on the wire when the reset came may still land; after that, nothing is retried.
    await sleep(500);
    const count = receiver.received.length;
    await sleep(1000);
    expect(receiver.received.length).toBe(count);
    const stats = (await api.get('/sim/stats')).body;
    expect(stats.pending).toEqual({ statuses: { scheduled: 0, parked: 0 }, webhooks: { queued: 0, in_flight: 0, retrying: 0 } });
  });
});
