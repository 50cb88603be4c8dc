import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GRAPH_ERROR_CODES } from '@gtc/whatsapp';
import { ServiceProcess, startService } from '../../../libs/testing/src/service-process';
import { WebhookReceiver, client, sleep, textBody } from '../test/sim-harness';
import { GRAPH_ERROR_TEXT } from './graph-errors';

// The Graph API side of graph-sim, driven over HTTP against the built app: auth, validation, accepted sends and
// their inspection, mark-as-read, templates, injected errors, limits, latency, config and reset.

const PN = '1122334455667';
const TOKEN = 'token-abc';
const WABA = '5467539754836534';

let sim: ServiceProcess;
let receiver: WebhookReceiver;
let api: ReturnType<typeof client>;

async function register(id = PN, token = TOKEN): Promise<void> {
  const r = await api.post('/sim/phone-numbers', { phone_number_id: id, access_token: token, app_secret: 'secret', webhook_url: receiver.url, waba_id: WABA });
  expect(r.status).toBe(200);
}

beforeAll(async () => {
  receiver = await WebhookReceiver.start();
  sim = await startService('graph-sim', { GRAPH_SIM_STATUS_SENT_MS: '5', GRAPH_SIM_STATUS_DELIVERED_MS: '10', GRAPH_SIM_STATUS_READ_MS: '15' });
  api = client(sim.url);
});

afterAll(async () => {
  await sim?.stop();
  await receiver?.close();
});

beforeEach(async () => {
  expect((await api.post('/sim/reset', { all: true })).status).toBe(200);
  receiver.clear();
  await register();
});

function expectGraphError(body: unknown, code: number): void {
  expect(body).toMatchObject({ error: { code, type: 'OAuthException', message: expect.any(String), fbtrace_id: expect.any(String) } });
}

describe('authentication', () => {
  it('answers 401 / 190 for a wrong token, a missing token and an unknown number, recording nothing', async () => {
    const wrong = await api.send(PN, 'nope', textBody('15550001', 'hi'));
    expect(wrong.status).toBe(401);
    expectGraphError(wrong.body, 190);

    const missing = await api.post(`/v18.0/${PN}/messages`, textBody('15550001', 'hi'));
    expect(missing.status).toBe(401);
    expectGraphError(missing.body, 190);

    const unknown = await api.send('999', TOKEN, textBody('15550001', 'hi'));
    expect(unknown.status).toBe(401);
    expectGraphError(unknown.body, 190);

    expect((await api.get('/sim/messages')).body).toEqual([]);
    expect((await api.get('/sim/stats')).body.messages_rejected.auth).toBe(3);
  });

  it('lists phone numbers with their secrets redacted, and updates a number in place', async () => {
    await register(PN, 'second-token');
    const list = (await api.get('/sim/phone-numbers')).body;
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ phone_number_id: PN, access_token: '[redacted]', app_secret: '[redacted]', webhook_url: receiver.url, waba_id: WABA });
    expect(JSON.stringify(list)).not.toContain('second-token');
    expect((await api.send(PN, TOKEN, textBody('1', 'x'))).status).toBe(401);
    expect((await api.send(PN, 'second-token', textBody('1', 'x'))).status).toBe(200);
  });
});

describe('body validation', () => {
  it('answers 400 / 100 with error_data.details naming the field, and records nothing', async () => {
    const missing = await api.send(PN, TOKEN, { messaging_product: 'whatsapp', to: '15550001', type: 'text', text: {} });
    expect(missing.status).toBe(400);
    expectGraphError(missing.body, 100);
    expect(missing.body.error.error_data.details).toContain('text.body');

    const long = await api.send(PN, TOKEN, textBody('15550001', 'x'.repeat(4097)));
    expect(long.status).toBe(400);
    expectGraphError(long.body, 100);

    const buttons = await api.send(PN, TOKEN, {
      messaging_product: 'whatsapp',
      to: '15550001',
      type: 'interactive',
      interactive: {
        type: 'button',
        body: { text: 'pick' },
        action: { buttons: [1, 2, 3, 4].map((i) => ({ type: 'reply', reply: { id: `b${i}`, title: `B${i}` } })) },
      },
    });
    expect(buttons.status).toBe(400);
    expect(buttons.body.error.error_data.details).toContain('interactive.action.buttons');

    const product = await api.send(PN, TOKEN, { ...textBody('15550001', 'hi'), messaging_product: 'sms' });
    expect(product.status).toBe(400);

    const malformed = await fetch(`${sim.url}/v18.0/${PN}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: '{"messaging_product": "whatsapp", ',
    });
    expect(malformed.status).toBe(400);
    expectGraphError(await malformed.json(), 100);

    expect((await api.get('/sim/messages')).body).toEqual([]);
    expect((await api.get('/sim/stats')).body.messages_rejected.invalid_body).toBe(5);
  });
});

describe('accepted sends', () => {
  it('answers like Meta with a unique wamid and lists messages in order with the body exactly as sent', async () => {
    const bodies = [textBody('15550001', 'one', 'cb-1'), textBody('15550002', 'two ✓'), textBody('15550001', 'three')];
    const ids: string[] = [];
    for (const b of bodies) {
      const r = await api.send(PN, TOKEN, b);
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ messaging_product: 'whatsapp', contacts: [{ input: b.to, wa_id: b.to }], messages: [{ id: expect.stringMatching(/^wamid\./) }] });
      ids.push(r.body.messages[0].id);
    }
    expect(new Set(ids).size).toBe(3);

    const all = (await api.get('/sim/messages')).body;
    expect(all.map((m: { wamid: string }) => m.wamid)).toEqual(ids);
    expect(all[1]).toMatchObject({ wamid: ids[1], phone_number_id: PN, to: '15550002', type: 'text', body: bodies[1] });
    expect(Object.keys(all[0]).sort()).toEqual(['body', 'phone_number_id', 'received_at', 'statuses', 'to', 'type', 'wamid']);
    expect(Date.parse(all[0].received_at)).not.toBeNaN();

    const toOne = (await api.get('/sim/messages?to=15550001')).body;
    expect(toOne.map((m: { wamid: string }) => m.wamid)).toEqual([ids[0], ids[2]]);
    expect((await api.get(`/sim/messages?phone_number_id=other`)).body).toEqual([]);
    expect((await api.get(`/sim/messages?to=15550001&phone_number_id=${PN}`)).body).toHaveLength(2);
  });

  it('marks a message as read with { success: true }', async () => {
    const r = await api.send(PN, TOKEN, { messaging_product: 'whatsapp', status: 'read', message_id: 'wamid.abc' });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ success: true });
    expect((await api.get('/sim/stats')).body.marked_read).toBe(1);
  });

  it('counts sends with the same body or the same biz_opaque_callback_data twice', async () => {
    await api.send(PN, TOKEN, textBody('15550001', 'same', 'cb-x'));
    await api.send(PN, TOKEN, textBody('15550001', 'same', 'cb-x'));
    await api.send(PN, TOKEN, textBody('15550001', 'other', 'cb-x'));
    await api.send(PN, TOKEN, textBody('15550001', 'fresh', 'cb-y'));
    const d = (await api.get('/sim/stats')).body.duplicates;
    expect(d).toEqual({ same_body: 1, same_callback_data: 2, callback_data_examples: ['cb-x'] });
  });

  it('keeps at most max_messages, forgetting the oldest', async () => {
    await api.post('/sim/config', { max_messages: 3 });
    for (let i = 0; i < 5; i++) await api.send(PN, TOKEN, textBody('15550001', `m${i}`));
    const all = (await api.get('/sim/messages')).body;
    expect(all.map((m: { body: { text: { body: string } } }) => m.body.text.body)).toEqual(['m2', 'm3', 'm4']);
  });

  it('delays the answer by response_latency_ms, and stamps the message when its request arrived, as Meta counts it', async () => {
    await api.post('/sim/config', { response_latency_ms: 200 });
    const t0 = Date.now();
    expect((await api.send(PN, TOKEN, textBody('15550001', 'slow'))).status).toBe(200);
    const answered = Date.now();
    expect(answered - t0).toBeGreaterThanOrEqual(190);
    const [m] = (await api.get('/sim/messages')).body;
    // Before the latency, not after it: the throughput limit and the bench's worst second count arrivals. (The
    // arrival is the wall clock less the time since the route matched, measured on the monotonic clock: ±1 ms.)
    expect(Date.parse(m.received_at)).toBeGreaterThanOrEqual(t0 - 2);
    expect(Date.parse(m.received_at)).toBeLessThanOrEqual(answered - 190);
  });
});

describe('templates', () => {
  it('lists the default templates for the WABA, with paging', async () => {
    const r = await api.get(`/v18.0/${WABA}/message_templates`, { authorization: `Bearer ${TOKEN}` });
    expect(r.status).toBe(200);
    const names = r.body.data.map((t: { name: string }) => t.name);
    expect(names).toEqual(expect.arrayContaining(['order_confirmation', 'appointment_reminder', 'follow_up']));
    const appt = r.body.data.find((t: { name: string }) => t.name === 'appointment_reminder');
    expect(appt).toMatchObject({ language: 'en', status: 'APPROVED', category: expect.any(String) });
    expect(appt.components.map((c: { type: string }) => c.type)).toEqual(expect.arrayContaining(['HEADER', 'BODY', 'BUTTONS']));
    expect(appt.components.find((c: { type: string }) => c.type === 'HEADER').format).toBe('IMAGE');
    expect(r.body.paging.cursors).toBeDefined();

    const page = await api.get(`/v18.0/${WABA}/message_templates?limit=1`, { authorization: `Bearer ${TOKEN}` });
    expect(page.body.data).toHaveLength(1);
    expect(page.body.paging.next).toContain('after=');

    expect((await api.get(`/v18.0/${WABA}/message_templates`)).status).toBe(401);
    expect((await api.get(`/v18.0/123/message_templates`, { authorization: `Bearer ${TOKEN}` })).status).toBe(400);
  });

  it('checks template sends: unknown → 132001, wrong parameter count → 132000, right → 200', async () => {
    const template = (name: string, params: string[]) => ({
      messaging_product: 'whatsapp',
      to: '15550001',
      type: 'template',
      template: { name, language: { code: 'en' }, components: params.length ? [{ type: 'body', parameters: params.map((text) => ({ type: 'text', text })) }] : [] },
    });
    const unknown = await api.send(PN, TOKEN, template('nope', []));
    expect(unknown.status).toBe(404);
    expectGraphError(unknown.body, 132001);
    const wrong = await api.send(PN, TOKEN, template('order_confirmation', ['Ana']));
    expect(wrong.status).toBe(400);
    expectGraphError(wrong.body, 132000);
    expect((await api.send(PN, TOKEN, template('order_confirmation', ['Ana', 'A-1']))).status).toBe(200);
    expect((await api.send(PN, TOKEN, template('follow_up', []))).status).toBe(200);
  });

  it('replaces the template list with POST /sim/templates', async () => {
    const r = await api.post('/sim/templates', [{ name: 'only_one', language: 'pt_BR', components: [{ type: 'BODY', text: 'Olá {{1}}' }] }]);
    expect(r.status).toBe(200);
    const list = await api.get(`/v18.0/${WABA}/message_templates`, { authorization: `Bearer ${TOKEN}` });
    expect(list.body.data).toEqual([expect.objectContaining({ name: 'only_one', language: 'pt_BR', status: 'APPROVED' })]);
    const send = await api.send(PN, TOKEN, {
      messaging_product: 'whatsapp',
      to: '1',
      type: 'template',
      template: { name: 'only_one', language: { code: 'pt_BR' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }] }] },
    });
    expect(send.status).toBe(200);
  });
});

describe('injected send errors', () => {
  it('fails the next N matching sends with the given HTTP status and code, then accepts again', async () => {
    await api.post('/sim/config', { send_errors: [{ http_status: 500, code: 131000, count: 2 }] });
    const a = await api.send(PN, TOKEN, textBody('15550001', 'a'));
    const b = await api.send(PN, TOKEN, textBody('15550001', 'b'));
    const c = await api.send(PN, TOKEN, textBody('15550001', 'c'));
    expect([a.status, b.status, c.status]).toEqual([500, 500, 200]);
    expectGraphError(a.body, 131000);
    expect((await api.get('/sim/config')).body.send_errors).toEqual([]);
    expect((await api.get('/sim/messages')).body).toHaveLength(1);
    expect((await api.get('/sim/stats')).body.messages_rejected.injected_131000).toBe(2);
  });

  it.each([
    [400, 131047],
    [401, 190],
    [429, 130429],
  ])('injects HTTP %i with code %i, only for the listed recipient', async (status, code) => {
    await api.post('/sim/config', { send_errors: [{ http_status: status, code, count: 1, to: ['15550009'] }] });
    expect((await api.send(PN, TOKEN, textBody('15550001', 'other recipient'))).status).toBe(200);
    const r = await api.send(PN, TOKEN, textBody('15550009', 'target'));
    expect(r.status).toBe(status);
    expectGraphError(r.body, code);
    expect((await api.send(PN, TOKEN, textBody('15550009', 'again'))).status).toBe(200);
  });

  it.each(Object.entries(GRAPH_ERROR_CODES).map(([code, info]) => ({ code: Number(code), ...info })))(
    'answers code $code ($errorClass) on demand with HTTP $httpStatus and Meta\'s title',
    async ({ code, httpStatus, title }) => {
      await api.post('/sim/config', { send_errors: [{ code, count: 1, phone_number_id: PN }] });
      const r = await api.send(PN, TOKEN, textBody('15550001', 'x'));
      expect(r.status).toBe(httpStatus);
      expectGraphError(r.body, code);
      expect(r.body.error.message).toBe(`(#${code}) ${GRAPH_ERROR_TEXT[code]?.title ?? title}`);
      expect((await api.send(PN, TOKEN, textBody('15550001', 'y'))).status).toBe(200);
    },
  );

  it('answers a template text parameter with a newline, a tab or 5 spaces with 400 / 132018, as Meta does', async () => {
    for (const text of ['a\nb', 'a\tb', 'a     b']) {
      const r = await api.send(PN, TOKEN, {
        messaging_product: 'whatsapp',
        to: '15550001',
        type: 'template',
        template: { name: 'order_confirmation', language: { code: 'en' }, components: [{ type: 'body', parameters: [{ type: 'text', text }] }] },
      });
      expect(r.status).toBe(400);
      expectGraphError(r.body, 132018);
      expect(r.body.error.error_data.details).toMatch(/^template\.components\[0\]\.parameters\[0\]\.text: must not hold/);
    }
    expect((await api.get('/sim/messages')).body).toEqual([]);
  });

  it('injects errors with a probability, repeatably for the same seed', async () => {
    const run = async () => {
      await api.post('/sim/reset', {});
      await api.post('/sim/config', { seed: 7, send_errors: [{ http_status: 500, code: 131000, probability: 0.5 }] });
      const out: number[] = [];
      for (let i = 0; i < 20; i++) out.push((await api.send(PN, TOKEN, textBody('15550001', `p${i}`))).status);
      return out;
    };
    const first = await run();
    const second = await run();
    expect(first).toEqual(second);
    expect(first.filter((s) => s === 500).length).toBeGreaterThan(2);
    expect(first.filter((s) => s === 200).length).toBeGreaterThan(2);
  });
});

describe('limits', () => {
  it('enforces the throughput limit per phone number with 400 / 130429', async () => {
    await api.post('/sim/config', { throughput_mps: 5 });
    const t0 = Date.now();
    const statuses = await Promise.all(Array.from({ length: 8 }, (_, i) => api.send(PN, TOKEN, textBody(`1555000${i}`, 'burst'))));
    expect(Date.now() - t0).toBeLessThan(1000);
    const rejected = statuses.filter((r) => r.status === 400);
    expect(statuses.filter((r) => r.status === 200)).toHaveLength(5);
    expect(rejected).toHaveLength(3);
    for (const r of rejected) expectGraphError(r.body, 130429);
    await sleep(1050);
    expect((await api.send(PN, TOKEN, textBody('15550001', 'later'))).status).toBe(200);
  });

  it('enforces the pair rate limit per recipient with 400 / 131056', async () => {
    await api.post('/sim/config', { pair_limit: { max: 2, window_ms: 600 } });
    expect((await api.send(PN, TOKEN, textBody('15550001', '1'))).status).toBe(200);
    expect((await api.send(PN, TOKEN, textBody('15550001', '2'))).status).toBe(200);
    const third = await api.send(PN, TOKEN, textBody('15550001', '3'));
    expect(third.status).toBe(400);
    expectGraphError(third.body, 131056);
    expect((await api.send(PN, TOKEN, textBody('15550002', 'other user'))).status).toBe(200);
    await sleep(650);
    expect((await api.send(PN, TOKEN, textBody('15550001', '4'))).status).toBe(200);
    expect((await api.get('/sim/stats')).body.messages_rejected.pair_rate).toBe(1);
  });
});

describe('config and reset', () => {
  it('deep-merges partial updates and rejects bad values with 400 naming the field', async () => {
    const before = (await api.get('/sim/config')).body;
    const r = await api.post('/sim/config', { status_latency_ms: { read: 999 }, offline: ['1'] });
    expect(r.status).toBe(200);
    expect(r.body.status_latency_ms).toEqual({ ...before.status_latency_ms, read: 999 });
    expect(r.body.offline).toEqual(['1']);

    const bad = await api.post('/sim/config', { reorder_probability: 2 });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('reorder_probability');
    const typo = await api.post('/sim/config', { reorder_probabilty: 0.5 });
    expect(typo.status).toBe(400);
    expect((await api.get('/sim/config')).body.reorder_probability).toBe(before.reorder_probability);
  });

  it('reset clears messages and config but keeps numbers; reset { all: true } clears numbers too', async () => {
    await api.post('/sim/config', { throughput_mps: 1 });
    expect((await api.send(PN, TOKEN, textBody('15550001', 'x'))).status).toBe(200);
    expect((await api.post('/sim/reset', {})).status).toBe(200);
    expect((await api.get('/sim/messages')).body).toEqual([]);
    expect((await api.get('/sim/config')).body.throughput_mps).toBe(0);
    expect((await api.get('/sim/stats')).body.messages_accepted).toBe(0);
    expect((await api.send(PN, TOKEN, textBody('15550001', 'y'))).status).toBe(200);

    expect((await api.post('/sim/reset', { all: true })).status).toBe(200);
    expect((await api.get('/sim/phone-numbers')).body).toEqual([]);
    expect((await api.send(PN, TOKEN, textBody('15550001', 'z'))).status).toBe(401);
  });
});
