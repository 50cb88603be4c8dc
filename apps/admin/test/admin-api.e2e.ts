// e2e: the built admin API (apps/admin/dist) against the run's Postgres and Redis, with graph-sim as the Graph API.
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchLocksSql, createPrismaClient, PrismaClient, SecretBox } from '@gtc/db';
import { ownDatabase, ServiceProcess, startService, testEnv } from '@gtc/testing';
import { Answer, call, errorOf, seenBodies } from './admin-api.helpers';

const ADMIN_KEY = 'e2e-admin-key-0123456789abcdef';
const SECRETS_KEY = 'ab'.repeat(32);
const ACCESS_TOKEN = 'EAAe2eSECRETaccessTOKEN4242';
const APP_SECRET = 'e2e-APP-SECRET-7f3a9c';
const PHONE = '100200300400';
const WABA = '987654321098765';

const FLOW = (greeting: string) => `name: support
version: "1.0"
nodes:
  - id: greet
    type: reply
    config:
      message: "${greeting}"
triggers:
  - type: message
    target: greet
`;

const TEMPLATE_FLOW = (params: number, name = 'order_confirmation', language = 'en') => `name: notify
version: "1.0"
nodes:
  - id: send_template
    type: reply
    config:
      template:
        name: "${name}"
        language: "${language}"
        components:
          - type: body
            parameters:
${Array.from({ length: params }, (_, i) => `              - type: text\n                text: "{{p${i}}}"`).join('\n')}
`;

const INVALID_FLOW = `name: broken
version: "1.0"
nodes:
  - id: route
    type: branch
    config:
      conditions:
        - expression: "button.id == 'help'"
          next: nowhere
      default: missing
triggers:
  - type: interactive
    target: route
`;

let admin: ServiceProcess;
let sim: ServiceProcess;
let prisma: PrismaClient;
let A: string;
let dropDb: () => Promise<void>;
const api = (method: string, path: string, opts: Parameters<typeof call>[3] = {}) =>
  call(admin.url, method, path, { key: ADMIN_KEY, ...opts });

beforeAll(async () => {
  const env = testEnv();
  const db = await ownDatabase('admin_e2e');
  dropDb = db.drop;
  sim = await startService('graph-sim', { REDIS_URL: env.redisUrl, REDIS_PREFIX: `${env.redisPrefix}-admin-e2e-sim` });
  admin = await startService('admin', {
    DATABASE_URL: db.url,
    REDIS_URL: env.redisUrl,
    REDIS_PREFIX: `${env.redisPrefix}-admin-e2e`,
    ADMIN_API_KEY: ADMIN_KEY,
    SECRETS_KEY,
    GRAPH_API_BASE_URL: sim.url,
    LOG_LEVEL: 'debug',
  });
  A = admin.url;
  prisma = createPrismaClient(db.url, { max: 2 });
  // graph-sim knows the number, its token and its WhatsApp Business Account.
  const reg = await fetch(`${sim.url}/sim/phone-numbers`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ phone_number_id: PHONE, access_token: ACCESS_TOKEN, app_secret: APP_SECRET, webhook_url: 'http://127.0.0.1:9/none', waba_id: WABA }),
  });
  expect(reg.status).toBe(200);
});

afterAll(async () => {
  await prisma?.$disconnect();
  await admin?.stop();
  await sim?.stop();
  await dropDb?.();
});

/** Registers (or re-registers) a number with graph-sim: the admin API checks that a provider's token owns its number. */
async function simRegister(phoneNumberId: string, accessToken: string) {
  const res = await fetch(`${sim.url}/sim/phone-numbers`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ phone_number_id: phoneNumberId, access_token: accessToken, app_secret: APP_SECRET, webhook_url: 'http://127.0.0.1:9/none', waba_id: WABA }),
  });
  expect(res.status).toBe(200);
}

function expectError(a: Answer, status: number, code?: string) {
  expect(a.status, a.text).toBe(status);
  const e = errorOf(a);
  if (code) expect(e.code).toBe(code);
  return e;
}

describe('admin API', () => {
  it('answers 401 without a key or with an unknown key, in the error shape', async () => {
    for (const path of ['/v1/tenants', '/v1/tenants/acme', '/v1/tenants/acme/teams', '/v1/tenants/acme/messages']) {
      expectError(await call(A, 'GET', path), 401, 'unauthorized');
      expectError(await call(A, 'GET', path, { key: 'gtc_not-a-real-key' }), 401, 'unauthorized');
    }
    expect((await call(A, 'GET', '/health/live')).status).toBe(200);
  });

  it('tenants: create, conflict, list, get, rename, validation lists every field, delete', async () => {
    const bad = await api('POST', '/v1/tenants', { body: { slug: 'Not A Slug!', name: 42, colour: 'red' } });
    const e = expectError(bad, 400, 'validation_failed');
    expect(e.details!.map((d) => d.path).sort()).toEqual(['colour', 'name', 'slug']);
    expect(await prisma.tenant.count()).toBe(0);

    const created = await api('POST', '/v1/tenants', { body: { slug: 'acme', name: 'Acme' } });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ slug: 'acme', name: 'Acme' });
    expectError(await api('POST', '/v1/tenants', { body: { slug: 'acme' } }), 409, 'conflict');
    expect((await api('POST', '/v1/tenants', { body: { slug: 'globex', name: 'Globex' } })).status).toBe(201);
    expect((await api('POST', '/v1/tenants', { body: { slug: 'temp' } })).status).toBe(201);

    const page1 = await api('GET', '/v1/tenants?limit=2');
    expect(page1.json.data).toHaveLength(2);
    expect(page1.json.next_cursor).toBeTruthy();
    const page2 = await api('GET', `/v1/tenants?limit=2&cursor=${page1.json.next_cursor}`);
    expect(page2.json.data).toHaveLength(1);
    expect(page2.json.next_cursor).toBeNull();
    expect([...page1.json.data, ...page2.json.data].map((t: { slug: string }) => t.slug).sort()).toEqual(['acme', 'globex', 'temp']);
    expectError(await api('GET', '/v1/tenants?limit=500'), 400, 'validation_failed');
    // Keyset pages: a tenant created between two pages neither repeats a row nor pushes one out (an offset would).
    const first = await api('GET', '/v1/tenants?limit=1');
    expect((await api('POST', '/v1/tenants', { body: { slug: 'newcomer' } })).status).toBe(201);
    const rest = await api('GET', `/v1/tenants?limit=10&cursor=${first.json.next_cursor}`);
    expect([...first.json.data, ...rest.json.data].map((t: { slug: string }) => t.slug).sort()).toEqual(['acme', 'globex', 'temp']);
    expect((await api('DELETE', '/v1/tenants/newcomer')).status).toBe(204);
    // A cursor no list made: 400 naming `cursor`, whatever is inside.
    const forged = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    for (const cursor of [forged(['d2026-01-01T00:00:00.000Z', 'snot-a-uuid']), forged(['d2026-01-01T00:00:00.000Z']), forged(['dsoon', `s${randomUUID()}`]), forged(['d+275760-09-13T00:00:00.000Z', `s${randomUUID()}`]), forged(['n1', 's\u0000']), forged(['sgarbage', `s${randomUUID()}`]), forged(['d2026-01-01T00:00:00.000Z', 'n5']), 'bm9wZQ', forged({})]) {
      const e = expectError(await api('GET', `/v1/tenants?cursor=${cursor}`), 400, 'validation_failed');
      expect(e.details!.map((d) => d.path)).toEqual(['cursor']);
    }

    expect((await api('GET', '/v1/tenants/acme')).json.name).toBe('Acme');
    expect((await api('PATCH', '/v1/tenants/temp', { body: { name: 'Temporary' } })).json.name).toBe('Temporary');
    expectError(await api('GET', '/v1/tenants/nope'), 404, 'not_found');
    expect((await api('DELETE', '/v1/tenants/temp')).status).toBe(204);
    expectError(await api('GET', '/v1/tenants/temp'), 404);
  });

  it('answers malformed JSON with 400 and oversized bodies with 413, in the error shape', async () => {
    expectError(await api('POST', '/v1/tenants', { raw: '{"slug": ' }), 400);
    const big = await rawPost(`${A}/v1/tenants`, JSON.stringify({ slug: 'big', name: 'x'.repeat(4 * 1024 * 1024) }));
    expect(big.status).toBe(413);
    expect(JSON.parse(big.text).error.code).toBe('payload_too_large');
    expect(await prisma.tenant.count({ where: { slug: 'big' } })).toBe(0);
    expectError(await api('GET', '/v1/nothing-here'), 404);
  });

  it('teams: create, list, get, rename, delete; unknown tenant or team → 404', async () => {
    expect((await api('POST', '/v1/tenants/acme/teams', { body: { slug: 'support', name: 'Support' } })).status).toBe(201);
    expect((await api('POST', '/v1/tenants/acme/teams', { body: { slug: 'sales' } })).status).toBe(201);
    expectError(await api('POST', '/v1/tenants/acme/teams', { body: { slug: 'support' } }), 409);
    expectError(await api('POST', '/v1/tenants/nope/teams', { body: { slug: 'x' } }), 404);
    const list = await api('GET', '/v1/tenants/acme/teams');
    expect(list.json.data.map((t: { slug: string }) => t.slug)).toEqual(['support', 'sales']);
    expect((await api('PATCH', '/v1/tenants/acme/teams/sales', { body: { name: 'Sales EU' } })).json.name).toBe('Sales EU');
    expect((await api('GET', '/v1/tenants/acme/teams/support')).json).toMatchObject({ slug: 'support', has_provider: false });
    expectError(await api('GET', '/v1/tenants/acme/teams/nope'), 404);
    expect((await api('DELETE', '/v1/tenants/acme/teams/sales')).status).toBe(204);
    expectError(await api('GET', '/v1/tenants/acme/teams/sales'), 404);
  });

  it('provider: PUT validates every field and writes nothing on bad input', async () => {
    const bad = await api('PUT', '/v1/tenants/acme/teams/support/provider', {
      body: { public_base_url: 'not a url', tier: '7', ordering: 'random', throughput_mps: 0 },
    });
    const e = expectError(bad, 400, 'validation_failed');
    expect(e.details!.map((d) => d.path).sort()).toEqual(
      ['enabled', 'ordering', 'phone_number_id', 'public_base_url', 'throughput_mps', 'tier', 'verify_token'].sort(),
    );
    const noToken = await api('PUT', '/v1/tenants/acme/teams/support/provider', {
      body: { enabled: true, public_base_url: 'https://x.example', phone_number_id: PHONE, verify_token: 'v' },
    });
    expect(expectError(noToken, 400, 'validation_failed').details!.map((d) => d.path)).toEqual(['access_token']);
    expect(await prisma.whatsAppProvider.count()).toBe(0);
  });

  it('provider: PUT creates with defaults, shows the webhook URL, keeps secrets encrypted and redacted', async () => {
    const res = await api('PUT', '/v1/tenants/acme/teams/support/provider', {
      body: {
        enabled: true,
        public_base_url: 'https://acme.example/',
        phone_number_id: PHONE,
        access_token: ACCESS_TOKEN,
        verify_token: 'acme-verify',
        business_account_id: WABA,
        app_secret: APP_SECRET,
      },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({
      webhook_url: 'https://acme.example/webhook/whatsapp/acme/support',
      verify_token: 'acme-verify',
      access_token: '***',
      app_secret: '***',
      has_app_secret: true,
      api_version: 'v18.0',
      tier: '1',
      throughput_mps: 80,
      ordering: 'delivered',
      opt_out_keywords: ['STOP', 'UNSUBSCRIBE'],
      paused_at: null,
    });
    const row = await prisma.whatsAppProvider.findFirstOrThrow({ where: { phoneNumberId: PHONE } });
    expect(row.accessTokenEnc).not.toContain(ACCESS_TOKEN);
    const box = new SecretBox(Buffer.from(SECRETS_KEY, 'hex'));
    expect(box.decrypt(row.accessTokenEnc)).toBe(ACCESS_TOKEN);
    expect(box.decrypt(row.appSecretEnc!)).toBe(APP_SECRET);

    // Same options again: nothing written.
    const again = await api('PUT', '/v1/tenants/acme/teams/support/provider', {
      body: { enabled: true, public_base_url: 'https://acme.example', phone_number_id: PHONE, access_token: ACCESS_TOKEN, verify_token: 'acme-verify', business_account_id: WABA, app_secret: APP_SECRET },
    });
    expect(again.status).toBe(200);
    expect(again.json.changed).toBe(false);
    const same = await prisma.whatsAppProvider.findFirstOrThrow({ where: { phoneNumberId: PHONE } });
    expect(same.updatedAt.getTime()).toBe(row.updatedAt.getTime());
    expect(same.accessTokenEnc).toBe(row.accessTokenEnc);

    const patched = await api('PATCH', '/v1/tenants/acme/teams/support/provider', { body: { tier: 'unlimited', ordering_timeout_ms: 5000 } });
    expect(patched.json).toMatchObject({ tier: 'unlimited', ordering_timeout_ms: 5000, changed: true });
    expect((await api('GET', '/v1/tenants/acme/teams/support/provider')).json.tier).toBe('unlimited');

    // Paused by the sender, resumed through the API.
    await prisma.whatsAppProvider.update({ where: { id: row.id }, data: { pausedAt: new Date(), pausedReason: 'token expired (190)' } });
    expect((await api('GET', '/v1/tenants/acme/teams/support/provider')).json.paused_reason).toBe('token expired (190)');
    const resumed = await api('POST', '/v1/tenants/acme/teams/support/provider/resume');
    expect(resumed.json).toMatchObject({ paused_at: null, paused_reason: null });
    // Or resumed by giving it a new access token (the usual cure for a refused one); the same token leaves it paused.
    await prisma.whatsAppProvider.update({ where: { id: row.id }, data: { pausedAt: new Date(), pausedReason: 'token expired (190)' } });
    expect((await api('PATCH', '/v1/tenants/acme/teams/support/provider', { body: { access_token: ACCESS_TOKEN } })).json.paused_reason).toBe('token expired (190)');
    await simRegister(PHONE, `${ACCESS_TOKEN}-renewed`);
    const renewed = await api('PATCH', '/v1/tenants/acme/teams/support/provider', { body: { access_token: `${ACCESS_TOKEN}-renewed` } });
    expect(renewed.json).toMatchObject({ paused_at: null, paused_reason: null, changed: true });
    await simRegister(PHONE, ACCESS_TOKEN);
    await api('PATCH', '/v1/tenants/acme/teams/support/provider', { body: { access_token: ACCESS_TOKEN } });

    // Another team cannot take the same number.
    await api('POST', '/v1/tenants/acme/teams', { body: { slug: 'other' } });
    expectError(
      await api('PUT', '/v1/tenants/acme/teams/other/provider', {
        body: { enabled: true, public_base_url: 'https://a.example', phone_number_id: PHONE, access_token: 'x', verify_token: 'y' },
      }),
      409,
    );
    await simRegister('555000111', 'tok-other-team');
    const other = await api('PUT', '/v1/tenants/acme/teams/other/provider', {
      body: { enabled: false, public_base_url: 'https://a.example', phone_number_id: '555000111', access_token: 'tok-other-team', verify_token: 'y' },
    });
    expect(other.status).toBe(201);
    // A status the number received for no message of ours goes with the number.
    const otherProvider = await prisma.whatsAppProvider.findFirstOrThrow({ where: { phoneNumberId: '555000111' } });
    await prisma.statusEvent.create({ data: { tenantId: otherProvider.tenantId, providerId: otherProvider.id, wamid: 'wamid.other.1', status: 'sent', timestamp: new Date(), payload: {} } });
    expect((await api('DELETE', '/v1/tenants/acme/teams/other/provider')).status).toBe(204);
    expectError(await api('GET', '/v1/tenants/acme/teams/other/provider'), 404);
    expect(await prisma.statusEvent.count({ where: { providerId: otherProvider.id } })).toBe(0);
  });

  it('flows: upload, unchanged re-upload, new revision, invalid flow lists every error and stores nothing', async () => {
    const base = '/v1/tenants/acme/teams/support/flows';
    const first = await api('POST', base, { body: { file_name: 'flows/support.ygtc', source: FLOW('Hello!') } });
    expect(first.status, first.text).toBe(201);
    expect(first.json.flow).toMatchObject({ name: 'support', revision: 1, active: true });

    const same = await api('POST', base, { body: { file_name: 'flows/support.ygtc', source: FLOW('Hello!') } });
    expect(same.status).toBe(200);
    expect(same.json).toMatchObject({ created: false, changed: false, flow: { revision: 1 } });

    const second = await api('POST', `${base}?file_name=support.ygtc`, { raw: FLOW('Hi there!'), contentType: 'text/yaml' });
    expect(second.status, second.text).toBe(201);
    expect(second.json.flow).toMatchObject({ revision: 2, active: true });
    const rows = await prisma.flow.findMany({ where: { name: 'support' }, orderBy: { revision: 'asc' } });
    expect(rows.map((r) => [r.revision, r.active])).toEqual([
      [1, false],
      [2, true],
    ]);

    const invalid = await api('POST', base, { body: { file_name: 'flows/on_button.ygtc', source: INVALID_FLOW } });
    const e = expectError(invalid, 400, 'invalid_flow');
    expect(e.details!.length).toBeGreaterThanOrEqual(2);
    for (const d of e.details! as Array<Record<string, unknown>>) {
      expect(d.file).toBe('flows/on_button.ygtc');
      expect(d.line).toBeGreaterThan(0);
      expect(d.column).toBeGreaterThan(0);
      expect(typeof d.path).toBe('string');
    }
    expect(JSON.stringify(e.details)).toMatch(/nowhere/);
    expect(JSON.stringify(e.details)).toMatch(/missing/);
    expect(await prisma.flow.count({ where: { name: 'broken' } })).toBe(0);

    const validated = await api('POST', `${base}/validate`, { body: { source: FLOW('Validate only') } });
    expect(validated.status).toBe(200);
    expect(validated.json.valid).toBe(true);
    expectError(await api('POST', `${base}/validate`, { body: { source: INVALID_FLOW } }), 400, 'invalid_flow');
    expect(await prisma.flow.count()).toBe(2);

    const list = await api('GET', base);
    expect(list.json.data).toEqual([expect.objectContaining({ name: 'support', revision: 2, active: true, active_revision: 2, revisions: 2 })]);
    expect((await api('GET', `${base}/support`)).json).toMatchObject({ revision: 2, source: FLOW('Hi there!') });
    expect((await api('GET', `${base}/support?revision=1`)).json).toMatchObject({ revision: 1, source: FLOW('Hello!') });
    expect((await api('GET', `${base}/support/versions`)).json.data.map((v: { revision: number }) => v.revision)).toEqual([2, 1]);

    expect((await api('POST', `${base}/support/activate`, { body: { revision: 1 } })).json).toMatchObject({ revision: 1, active: true });
    expect((await prisma.flow.findMany({ where: { name: 'support', active: true } })).map((r) => r.revision)).toEqual([1]);
    await api('POST', `${base}/support/deactivate`);
    expect(await prisma.flow.count({ where: { name: 'support', active: true } })).toBe(0);
    await api('POST', `${base}/support/activate`);
    expect((await prisma.flow.findMany({ where: { name: 'support', active: true } })).map((r) => r.revision)).toEqual([2]);
    expectError(await api('GET', `${base}/nope`), 404);

    await api('POST', base, { body: { source: FLOW('to delete').replace('name: support', 'name: scratch') } });
    expect((await api('DELETE', `${base}/scratch`)).status).toBe(204);
    expect(await prisma.flow.count({ where: { name: 'scratch' } })).toBe(0);
  });

  it('templates: a warning before any sync; sync from the Graph API; template replies checked at upload', async () => {
    const base = '/v1/tenants/acme/teams/support';
    const early = await api('POST', `${base}/flows/validate`, { body: { source: TEMPLATE_FLOW(1) } });
    expect(early.status).toBe(200);
    expect(JSON.stringify(early.json.warnings)).toMatch(/no templates synced/);

    const sync = await api('POST', `${base}/templates/sync`);
    expect(sync.status, sync.text).toBe(200);
    expect(sync.json.synced).toBeGreaterThanOrEqual(3);
    const list = await api('GET', `${base}/templates`);
    expect(list.json.data.map((t: { name: string }) => t.name)).toContain('order_confirmation');
    expect(await prisma.messageTemplate.count()).toBe(sync.json.synced);

    const wrongCount = expectError(await api('POST', `${base}/flows`, { body: { source: TEMPLATE_FLOW(1) } }), 400, 'invalid_flow');
    expect(wrongCount.message + JSON.stringify(wrongCount.details)).toMatch(/send_template.*takes 2 body parameter/);
    const unknown = expectError(await api('POST', `${base}/flows`, { body: { source: TEMPLATE_FLOW(2, 'no_such_template') } }), 400);
    expect(unknown.details!.map((d) => d.message).join('\n')).toMatch(/node send_template: unknown template "no_such_template"/);
    const language = expectError(await api('POST', `${base}/flows`, { body: { source: TEMPLATE_FLOW(2, 'order_confirmation', 'de') } }), 400);
    expect(language.details!.map((d) => d.message).join('\n')).toMatch(/no language "de"/);
    expect(await prisma.flow.count({ where: { name: 'notify' } })).toBe(0);
    const ok = await api('POST', `${base}/flows`, { body: { source: TEMPLATE_FLOW(2) } });
    expect(ok.status, ok.text).toBe(201);
  });

  it('messages: send (idempotent with Idempotency-Key), every content error, list, one with its timeline', async () => {
    const send = (body: unknown, headers?: Record<string, string>) => api('POST', '/v1/tenants/acme/messages', { body, headers });
    const bad = await send({ team: 'support', to: '4915112345678', content: { interactive: { type: 'button', body: { text: 'x' }, action: { buttons: [] } } } });
    expectError(bad, 400, 'validation_failed');
    const bad2 = await send({ team: 'support', to: 'abc', content: { message: 'hi' } });
    expect(expectError(bad2, 400).details!.map((d) => d.path)).toEqual(['to']);
    expect(await prisma.outboundMessage.count()).toBe(0);

    const first = await send({ team: 'support', to: '4915112345678', content: { message: 'Your order shipped' } }, { 'idempotency-key': 'order-1-shipped' });
    expect(first.status, first.text).toBe(201);
    expect(first.json.message).toMatchObject({ seq: 1, type: 'text', state: 'queued', business_initiated: true });
    const retry = await send({ team: 'support', to: '4915112345678', content: { message: 'Your order shipped' } }, { 'idempotency-key': 'order-1-shipped' });
    expect(retry.status).toBe(200);
    expect(retry.json.message.id).toBe(first.json.message.id);
    expect(await prisma.outboundMessage.count()).toBe(1);
    const row = await prisma.outboundMessage.findUniqueOrThrow({ where: { id: first.json.message.id } });
    expect(row.body).toMatchObject({ messaging_product: 'whatsapp', to: '4915112345678', type: 'text', text: { body: 'Your order shipped' } });

    const tpl = await send({ team: 'support', to: '4915112345678', content: { template: { name: 'follow_up', language: 'en' } } });
    expect(tpl.status, tpl.text).toBe(201);
    expect(tpl.json.message.seq).toBe(2);
    expectError(await send({ team: 'support', to: '4915112345678', content: { template: { name: 'order_confirmation', language: 'en' } } }), 400, 'template_mismatch');

    // Statuses recorded by ingress/sender appear as an ordered timeline.
    await prisma.outboundMessage.update({ where: { id: row.id }, data: { wamid: 'wamid.e2e.1', state: 'delivered' } });
    const t0 = Date.now();
    for (const [i, status] of ['delivered', 'sent'].entries()) {
      await prisma.statusEvent.create({
        data: { tenantId: row.tenantId, providerId: row.providerId, wamid: 'wamid.e2e.1', status, outboundId: row.id, timestamp: new Date(t0 + (status === 'sent' ? 0 : 1000)), payload: { i } },
      });
    }
    const one = await api('GET', `/v1/tenants/acme/messages/${row.id}`);
    expect(one.json.timeline.map((s: { status: string }) => s.status)).toEqual(['sent', 'delivered']);
    // Meta's timestamps are whole seconds: a read of the same second as its delivery, recorded first, still comes after it.
    const second = new Date(Math.floor((t0 + 1000) / 1000) * 1000);
    await prisma.statusEvent.updateMany({ where: { wamid: 'wamid.e2e.1', status: 'delivered' }, data: { timestamp: second } });
    await prisma.statusEvent.create({
      data: { tenantId: row.tenantId, providerId: row.providerId, wamid: 'wamid.e2e.1', status: 'read', outboundId: row.id, timestamp: second, receivedAt: new Date(t0 - 60_000), payload: {} },
    });
    const again = await api('GET', `/v1/tenants/acme/messages/${row.id}`);
    expect(again.json.timeline.map((s: { status: string }) => s.status)).toEqual(['sent', 'delivered', 'read']);

    const queued = await api('GET', '/v1/tenants/acme/messages?state=queued');
    expect(queued.json.data.map((m: { id: string }) => m.id)).toEqual([tpl.json.message.id]);
    const byTeam = await api('GET', '/v1/tenants/acme/messages?team=support&limit=1');
    expect(byTeam.json.data).toHaveLength(1);
    expect(byTeam.json.next_cursor).toBeTruthy();
    expect((await api('GET', `/v1/tenants/acme/messages?since=${new Date(Date.now() + 60_000).toISOString()}`)).json.data).toHaveLength(0);
    expectError(await api('GET', '/v1/tenants/acme/messages?since=yesterday'), 400, 'validation_failed');
    expectError(await api('GET', '/v1/tenants/acme/messages/00000000-0000-4000-8000-000000000000'), 404);
  });

  it('contacts: search, window state, opt-out refuses sends and flow starts, opt-in, release a handoff', async () => {
    const list = await api('GET', '/v1/tenants/acme/contacts?wa_id=4915112345678');
    expect(list.json.data).toHaveLength(1);
    const c = list.json.data[0];
    expect(c).toMatchObject({ wa_id: '4915112345678', team: 'support', window_open: false, opted_out: false });

    await prisma.contact.update({ where: { id: c.id }, data: { lastInboundAt: new Date(Date.now() - 3600_000), profileName: 'Ana' } });
    const one = await api('GET', `/v1/tenants/acme/contacts/${c.id}`);
    expect(one.json.window_open).toBe(true);
    expect(new Date(one.json.window_expires_at).getTime()).toBeGreaterThan(Date.now());
    expect((await api('GET', '/v1/tenants/acme/contacts?q=ana')).json.data).toHaveLength(1);

    expect((await api('POST', `/v1/tenants/acme/contacts/${c.id}/opt-out`)).json.opted_out).toBe(true);
    const refused = await api('POST', '/v1/tenants/acme/messages', { body: { team: 'support', to: '4915112345678', content: { message: 'promo' } } });
    expect(expectError(refused, 409, 'contact_opted_out').message).toMatch(/opted out/);
    const refusedFlow = await api('POST', '/v1/tenants/acme/teams/support/flows/support/start', { body: { to: '4915112345678' } });
    expectError(refusedFlow, 409, 'contact_opted_out');
    expect(await prisma.outboundMessage.count()).toBe(2);
    expect(await prisma.inboundMessage.count()).toBe(0);
    expect((await api('POST', `/v1/tenants/acme/contacts/${c.id}/opt-in`)).json.opted_out).toBe(false);

    expectError(await api('POST', `/v1/tenants/acme/contacts/${c.id}/release`), 409, 'not_in_handoff');
    await prisma.session.create({ data: { tenantId: (await prisma.tenant.findUniqueOrThrow({ where: { slug: 'acme' } })).id, contactId: c.id, status: 'handoff', nodeId: 'escalate' } });
    const released = await api('POST', `/v1/tenants/acme/contacts/${c.id}/release`);
    expect(released.json.session.status).toBe('idle');
    expect((await prisma.session.findUniqueOrThrow({ where: { contactId: c.id } })).status).toBe('idle');
    expectError(await api('GET', '/v1/tenants/acme/contacts/not-a-uuid'), 404);
  });

  it('starts a flow for a contact: a flow_start inbound row and a job, once per Idempotency-Key', async () => {
    const start = await api('POST', '/v1/tenants/acme/teams/support/flows/support/start', {
      body: { to: '4915199999999', variables: { order_id: 'A-1042' } },
      headers: { 'idempotency-key': 'start-1' },
    });
    expect(start.status, start.text).toBe(202);
    const again = await api('POST', '/v1/tenants/acme/flows/start', {
      body: { team: 'support', flow: 'support', to: '4915199999999', variables: { order_id: 'A-1042' } },
      headers: { 'idempotency-key': 'start-1' },
    });
    expect(again.json.inbound_id).toBe(start.json.inbound_id);
    const rows = await prisma.inboundMessage.findMany();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ type: 'flow_start', wamid: 'api.start-1', state: 'pending', payload: { flow: 'support', vars: { order_id: 'A-1042' } } });
    expect(rows[0].contactId).toBeTruthy();
    expectError(await api('POST', '/v1/tenants/acme/teams/support/flows/nope/start', { body: { to: '4915199999999' } }), 404);
    expect((await api('GET', '/v1/tenants/acme/messages?direction=inbound')).json.data).toHaveLength(1);
  });

  it('streams an inbound message’s media from the Graph API with the provider token', async () => {
    const res = await fetch(`${sim.url}/sim/inbound`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ phone_number_id: PHONE, from: '4915112345678', image: { caption: 'receipt', mime_type: 'image/png' } }),
    });
    expect(res.status).toBe(202);
    const records = (await (await fetch(`${sim.url}/sim/inbound?phone_number_id=${PHONE}`)).json()) as unknown[];
    const found = JSON.stringify(records).match(/"image":\{[^}]*"id":"([^"]+)"/);
    expect(found, JSON.stringify(records).slice(0, 500)).toBeTruthy();
    const mediaId = found![1];
    const provider = await prisma.whatsAppProvider.findFirstOrThrow({ where: { phoneNumberId: PHONE } });
    const contact = await prisma.contact.findFirstOrThrow({ where: { waId: '4915112345678' } });
    const inbound = await prisma.inboundMessage.create({
      data: { tenantId: provider.tenantId, providerId: provider.id, contactId: contact.id, wamid: 'wamid.media.1', type: 'image', payload: { type: 'image', media: { kind: 'image', id: mediaId, mimeType: 'image/png' } }, state: 'processed' },
    });
    const media = await fetch(`${A}/v1/tenants/acme/messages/${inbound.id}/media`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(media.status).toBe(200);
    expect(media.headers.get('content-type')).toMatch(/^image\/png/);
    const bytes = Buffer.from(await media.arrayBuffer());
    expect(bytes.subarray(0, 4).toString('hex')).toBe('89504e47');
    const noMedia = await api('GET', `/v1/tenants/acme/messages/${(await prisma.inboundMessage.findFirstOrThrow({ where: { type: 'flow_start' } })).id}/media`);
    expectError(noMedia, 404);
  });

  it('deletes a contact with its messages and their statuses, and nothing of another number (204, then 404)', async () => {
    const provider = await prisma.whatsAppProvider.findFirstOrThrow({ where: { phoneNumberId: PHONE } });
    const contact = await prisma.contact.create({ data: { tenantId: provider.tenantId, providerId: provider.id, waId: '4915100000099' } });
    const sent = await prisma.outboundMessage.create({
      data: { tenantId: provider.tenantId, providerId: provider.id, contactId: contact.id, seq: 1, type: 'text', body: { text: { body: 'bye' } }, wamid: 'wamid.erase.1', state: 'read' },
    });
    const statusOf = (providerId: string, status: string, outboundId: string | null) =>
      prisma.statusEvent.create({ data: { tenantId: provider.tenantId, providerId, wamid: 'wamid.erase.1', status, outboundId, appliedAt: outboundId ? new Date() : null, timestamp: new Date(), payload: {} } });
    for (const status of ['sent', 'delivered', 'read']) await statusOf(provider.id, status, sent.id);
    // The same wamid from another number of the tenant names another message: it stays.
    await api('POST', '/v1/tenants/acme/teams', { body: { slug: 'erasure' } });
    await simRegister('555000222', 'tok-erasure');
    expect((await api('PUT', '/v1/tenants/acme/teams/erasure/provider', { body: { enabled: false, public_base_url: 'https://a.example', phone_number_id: '555000222', access_token: 'tok-erasure', verify_token: 'y' } })).status).toBe(201);
    const elsewhere = await prisma.whatsAppProvider.findFirstOrThrow({ where: { phoneNumberId: '555000222' } });
    await statusOf(elsewhere.id, 'sent', null);

    // A writer holding the contact's batch lock (a flow step writing a reply) commits first: its reply goes too.
    let deleted: Promise<Answer> | undefined;
    await prisma.$transaction(async (tx) => {
      await tx.$queryRawUnsafe(`SELECT count(*) FROM (${batchLocksSql('contacts', '(SELECT $1::uuid AS id) c', 'id')}) l`, contact.id);
      await tx.outboundMessage.create({ data: { tenantId: provider.tenantId, providerId: provider.id, contactId: contact.id, seq: 2, type: 'text', body: {} } });
      deleted = api('DELETE', `/v1/tenants/acme/contacts/${contact.id}`);
      await expect
        .poll(async () => (await prisma.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'advisory'`))[0].n, { timeout: 4_000 })
        .toBe(1);
    });
    expect((await deleted!).status).toBe(204);
    expect(await prisma.contact.count({ where: { id: contact.id } })).toBe(0);
    expect(await prisma.outboundMessage.count({ where: { contactId: contact.id } })).toBe(0);
    expect(await prisma.statusEvent.count({ where: { providerId: provider.id, wamid: 'wamid.erase.1' } })).toBe(0);
    expect(await prisma.statusEvent.count({ where: { providerId: elsewhere.id, wamid: 'wamid.erase.1' } })).toBe(1);
    expectError(await api('DELETE', `/v1/tenants/acme/contacts/${contact.id}`), 404);
    expect((await api('DELETE', '/v1/tenants/acme/teams/erasure')).status).toBe(204);
  });

  it('stats: counts by state, queue depths, paused providers, tier usage', async () => {
    const s = await api('GET', '/v1/tenants/acme/stats');
    expect(s.status).toBe(200);
    expect(s.json.outbound).toMatchObject({ queued: 1, delivered: 1 });
    expect(s.json.inbound).toMatchObject({ pending: 1, processed: 1 });
    expect(s.json.queues.outbound.waiting + s.json.queues.outbound.delayed + s.json.queues.outbound.active).toBeGreaterThanOrEqual(2);
    expect(s.json.queues.inbound.waiting).toBeGreaterThanOrEqual(1);
    expect(s.json.paused_providers).toEqual([]);
    expect(s.json.limit_usage[0]).toMatchObject({ team: 'support', tier: 'unlimited', tier_limit: null, tier_counting: 'messages', tier_window_seconds: 86_400 });
    const acme = await prisma.tenant.findUniqueOrThrow({ where: { slug: 'acme' } });
    expect(s.json.limit_usage[0].tier_used).toBe(await prisma.outboundMessage.count({ where: { tenantId: acme.id, sentAt: { gte: new Date(Date.now() - 86_400_000) } } }));
  });

  it('API keys: admin-only, shown once, hashed; tenant keys reach only their tenant (404 elsewhere, 403 on admin routes)', async () => {
    const acmeKey = await api('POST', '/v1/tenants/acme/api-keys', { body: { name: 'acme ops' } });
    expect(acmeKey.status).toBe(201);
    const globexKey = await api('POST', '/v1/tenants/globex/api-keys', { body: {} });
    const keyA: string = acmeKey.json.key;
    const keyG: string = globexKey.json.key;
    const stored = await prisma.apiKey.findUniqueOrThrow({ where: { id: acmeKey.json.id } });
    expect(stored.hash).not.toContain(keyA);
    expect(keyA.startsWith(stored.prefix)).toBe(true);
    const listed = await api('GET', '/v1/tenants/acme/api-keys');
    expect(listed.text).not.toContain(keyA);
    expect(listed.json.data[0]).toMatchObject({ id: acmeKey.json.id, prefix: stored.prefix });

    expect((await call(A, 'GET', '/v1/tenants/acme/teams', { key: keyA })).status).toBe(200);
    expect((await call(A, 'GET', '/v1/tenants/acme/teams/support/provider', { key: keyA })).json.access_token).toBe('***');
    expectError(await call(A, 'GET', '/v1/tenants', { key: keyA }), 403, 'forbidden');
    expectError(await call(A, 'POST', '/v1/tenants', { key: keyA, body: { slug: 'sneaky' } }), 403);
    expectError(await call(A, 'POST', '/v1/tenants/acme/api-keys', { key: keyA, body: {} }), 403);
    expectError(await call(A, 'DELETE', '/v1/tenants/acme', { key: keyA }), 403);
    expect(await prisma.tenant.count({ where: { slug: 'sneaky' } })).toBe(0);

    // Every route of tenant acme answers 404 to globex's key, and nothing changes.
    const flow = 'support';
    const message = (await prisma.outboundMessage.findFirstOrThrow()).id;
    const contact = (await prisma.contact.findFirstOrThrow()).id;
    const fill = (p: string) =>
      p.replace(':tenant', 'acme').replace(':team', 'support').replace(':name', flow).replace(':id', p.includes('contacts') ? contact : p.includes('api-keys') ? acmeKey.json.id : message);
    const before = JSON.stringify(await snapshot());
    const routes = mappedRoutes().filter((r) => r.path.includes(':tenant'));
    expect(routes.length).toBeGreaterThan(30);
    for (const r of routes) {
      const res = await call(A, r.method, fill(r.path), { key: keyG, body: ['POST', 'PUT', 'PATCH'].includes(r.method) ? {} : undefined });
      expect(res.status, `${r.method} ${r.path}: ${res.text}`).toBe(404);
      errorOf(res);
    }
    expect(JSON.stringify(await snapshot())).toBe(before);

    const revoked = await api('DELETE', `/v1/tenants/acme/api-keys/${acmeKey.json.id}`);
    expect(revoked.json.revoked_at).toBeTruthy();
    expectError(await call(A, 'GET', '/v1/tenants/acme/teams', { key: keyA }), 401);
  });

  it('serves a valid OpenAPI document covering every route Nest registered, and the Swagger UI', async () => {
    const doc = (await call(A, 'GET', '/docs/json')).json;
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBeTruthy();
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, { responses?: Record<string, unknown> }>>)) {
      const ops = Object.entries(item).filter(([m]) => ['get', 'post', 'put', 'patch', 'delete'].includes(m));
      expect(ops.length, path).toBeGreaterThan(0);
      for (const [method, op] of ops) {
        expect(Object.keys(op.responses ?? {}).length, `${method} ${path}`).toBeGreaterThan(0);
        documented.add(`${method.toUpperCase()} ${path}`);
      }
    }
    const routes = mappedRoutes();
    expect(routes.length).toBeGreaterThan(40);
    for (const r of routes) expect(documented, `${r.method} ${r.path}`).toContain(`${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`);
    expect(documented.size).toBe(routes.length);
    const ui = await fetch(`${A}/docs`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toMatch(/swagger/i);
  });

  it('guards the queue dashboard with the admin key (Bearer or basic auth)', async () => {
    expectError(await call(A, 'GET', '/queues', { key: null }), 401);
    expect((await call(A, 'GET', '/queues', { key: 'wrong' })).status).toBe(401);
    expect((await call(A, 'GET', '/queues', { key: ADMIN_KEY })).status).toBe(200);
    const basic = await fetch(`${A}/queues`, { headers: { authorization: `Basic ${Buffer.from(`ops:${ADMIN_KEY}`).toString('base64')}` } });
    expect(basic.status).toBe(200);
    const wrongBasic = await fetch(`${A}/queues`, { headers: { authorization: `Basic ${Buffer.from('ops:nope').toString('base64')}` } });
    expect(wrongBasic.status).toBe(401);
    expect(wrongBasic.headers.get('www-authenticate')).toMatch(/^Basic/);
    const withBasic = await fetch(`${A}/queues/api/queues`, { headers: { authorization: `Basic ${Buffer.from(`ops:${ADMIN_KEY}`).toString('base64')}` } });
    expect(withBasic.status).toBe(200);
    const names = JSON.stringify(await withBasic.json());
    for (const q of ['inbound', 'outbound', 'status']) expect(names).toContain(`"${q}"`);
  });

  it('never shows or logs a secret', async () => {
    // Put the secrets through once more, including a failing request, so they pass through the logs' reach.
    await api('PATCH', '/v1/tenants/acme/teams/support/provider', { body: { access_token: ACCESS_TOKEN, app_secret: APP_SECRET, tier: 'bogus' } });
    await api('PATCH', '/v1/tenants/acme/teams/support/provider', { body: { access_token: ACCESS_TOKEN, app_secret: APP_SECRET } });
    await new Promise((r) => setTimeout(r, 300));
    expect(seenBodies.length).toBeGreaterThan(50);
    for (const body of seenBodies) {
      expect(body).not.toContain(ACCESS_TOKEN);
      expect(body).not.toContain(APP_SECRET);
    }
    const logs = admin.logs.join('\n');
    expect(admin.logs.length).toBeGreaterThan(50);
    expect(logs).toMatch(/"req":/); // request lines are logged (LOG_LEVEL=debug) ...
    expect(logs).not.toContain(ACCESS_TOKEN); // ... but never a secret
    expect(logs).not.toContain(APP_SECRET);
    expect(admin.logs.filter((l) => l.includes(ADMIN_KEY))).toEqual([]);
  });
});

/** POSTs a body with node:http, reading the answer even if the server stops reading the body early (413). */
/**
 * POST announcing the whole body but writing only its start: the server must refuse on the length alone (413).
 * (Writing all of it races the server's early answer and close: the client may see a reset instead of the 413.)
 */
function rawPost(url: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}`, 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
        req.destroy();
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e)));
    req.write(body.slice(0, 64 * 1024));
  });
}

/** The routes Nest registered, from its "Mapped {path, METHOD} route" log lines. */
function mappedRoutes(): Array<{ method: string; path: string }> {
  const out: Array<{ method: string; path: string }> = [];
  for (const line of admin.logs) {
    const m = /Mapped \{([^,]+), (\w+)\} route/.exec(line);
    if (m) out.push({ path: m[1], method: m[2] });
  }
  return out;
}

/** Row counts and update stamps of everything tenant acme owns. */
async function snapshot() {
  return {
    tenants: await prisma.tenant.findMany({ orderBy: { slug: 'asc' }, select: { slug: true, updatedAt: true } }),
    teams: await prisma.team.findMany({ orderBy: { slug: 'asc' }, select: { slug: true, updatedAt: true } }),
    providers: await prisma.whatsAppProvider.findMany({ orderBy: { id: 'asc' }, select: { id: true, updatedAt: true, pausedAt: true } }),
    flows: await prisma.flow.findMany({ orderBy: [{ name: 'asc' }, { revision: 'asc' }], select: { name: true, revision: true, active: true } }),
    contacts: await prisma.contact.findMany({ orderBy: { id: 'asc' }, select: { id: true, updatedAt: true, optedOut: true } }),
    outbound: await prisma.outboundMessage.count(),
    inbound: await prisma.inboundMessage.count(),
    keys: await prisma.apiKey.findMany({ orderBy: { id: 'asc' }, select: { id: true, revokedAt: true } }),
    templates: await prisma.messageTemplate.count(),
  };
}
