import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseWebhook } from '@gtc/whatsapp';
import { ServiceProcess, startService } from '../../../libs/testing/src/service-process';
import { WebhookReceiver, client, signatureMatches } from '../test/sim-harness';

// The inbound kinds graph-sim plays besides plain messages (issue 13): each is sent in Meta's documented shape and
// read back by the platform's own parser as a known kind; link clicks and raw bodies are signed and delivered too.

const PN = '2233445566778';
const TOKEN = 'token-kinds';
const SECRET = 'secret-kinds';

let sim: ServiceProcess;
let receiver: WebhookReceiver;
let api: ReturnType<typeof client>;

beforeAll(async () => {
  receiver = await WebhookReceiver.start();
  sim = await startService('graph-sim', { GRAPH_SIM_WEBHOOK_RETRY_BASE_MS: '20', GRAPH_SIM_WEBHOOK_RETRY_MAX_MS: '100' });
  api = client(sim.url);
});

afterAll(async () => {
  await sim?.stop();
  await receiver?.close();
});

beforeEach(async () => {
  expect((await api.post('/sim/reset', { all: true })).status).toBe(200);
  receiver.clear();
  expect((await api.post('/sim/phone-numbers', { phone_number_id: PN, access_token: TOKEN, app_secret: SECRET, webhook_url: receiver.url })).status).toBe(200);
});

/** The only change of the n-th accepted webhook, parsed by the platform's parser. */
function parsedChange(n: number) {
  const parsed = parseWebhook(receiver.accepted[n].body);
  if (!parsed.ok) throw new Error(parsed.reason);
  expect(parsed.invalid).toEqual([]);
  expect(parsed.changes).toHaveLength(1);
  expect(parsed.changes[0].invalid).toEqual([]);
  return parsed.changes[0];
}

describe('/sim/inbound sends every documented kind', () => {
  const cases: [string, Record<string, unknown>, Record<string, unknown>][] = [
    ['contacts', { contacts: [{ name: { formatted_name: 'Ann Lee' }, phones: [{ phone: '+1 555 0100' }] }] }, { type: 'contacts', contacts: [{ name: { formatted_name: 'Ann Lee' } }] }],
    [
      'order',
      { order: { catalog_id: 'CAT', text: 'soon', product_items: [{ product_retailer_id: 'S1', quantity: 1, item_price: 2.5, currency: 'EUR' }] } },
      { type: 'order', order: { catalogId: 'CAT', text: 'soon', productItems: [{ productRetailerId: 'S1', quantity: 1, itemPrice: 2.5, currency: 'EUR' }] } },
    ],
    ['nfm_reply', { nfm_reply: { response_json: '{"a":1}' } }, { type: 'interactive', nfmReply: { name: 'flow', body: 'Sent', response: { a: 1 } } }],
    ['reaction', { reaction: { message_id: 'wamid.X', emoji: '❤️' } }, { type: 'reaction', reaction: { messageId: 'wamid.X', emoji: '❤️' } }],
    ['edit', { edit: { original_message_id: 'wamid.O', text: 'new' } }, { type: 'edit', edit: { originalMessageId: 'wamid.O', type: 'text', text: 'new' } }],
    ['revoke', { revoke: { original_message_id: 'wamid.O' } }, { type: 'revoke', revoke: { originalMessageId: 'wamid.O' } }],
    ['group message', { group_id: 'GRP1', text: 'hi all' }, { type: 'text', groupId: 'GRP1', text: 'hi all' }],
    [
      'referral',
      { text: 'from the ad', referral: { source_url: 'https://fb.me/x', source_id: 'ad1', source_type: 'ad', ctwa_clid: 'c1' } },
      { text: 'from the ad', referral: { sourceUrl: 'https://fb.me/x', sourceId: 'ad1', sourceType: 'ad', ctwaClid: 'c1' } },
    ],
    [
      'referred_product',
      { text: 'stock?', referred_product: { catalog_id: 'CAT', product_retailer_id: 'S1' } },
      { context: { referredProduct: { catalogId: 'CAT', productRetailerId: 'S1' } } },
    ],
    ['parent BSUID', { text: 'x', user_id: 'US.1', parent_user_id: 'US.ENT.1' }, { userId: 'US.1', parentUserId: 'US.ENT.1' }],
    ['number change', { system: { type: 'user_changed_number', wa_id: '15550009' } }, { type: 'system', system: { type: 'user_changed_number', newWaId: '15550009' } }],
    [
      'BSUID change',
      { user_id: 'US.OLD', system: { type: 'user_changed_user_id', user_id: 'US.NEW', parent_user_id: 'US.ENT.NEW' } },
      { type: 'system', userId: 'US.OLD', system: { type: 'user_changed_user_id', newUserId: 'US.NEW', newParentUserId: 'US.ENT.NEW' } },
    ],
  ];

  it.each(cases)('%s', async (_name, input, expected) => {
    const r = await api.post('/sim/inbound', { phone_number_id: PN, from: '15550001', ...input });
    expect(r.status).toBe(202);
    await receiver.waitFor(() => receiver.accepted.length === 1, 5000, 'inbound webhook');
    const change = parsedChange(0);
    expect(change.messages).toHaveLength(1);
    expect(change.messages[0]).toMatchObject({ wamid: r.body.wamid, known: true, ...expected });
    // System messages come without a contacts array, as Meta sends them.
    expect(change.contacts.length).toBe(input.system ? 0 : 1);
  });

  it('refuses a body naming a bad field (400 with the field) and sends nothing', async () => {
    const bad = await api.post('/sim/inbound', { phone_number_id: PN, from: '1', system: { type: 'user_changed_user_id' } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.issues)).toContain('system.user_id');
    const order = await api.post('/sim/inbound', { phone_number_id: PN, from: '1', order: { catalog_id: 'C', product_items: [] } });
    expect(order.status).toBe(400);
    expect(JSON.stringify(order.body.issues)).toContain('order.product_items');
    expect(receiver.received).toEqual([]);
  });
});

describe('link clicks and raw bodies', () => {
  it('/sim/user-actions sends a marketing message link click in Meta\'s shape', async () => {
    expect((await api.post('/sim/user-actions', { phone_number_id: PN, click_component: 'cta', click_id: 'k1', from: '15550001', message_id: 'wamid.M' })).status).toBe(202);
    await receiver.waitFor(() => receiver.accepted.length === 1, 5000, 'user_actions webhook');
    const change = parsedChange(0);
    expect(change.messages).toEqual([]);
    expect(change.userActions).toMatchObject([
      { actionType: 'marketing_messages_link_click', known: true, messageId: 'wamid.M', from: '15550001', linkClick: { clickComponent: 'cta', clickId: 'k1' } },
    ]);
    expect((await api.post('/sim/user-actions', { phone_number_id: 'nope' })).status).toBe(404);
  });

  it('/sim/webhooks/raw signs and delivers any JSON body, redelivering until a 2xx', async () => {
    receiver.respond = (_req, i) => (i < 1 ? 500 : 200);
    const body = { object: 'page', entry: [{ id: '1', changes: [] }] };
    expect((await api.post('/sim/webhooks/raw', { phone_number_id: PN, body })).status).toBe(202);
    await receiver.waitFor(() => receiver.accepted.length === 1, 5000, 'raw webhook');
    expect(receiver.received.map((x) => x.answered)).toEqual([500, 200]);
    expect(receiver.accepted[0].body).toEqual(body);
    expect(signatureMatches(receiver.accepted[0].raw, receiver.accepted[0].headers['x-hub-signature-256'], SECRET)).toBe(true);
    expect((await api.post('/sim/webhooks/raw', { phone_number_id: PN })).status).toBe(400);
  });
});
