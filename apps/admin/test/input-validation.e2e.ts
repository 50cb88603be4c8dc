// e2e: input that Postgres cannot store, integers past their column, oversized variables, ids that would change a
// Graph API path, and numbers a token does not own: each answered 4xx naming the field, with nothing written.
// The built admin API against a database of its own and graph-sim as the Graph API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient, PrismaClient } from '@gtc/db';
import { ownDatabase, ServiceProcess, startService, testEnv } from '@gtc/testing';
import { Answer, call, errorOf } from './admin-api.helpers';

const ADMIN_KEY = 'iv-e2e-admin-key-0123456789abcdef';
const PHONE = '100200300401';
const TOKEN = 'EAAinputVALIDATIONtoken1';
const OTHER_PHONE = '100200300402';
const OTHER_TOKEN = 'EAAinputVALIDATIONtoken2';
const WABA = '987654321098766';
const USER = '4915112345678';
const NUL = 'a\u0000b';
const LONE_SURROGATE = 'a\ud800b';

const FLOW = `name: support
version: "1.0"
nodes:
  - id: greet
    type: reply
    config:
      message: "Hello {{name}}!"
triggers:
  - type: message
    target: greet
`;

let admin: ServiceProcess;
let sim: ServiceProcess;
let prisma: PrismaClient;
let dropDb: () => Promise<void>;
let tenantKey: string;
const api = (method: string, path: string, opts: Parameters<typeof call>[3] = {}) => call(admin.url, method, path, { key: ADMIN_KEY, ...opts });

async function simRegister(phoneNumberId: string, accessToken: string) {
  const res = await fetch(`${sim.url}/sim/phone-numbers`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ phone_number_id: phoneNumberId, access_token: accessToken, app_secret: 'secret', webhook_url: 'http://127.0.0.1:9/none', waba_id: WABA }),
  });
  expect(res.status).toBe(200);
}

/** Everything a refused request could have written. */
async function snapshot() {
  return {
    tenants: await prisma.tenant.findMany({ select: { id: true, name: true, updatedAt: true }, orderBy: { id: 'asc' } }),
    teams: await prisma.team.findMany({ select: { id: true, name: true, updatedAt: true }, orderBy: { id: 'asc' } }),
    providers: await prisma.whatsAppProvider.findMany({ orderBy: { id: 'asc' } }),
    flows: await prisma.flow.findMany({ select: { id: true, revision: true, active: true }, orderBy: { id: 'asc' } }),
    contacts: await prisma.contact.count(),
    inbound: await prisma.inboundMessage.count(),
    outbound: await prisma.outboundMessage.count(),
  };
}

/** Asserts a 4xx in the API's error shape whose details name `field`; returns the error. */
function expectRefused(a: Answer, field: string, status = 400) {
  expect(a.status, a.text).toBe(status);
  const e = errorOf(a);
  expect(e.details?.map((d) => d.path), a.text).toContain(field);
  return e;
}

/** Sends the request, asserts it is refused naming `field`, and that nothing changed in the database. */
async function refusedWithoutWrite(send: () => Promise<Answer>, field: string, status = 400) {
  const before = await snapshot();
  const e = expectRefused(await send(), field, status);
  expect(await snapshot()).toEqual(before);
  return e;
}

beforeAll(async () => {
  const env = testEnv();
  const db = await ownDatabase('admin_input_validation');
  dropDb = db.drop;
  sim = await startService('graph-sim', { REDIS_URL: env.redisUrl, REDIS_PREFIX: `${env.redisPrefix}-iv-sim` });
  admin = await startService('admin', {
    DATABASE_URL: db.url,
    REDIS_URL: env.redisUrl,
    REDIS_PREFIX: `${env.redisPrefix}-iv`,
    ADMIN_API_KEY: ADMIN_KEY,
    GRAPH_API_BASE_URL: sim.url,
  });
  prisma = createPrismaClient(db.url, { max: 2 });
  await simRegister(PHONE, TOKEN);
  await simRegister(OTHER_PHONE, OTHER_TOKEN);
  expect((await api('POST', '/v1/tenants', { body: { slug: 'acme', name: 'Acme' } })).status).toBe(201);
  expect((await api('POST', '/v1/tenants/acme/teams', { body: { slug: 'support' } })).status).toBe(201);
  expect((await api('POST', '/v1/tenants/acme/teams', { body: { slug: 'other' } })).status).toBe(201);
  const provider = await api('PUT', '/v1/tenants/acme/teams/support/provider', {
    body: { enabled: true, public_base_url: 'https://acme.example', phone_number_id: PHONE, access_token: TOKEN, verify_token: 'v', business_account_id: WABA },
  });
  expect(provider.status, provider.text).toBe(201);
  expect((await api('POST', '/v1/tenants/acme/teams/support/flows', { body: { source: FLOW } })).status).toBe(201);
  tenantKey = (await api('POST', '/v1/tenants/acme/api-keys', { body: { name: 'ci' } })).json.key;
});

afterAll(async () => {
  await prisma?.$disconnect();
  await admin?.stop();
  await sim?.stop();
  await dropDb?.();
});

describe('NUL characters: 400 naming the field, nothing written (the 13 places of issue 12)', () => {
  it('tenant name', async () => {
    await refusedWithoutWrite(() => api('POST', '/v1/tenants', { body: { slug: 'nul', name: NUL } }), 'name');
    await refusedWithoutWrite(() => api('PATCH', '/v1/tenants/acme', { body: { name: NUL } }), 'name');
  });

  it('team name (admin key and tenant key)', async () => {
    await refusedWithoutWrite(() => api('POST', '/v1/tenants/acme/teams', { body: { slug: 'nul', name: NUL } }), 'name');
    await refusedWithoutWrite(() => api('PATCH', '/v1/tenants/acme/teams/support', { key: tenantKey, body: { name: NUL } }), 'name');
  });

  it('provider verify_token', async () => {
    await refusedWithoutWrite(() => api('PATCH', '/v1/tenants/acme/teams/support/provider', { body: { verify_token: NUL } }), 'verify_token');
  });

  it('provider opt_out_confirmation', async () => {
    await refusedWithoutWrite(() => api('PATCH', '/v1/tenants/acme/teams/support/provider', { body: { opt_out_confirmation: NUL } }), 'opt_out_confirmation');
  });

  it('flow-start variables (a value and a key, on both start routes)', async () => {
    await refusedWithoutWrite(() => api('POST', '/v1/tenants/acme/teams/support/flows/support/start', { body: { to: USER, variables: { name: NUL } } }), 'variables.name');
    await refusedWithoutWrite(
      () => api('POST', '/v1/tenants/acme/flows/start', { body: { team: 'support', flow: 'support', to: USER, variables: { deep: [{ [NUL]: 1 }] } } }),
      `variables.deep[0].${NUL}`,
    );
  });

  it('message text', async () => {
    await refusedWithoutWrite(() => api('POST', '/v1/tenants/acme/messages', { body: { team: 'support', to: USER, content: { message: NUL } } }), 'content.message');
  });

  it.each(['q', 'name', 'wa_id', 'user_id', 'team'])('contacts query filter %s', async (field) => {
    await refusedWithoutWrite(() => api('GET', `/v1/tenants/acme/contacts?${field}=${encodeURIComponent(NUL)}`), field);
  });

  it('messages query filter team', async () => {
    await refusedWithoutWrite(() => api('GET', `/v1/tenants/acme/messages?team=${encodeURIComponent(NUL)}`), 'team');
  });

  it('path parameters (tenant, team, flow name)', async () => {
    await refusedWithoutWrite(() => api('GET', `/v1/tenants/${encodeURIComponent(NUL)}`), 'tenant');
    await refusedWithoutWrite(() => api('DELETE', `/v1/tenants/acme/teams/${encodeURIComponent(NUL)}`), 'team');
    await refusedWithoutWrite(() => api('GET', `/v1/tenants/acme/teams/support/flows/${encodeURIComponent(NUL)}`), 'name');
  });

  it('lone surrogates are refused like NUL', async () => {
    await refusedWithoutWrite(() => api('POST', '/v1/tenants', { body: { slug: 'surrogate', name: LONE_SURROGATE } }), 'name');
    await refusedWithoutWrite(() => api('POST', '/v1/tenants/acme/messages', { body: { team: 'support', to: USER, content: { message: LONE_SURROGATE } } }), 'content.message');
  });

  it('a flow whose YAML escapes produce a NUL is refused as invalid_flow, naming the node', async () => {
    const e = await refusedWithoutWrite(
      () => api('POST', '/v1/tenants/acme/teams/support/flows', { body: { source: FLOW.replace('"Hello {{name}}!"', '"Hello\\0"') } }),
      'nodes.greet.content.message',
    );
    expect(e.code).toBe('invalid_flow');
  });
});

describe('placeholders, integer ranges, sizes', () => {
  it.each(['{{constructor}}', '{{__proto__.x}}', '{{vars.prototype}}'])('a flow placeholder %s is refused as invalid_flow, naming the node field', async (placeholder) => {
    const e = await refusedWithoutWrite(
      () => api('POST', '/v1/tenants/acme/teams/support/flows', { body: { source: FLOW.replace('{{name}}', placeholder) } }),
      'nodes[0].config.message',
    );
    expect(e.code).toBe('invalid_flow');
    expect(e.details![0].message).toMatch(/reserved placeholder name/);
  });

  it('a placeholder named like another Object.prototype member ({{toString}}) is a plain variable', async () => {
    const res = await api('POST', '/v1/tenants/acme/teams/support/flows/validate', { body: { source: FLOW.replace('{{name}}', '{{toString}} {{hasOwnProperty.x}}') } });
    expect(res.status, res.text).toBe(200);
  });

  it('?revision=2147483648 (past int4) on read and delete', async () => {
    await refusedWithoutWrite(() => api('GET', '/v1/tenants/acme/teams/support/flows/support?revision=2147483648'), 'revision');
    await refusedWithoutWrite(() => api('DELETE', '/v1/tenants/acme/teams/support/flows/support?revision=2147483648'), 'revision');
    await refusedWithoutWrite(() => api('POST', '/v1/tenants/acme/teams/support/flows/support/activate', { body: { revision: 2147483648 } }), 'revision');
    await refusedWithoutWrite(() => api('GET', `/v1/tenants?cursor=${Buffer.from(JSON.stringify(['d2026-01-01T00:00:00.000Z', 'n2147483648'])).toString('base64url')}`), 'cursor');
    expect((await api('GET', '/v1/tenants/acme/teams/support/flows/support?revision=2147483647')).status).toBe(404);
  });

  it('flow-start variables of 900 KB are refused (the engine keeps at most 16 KB of session variables)', async () => {
    const e = await refusedWithoutWrite(
      () => api('POST', '/v1/tenants/acme/teams/support/flows/support/start', { body: { to: USER, variables: { blob: 'x'.repeat(900 * 1024) } } }),
      'variables',
    );
    expect(e.details![0].message).toMatch(/16384/);
    const ok = await api('POST', '/v1/tenants/acme/teams/support/flows/support/start', { body: { to: USER, variables: { name: 'Ana' } } });
    expect(ok.status, ok.text).toBe(202);
  });

  it('variables nested deeper than 32 levels are refused', async () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 40; i++) deep = { d: deep };
    await refusedWithoutWrite(() => api('POST', '/v1/tenants/acme/teams/support/flows/support/start', { body: { to: USER, variables: { deep } } }), 'variables.deep' + '.d'.repeat(31));
  });
});

describe('ids that go into Graph API URLs are digits only', () => {
  it.each([
    ['business_account_id', '..'],
    ['business_account_id', '123/../456'],
    ['phone_number_id', '..'],
    ['phone_number_id', '1%2F2'],
    ['api_version', 'v18.0/..'],
    ['api_version', '..'],
  ])('%s %j → 400, provider unchanged', async (field, value) => {
    await refusedWithoutWrite(() => api('PATCH', '/v1/tenants/acme/teams/support/provider', { body: { [field]: value } }), field);
  });
});

describe('a provider’s token must own its phone number (GET /{version}/{phone_number_id} on the Graph API)', () => {
  const put = (phone: string, token: string) =>
    api('PUT', '/v1/tenants/acme/teams/other/provider', { body: { enabled: true, public_base_url: 'https://acme.example', phone_number_id: phone, access_token: token, verify_token: 'v' } });

  it('another tenant’s number with my valid token → 400 phone_number_id', async () => {
    const e = await refusedWithoutWrite(() => put(OTHER_PHONE, TOKEN), 'phone_number_id');
    expect(e.code).toBe('phone_number_not_owned');
  });

  it('an unknown number → 400 phone_number_id', async () => {
    await refusedWithoutWrite(() => put('999999999999', TOKEN), 'phone_number_id');
  });

  it('a token the Graph API refuses → 400 access_token', async () => {
    await refusedWithoutWrite(() => put(OTHER_PHONE, 'EAAnobodysToken'), 'access_token');
  });

  it('PATCH of the existing provider: a foreign number or a wrong new token → 400, nothing changed', async () => {
    await refusedWithoutWrite(() => api('PATCH', '/v1/tenants/acme/teams/support/provider', { body: { phone_number_id: OTHER_PHONE } }), 'phone_number_id');
    await refusedWithoutWrite(() => api('PATCH', '/v1/tenants/acme/teams/support/provider', { key: tenantKey, body: { access_token: OTHER_TOKEN } }), 'access_token');
  });

  it('the owner’s token → 201', async () => {
    const res = await put(OTHER_PHONE, OTHER_TOKEN);
    expect(res.status, res.text).toBe(201);
    expect(res.json.phone_number_id).toBe(OTHER_PHONE);
    expect((await api('DELETE', '/v1/tenants/acme/teams/other/provider')).status).toBe(204);
  });

  it('the Graph API unreachable → 503 with a clear message, nothing written', async () => {
    await sim.stop();
    const before = await snapshot();
    const res = await put(OTHER_PHONE, OTHER_TOKEN);
    expect(res.status, res.text).toBe(503);
    expect(errorOf(res)).toMatchObject({ code: 'graph_api_unavailable', message: expect.stringMatching(/could not reach the Graph API.*nothing was changed/) });
    expect(await snapshot()).toEqual(before);
    // Fields that do not touch the number or token need no Graph API.
    expect((await api('PATCH', '/v1/tenants/acme/teams/support/provider', { body: { tier: '2' } })).status).toBe(200);
  });
});
