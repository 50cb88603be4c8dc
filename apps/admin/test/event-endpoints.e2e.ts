// e2e: event endpoints of the admin API (issue 15): the built admin API against a database of its own, Redis, and
// graph-sim as the Graph API. Rows are read back with Prisma; the dispatcher's side (attempts, failures) is played
// by writing its rows, as the dispatcher would.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from 'pg';
import { createPrismaClient, eventRowId, EVENTS_CHANNEL, PrismaClient, publicEventId, SecretBox, withDefaultUser } from '@gtc/db';
import { ownDatabase, ServiceProcess, startService, testEnv } from '@gtc/testing';
import { Answer, call, errorOf, seenBodies } from './admin-api.helpers';

const ADMIN_KEY = 'ev-e2e-admin-key-0123456789abcdef';
const SECRETS_KEY = 'cd'.repeat(32);
const PHONE = '100200300410';
const TOKEN = 'EAAeventsE2Etoken1';
const NEW_TOKEN = 'EAAeventsE2Etoken2';
const WABA = '987654321098710';
const EP = '/v1/tenants/acme/event-endpoints';

let admin: ServiceProcess;
let sim: ServiceProcess;
let prisma: PrismaClient;
let dbUrl: string;
let dropDb: () => Promise<void>;
let acmeKey: string;
let globexKey: string;
const box = new SecretBox(Buffer.from(SECRETS_KEY, 'hex'));
const api = (method: string, path: string, opts: Parameters<typeof call>[3] = {}) => call(admin.url, method, path, { key: ADMIN_KEY, ...opts });

function expectError(a: Answer, status: number, code?: string) {
  expect(a.status, a.text).toBe(status);
  const e = errorOf(a);
  if (code) expect(e.code).toBe(code);
  return e;
}

/** Everything an event-endpoint request could write. */
async function snapshot() {
  return {
    endpoints: await prisma.eventEndpoint.findMany({ orderBy: { id: 'asc' } }),
    events: await prisma.event.findMany({ orderBy: { id: 'asc' } }),
    deliveries: await prisma.eventDelivery.findMany({ orderBy: { id: 'asc' } }),
  };
}

/** Registers the number with graph-sim under that token (the admin API checks that a provider's token owns its number). */
async function simRegister(accessToken: string) {
  const reg = await fetch(`${sim.url}/sim/phone-numbers`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ phone_number_id: PHONE, access_token: accessToken, app_secret: 'secret', webhook_url: 'http://127.0.0.1:9/none', waba_id: WABA }),
  });
  expect(reg.status).toBe(200);
}

/** Creates an endpoint with the admin key and returns its answer (201 asserted). */
async function createEndpoint(body: Record<string, unknown>, tenant = 'acme') {
  const res = await api('POST', `/v1/tenants/${tenant}/event-endpoints`, { body });
  expect(res.status, res.text).toBe(201);
  return res.json as { id: string; secret: string; [k: string]: unknown };
}

beforeAll(async () => {
  const env = testEnv();
  const db = await ownDatabase('admin_event_endpoints');
  dbUrl = db.url;
  dropDb = db.drop;
  sim = await startService('graph-sim', { REDIS_URL: env.redisUrl, REDIS_PREFIX: `${env.redisPrefix}-ev-sim` });
  admin = await startService('admin', {
    DATABASE_URL: db.url,
    REDIS_URL: env.redisUrl,
    REDIS_PREFIX: `${env.redisPrefix}-ev`,
    ADMIN_API_KEY: ADMIN_KEY,
    SECRETS_KEY,
    GRAPH_API_BASE_URL: sim.url,
    LOG_LEVEL: 'debug',
  });
  prisma = createPrismaClient(db.url, { max: 2 });
  await simRegister(TOKEN);
  for (const t of ['acme', 'globex']) expect((await api('POST', '/v1/tenants', { body: { slug: t } })).status).toBe(201);
  for (const [t, team] of [
    ['acme', 'support'],
    ['acme', 'sales'],
    ['globex', 'ops'],
  ]) {
    expect((await api('POST', `/v1/tenants/${t}/teams`, { body: { slug: team } })).status).toBe(201);
  }
  const provider = await api('PUT', '/v1/tenants/acme/teams/support/provider', {
    body: { enabled: true, public_base_url: 'https://acme.example', phone_number_id: PHONE, access_token: TOKEN, verify_token: 'v', business_account_id: WABA },
  });
  expect(provider.status, provider.text).toBe(201);
  acmeKey = (await api('POST', '/v1/tenants/acme/api-keys', { body: { name: 'acme' } })).json.key;
  globexKey = (await api('POST', '/v1/tenants/globex/api-keys', { body: { name: 'globex' } })).json.key;
});

afterAll(async () => {
  await prisma?.$disconnect();
  await admin?.stop();
  await sim?.stop();
  await dropDb?.();
});

describe('event endpoints', () => {
  it('create answers the secret once (whsec_ + 24 random bytes, stored encrypted); GET, list and the logs never show it', async () => {
    const created = await api('POST', EP, { body: { url: 'https://crm.acme.example/hooks', events: ['message.received', 'message.status'], team: 'support', description: 'CRM' } });
    expect(created.status, created.text).toBe(201);
    expect(created.json).toMatchObject({ url: 'https://crm.acme.example/hooks', events: ['message.received', 'message.status'], team: 'support', enabled: true, description: 'CRM' });
    const secret: string = created.json.secret;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(24);

    const row = await prisma.eventEndpoint.findUniqueOrThrow({ where: { id: created.json.id } });
    expect(row.secretEnc).not.toContain(secret.slice(6));
    expect(box.decrypt(row.secretEnc)).toBe(secret);
    expect(row.teamId).toBe((await prisma.team.findFirstOrThrow({ where: { slug: 'support' } })).id);

    const one = await api('GET', `${EP}/${created.json.id}`);
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({ id: created.json.id, url: row.url, events: row.events, team: 'support', enabled: true, previous_secret_expires_at: null });
    expect(one.json.secret).toBeUndefined();
    const list = await api('GET', EP);
    expect(list.json.data.map((e: { id: string }) => e.id)).toContain(created.json.id);
    const tenantList = await call(admin.url, 'GET', EP, { key: acmeKey });
    expect(tenantList.status).toBe(200);
    for (const a of [one, list, tenantList]) {
      expect(a.text).not.toContain(secret);
      expect(a.text).not.toContain('whsec_');
    }
    expect(admin.logs.join('\n')).not.toContain(secret);

    // ["*"] and a tenant-wide endpoint (no team); duplicates collapse; a tenant key may create for its tenant.
    const all = await call(admin.url, 'POST', EP, { key: acmeKey, body: { url: 'http://127.0.0.1:9/all', events: ['*'] } });
    expect(all.status, all.text).toBe(201);
    expect(all.json).toMatchObject({ events: ['*'], team: null });
    const dup = await createEndpoint({ url: 'https://x.example/', events: ['contact.opted_out', 'contact.opted_out'] });
    expect(dup.events).toEqual(['contact.opted_out']);
    await api('DELETE', `${EP}/${dup.id}`);
  });

  it('bad input: 400 naming the field, nothing written', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ events: ['*'] }, 'url'],
      [{ url: '/relative/path', events: ['*'] }, 'url'],
      [{ url: 'ftp://files.example/x', events: ['*'] }, 'url'],
      [{ url: 'https://user:pass@crm.example/h', events: ['*'] }, 'url'],
      [{ url: 'https://user@crm.example/h', events: ['*'] }, 'url'],
      [{ url: `https://crm.example/${'a'.repeat(2048)}`, events: ['*'] }, 'url'],
      [{ url: 'https://crm.example/a\u0000b', events: ['*'] }, 'url'],
      [{ url: 12, events: ['*'] }, 'url'],
      [{ url: 'https://crm.example/h' }, 'events'],
      [{ url: 'https://crm.example/h', events: [] }, 'events'],
      [{ url: 'https://crm.example/h', events: ['*', 'message.status'] }, 'events'],
      [{ url: 'https://crm.example/h', events: ['ping'] }, 'events[0]'],
      [{ url: 'https://crm.example/h', events: ['message.status', 'message.exploded'] }, 'events[1]'],
      [{ url: 'https://crm.example/h', events: 'message.status' }, 'events'],
      [{ url: 'https://crm.example/h', events: ['*'], team: 'ops' }, 'team'], // globex's team
      [{ url: 'https://crm.example/h', events: ['*'], team: 'nope' }, 'team'],
      [{ url: 'https://crm.example/h', events: ['*'], team: 'Not A Slug' }, 'team'],
      [{ url: 'https://crm.example/h', events: ['*'], description: 'd'.repeat(501) }, 'description'],
      [{ url: 'https://crm.example/h', events: ['*'], secret: 'whsec_mine' }, 'secret'],
      [{ url: 'https://crm.example/h', events: ['*'], enabled: false }, 'enabled'],
    ];
    const before = await snapshot();
    for (const [body, field] of cases) {
      const res = await api('POST', EP, { body });
      expect(res.status, `${JSON.stringify(body).slice(0, 120)}: ${res.text}`).toBe(400);
      const e = errorOf(res);
      expect(e.code).toBe('validation_failed');
      expect(e.details?.map((d) => d.path), res.text).toContain(field);
    }
    expect(await snapshot()).toEqual(before);

    // PATCH: the same rules, and only url, events, enabled, description.
    const ep = await createEndpoint({ url: 'https://crm.example/patch', events: ['message.status'] });
    const mid = await snapshot();
    for (const [body, field] of [
      [{ url: 'mailto:ops@acme.example' }, 'url'],
      [{ events: [] }, 'events'],
      [{ events: ['nope'] }, 'events[0]'],
      [{ enabled: 'yes' }, 'enabled'],
      [{ team: 'sales' }, 'team'],
      [{ secret: 'whsec_x' }, 'secret'],
      [{ description: 'd'.repeat(501) }, 'description'],
    ] as Array<[Record<string, unknown>, string]>) {
      const res = await api('PATCH', `${EP}/${ep.id}`, { body });
      expect(res.status, res.text).toBe(400);
      expect(errorOf(res).details?.map((d) => d.path)).toContain(field);
    }
    expect(await snapshot()).toEqual(mid);
    await api('DELETE', `${EP}/${ep.id}`);
  });

  it('https only with NODE_ENV=production (400 naming url, nothing written)', async () => {
    const env = testEnv();
    const prod = await startService('admin', {
      DATABASE_URL: dbUrl,
      REDIS_URL: env.redisUrl,
      REDIS_PREFIX: `${env.redisPrefix}-ev-prod`,
      ADMIN_API_KEY: ADMIN_KEY,
      SECRETS_KEY,
      GRAPH_API_BASE_URL: sim.url,
      NODE_ENV: 'production',
    });
    try {
      const before = await snapshot();
      const res = await call(prod.url, 'POST', EP, { key: ADMIN_KEY, body: { url: 'http://crm.acme.example/hooks', events: ['*'] } });
      expectError(res, 400, 'validation_failed');
      expect(errorOf(res).details).toEqual([{ path: 'url', message: 'must be https (NODE_ENV=production)' }]);
      expect(await snapshot()).toEqual(before);
      const ok = await call(prod.url, 'POST', EP, { key: ADMIN_KEY, body: { url: 'https://crm.acme.example/hooks', events: ['*'] } });
      expect(ok.status, ok.text).toBe(201);
      await api('DELETE', `${EP}/${ok.json.id}`);
    } finally {
      await prod.stop();
    }
  });

  it('PATCH changes url, events, description and enabled; writes nothing when nothing changes; enabling clears an automatic disable', async () => {
    const ep = await createEndpoint({ url: 'https://crm.example/v1', events: ['message.status'], team: 'sales' });
    const patched = await api('PATCH', `${EP}/${ep.id}`, { body: { url: 'https://crm.example/v2', events: ['message.failed', 'provider.paused'], description: 'v2' } });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.json).toMatchObject({ url: 'https://crm.example/v2', events: ['message.failed', 'provider.paused'], description: 'v2', team: 'sales', enabled: true });
    expect(patched.json.secret).toBeUndefined();
    const row = await prisma.eventEndpoint.findUniqueOrThrow({ where: { id: ep.id } });
    expect(row).toMatchObject({ url: 'https://crm.example/v2', events: ['message.failed', 'provider.paused'], description: 'v2' });

    const same = await api('PATCH', `${EP}/${ep.id}`, { body: { url: 'https://crm.example/v2', events: ['message.failed', 'provider.paused'] } });
    expect(same.status).toBe(200);
    expect((await prisma.eventEndpoint.findUniqueOrThrow({ where: { id: ep.id } })).updatedAt).toEqual(row.updatedAt);

    const off = await api('PATCH', `${EP}/${ep.id}`, { body: { enabled: false } });
    expect(off.json).toMatchObject({ enabled: false, disabled_reason: 'disabled through the API' });
    expect(off.json.disabled_at).toBeTruthy();
    // The dispatcher disabled it (410 Gone): enabling clears the reason and the failing streak.
    await prisma.eventEndpoint.update({ where: { id: ep.id }, data: { disabledReason: 'the endpoint answered 410 Gone', failingSince: new Date() } });
    expect((await api('GET', `${EP}/${ep.id}`)).json.disabled_reason).toBe('the endpoint answered 410 Gone');
    // Meanwhile the dispatcher parked the endpoint's deliveries: enabling makes them due now.
    const ping = await prisma.event.create({ data: { tenantId: row.tenantId, teamId: row.teamId, type: 'ping', data: {} } });
    const parkedUntil = new Date(Date.now() + 60_000);
    const parked = await prisma.eventDelivery.create({ data: { eventId: ping.id, endpointId: ep.id, nextAttemptAt: parkedUntil } });
    const on = await api('PATCH', `${EP}/${ep.id}`, { body: { enabled: true } });
    expect(on.json).toMatchObject({ enabled: true, disabled_at: null, disabled_reason: null, failing_since: null });
    expect(await prisma.eventEndpoint.findUniqueOrThrow({ where: { id: ep.id } })).toMatchObject({ enabled: true, disabledAt: null, disabledReason: null, failingSince: null });
    expect((await prisma.eventDelivery.findUniqueOrThrow({ where: { id: parked.id } })).nextAttemptAt.getTime()).toBeLessThan(parkedUntil.getTime());
  });

  it('rotate-secret answers a new secret once and keeps the old one signing for 24 h (listed as valid until then)', async () => {
    const ep = await createEndpoint({ url: 'https://crm.example/rotate', events: ['*'] });
    const before = Date.now();
    const rotated = await api('POST', `${EP}/${ep.id}/rotate-secret`);
    expect(rotated.status, rotated.text).toBe(200);
    expect(rotated.json.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(rotated.json.secret).not.toBe(ep.secret);
    const until = new Date(rotated.json.previous_secret_expires_at).getTime();
    expect(until).toBeGreaterThanOrEqual(before + 24 * 3600_000 - 1000);
    expect(until).toBeLessThanOrEqual(Date.now() + 24 * 3600_000 + 1000);

    const row = await prisma.eventEndpoint.findUniqueOrThrow({ where: { id: ep.id } });
    expect(box.decrypt(row.secretEnc)).toBe(rotated.json.secret);
    expect(box.decrypt(row.previousSecretEnc!)).toBe(ep.secret);
    expect(row.previousSecretExpiresAt!.getTime()).toBe(until);

    const one = await api('GET', `${EP}/${ep.id}`);
    expect(new Date(one.json.previous_secret_expires_at).getTime()).toBe(until);
    const list = await api('GET', EP);
    expect(new Date(list.json.data.find((e: { id: string }) => e.id === ep.id).previous_secret_expires_at).getTime()).toBe(until);
    for (const a of [one, list]) {
      expect(a.text).not.toContain(ep.secret);
      expect(a.text).not.toContain(rotated.json.secret);
    }
    // Once the 24 hours are over it is no longer listed.
    await prisma.eventEndpoint.update({ where: { id: ep.id }, data: { previousSecretExpiresAt: new Date(Date.now() - 1000) } });
    expect((await api('GET', `${EP}/${ep.id}`)).json.previous_secret_expires_at).toBeNull();
  });

  it('DELETE removes the endpoint with its deliveries; then 404', async () => {
    const ep = await createEndpoint({ url: 'https://crm.example/delete', events: ['*'] });
    expect((await api('POST', `${EP}/${ep.id}/test`)).status).toBe(202);
    expect(await prisma.eventDelivery.count({ where: { endpointId: ep.id } })).toBe(1);
    const del = await api('DELETE', `${EP}/${ep.id}`);
    expect(del.status).toBe(204);
    expect(await prisma.eventEndpoint.count({ where: { id: ep.id } })).toBe(0);
    expect(await prisma.eventDelivery.count({ where: { endpointId: ep.id } })).toBe(0);
    expectError(await api('GET', `${EP}/${ep.id}`), 404, 'not_found');
    expectError(await api('DELETE', `${EP}/${ep.id}`), 404, 'not_found');
    expectError(await api('GET', `${EP}/not-a-uuid`), 404, 'not_found');
  });

  it('test sends a ping to that endpoint only (202 with the event id); a disabled endpoint gets 409', async () => {
    const ep = await createEndpoint({ url: 'https://crm.example/ping', events: ['message.status'], team: 'support' });
    const other = await createEndpoint({ url: 'https://crm.example/other', events: ['*'] });
    const listener = new Client({ connectionString: withDefaultUser(dbUrl) });
    await listener.connect();
    const woke: string[] = [];
    listener.on('notification', (n) => woke.push(n.channel));
    await listener.query(`LISTEN ${EVENTS_CHANNEL}`);
    try {
      const res = await api('POST', `${EP}/${ep.id}/test`);
      expect(res.status, res.text).toBe(202);
      expect(res.json.id).toMatch(/^evt_[0-9a-f]{32}$/);
      const events = await prisma.event.findMany({ where: { type: 'ping' }, include: { deliveries: true } });
      const ping = events.find((e) => publicEventId(e.id) === res.json.id)!;
      expect(ping).toMatchObject({ type: 'ping', data: {}, contactId: null, teamId: (await prisma.team.findFirstOrThrow({ where: { slug: 'support' } })).id });
      expect(ping.tenantId).toBe((await prisma.tenant.findUniqueOrThrow({ where: { slug: 'acme' } })).id);
      expect(ping.deliveries.map((d) => [d.endpointId, d.state])).toEqual([[ep.id, 'pending']]);
      expect(await prisma.eventDelivery.count({ where: { endpointId: other.id } })).toBe(0);
      await expect.poll(() => woke.length).toBeGreaterThan(0);
    } finally {
      await listener.end();
    }

    await api('PATCH', `${EP}/${ep.id}`, { body: { enabled: false } });
    const before = await snapshot();
    expectError(await api('POST', `${EP}/${ep.id}/test`), 409, 'endpoint_disabled');
    expect(await snapshot()).toEqual(before);
    await api('DELETE', `${EP}/${other.id}`);
  });

  it('deliveries: each event with its state and attempts, newest first, cursor pages of at most 100', async () => {
    const ep = await createEndpoint({ url: 'https://crm.example/deliveries', events: ['*'] });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await api('POST', `${EP}/${ep.id}/test`)).json.id);
    // The dispatcher tried the first one twice and gave up; the second was delivered.
    const [d0, d1] = await Promise.all(ids.slice(0, 2).map((id) => prisma.eventDelivery.findFirstOrThrow({ where: { endpointId: ep.id, eventId: eventRowId(id)! } })));
    const t0 = new Date(Date.now() - 60_000);
    const t1 = new Date(Date.now() - 30_000);
    // Its attempt log as the dispatcher writes it (EventAttemptLogEntry: ISO time, status, latency, error).
    const log0 = [
      { at: t0.toISOString(), status_code: 500, latency_ms: 120, error: 'HTTP 500' },
      { at: t1.toISOString(), status_code: null, latency_ms: 10_000, error: 'timed out after 10 s' },
    ];
    const log1 = [{ at: t1.toISOString(), status_code: 204, latency_ms: 35, error: null }];
    await prisma.eventDelivery.update({
      where: { id: d0.id },
      data: { state: 'failed', attempts: 2, failedAt: t1, lastStatus: null, lastError: 'timed out after 10 s', lastAttemptAt: t1, attemptLog: log0 },
    });
    await prisma.eventDelivery.update({ where: { id: d1.id }, data: { state: 'delivered', attempts: 1, deliveredAt: t1, lastStatus: 204, lastAttemptAt: t1, attemptLog: log1 } });

    const all = await api('GET', `${EP}/${ep.id}/deliveries`);
    expect(all.status, all.text).toBe(200);
    expect(all.json.data.map((d: { id: string }) => d.id)).toEqual([...ids].reverse());
    expect(all.json.next_cursor).toBeNull();
    const failed = all.json.data[2];
    expect(failed).toMatchObject({ id: ids[0], type: 'ping', state: 'failed', attempt_count: 2, last_error: 'timed out after 10 s', next_attempt_at: null, data: {} });
    expect(failed.attempts).toEqual([
      { at: t0.toISOString(), status_code: 500, latency_ms: 120, error: 'HTTP 500' },
      { at: t1.toISOString(), status_code: null, latency_ms: 10_000, error: 'timed out after 10 s' },
    ]);
    expect(all.json.data[1]).toMatchObject({ id: ids[1], state: 'delivered', attempts: [{ status_code: 204, latency_ms: 35, error: null }] });
    expect(all.json.data[0]).toMatchObject({ id: ids[2], state: 'pending', attempts: [] });
    expect(all.json.data[0].next_attempt_at).toBeTruthy();

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Answer = await api('GET', `${EP}/${ep.id}/deliveries?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.json.data).toHaveLength(1);
      seen.push(page.json.data[0].id);
      cursor = page.json.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    expect((await api('GET', `${EP}/${ep.id}/deliveries?state=failed`)).json.data.map((d: { id: string }) => d.id)).toEqual([ids[0]]);

    expect((await api('GET', `${EP}/${ep.id}/deliveries?limit=100`)).status).toBe(200);
    for (const q of ['limit=101', 'limit=0', 'cursor=bm9wZQ', 'cursor=a$b', 'state=lost']) {
      const res = await api('GET', `${EP}/${ep.id}/deliveries?${q}`);
      expectError(res, 400, 'validation_failed');
      expect(errorOf(res).details?.map((d) => d.path)).toContain(q.split('=')[0]);
    }
  });

  it('retry makes a failed or pending delivery due now and wakes the dispatcher; a delivered one is 409, an unknown event 404', async () => {
    const ep = await createEndpoint({ url: 'https://crm.example/retry', events: ['*'] });
    const id = (await api('POST', `${EP}/${ep.id}/test`)).json.id as string;
    const delivery = await prisma.eventDelivery.findFirstOrThrow({ where: { endpointId: ep.id } });
    const later = new Date(Date.now() + 3600_000);
    await prisma.eventDelivery.update({ where: { id: delivery.id }, data: { state: 'failed', attempts: 9, failedAt: new Date(), nextAttemptAt: later, lastError: 'HTTP 503' } });

    const listener = new Client({ connectionString: withDefaultUser(dbUrl) });
    await listener.connect();
    const woke: string[] = [];
    listener.on('notification', (n) => woke.push(n.channel));
    await listener.query(`LISTEN ${EVENTS_CHANNEL}`);
    try {
      const before = Date.now();
      const res = await api('POST', `${EP}/${ep.id}/deliveries/${id}/retry`);
      expect(res.status, res.text).toBe(202);
      expect(res.json).toMatchObject({ id, state: 'pending' });
      const row = await prisma.eventDelivery.findUniqueOrThrow({ where: { id: delivery.id } });
      expect(row).toMatchObject({ state: 'pending', failedAt: null, attempts: 9, lastError: 'HTTP 503' });
      expect(row.nextAttemptAt.getTime()).toBeLessThan(later.getTime());
      expect(row.nextAttemptAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
      await expect.poll(() => woke).toEqual([EVENTS_CHANNEL]);
      // Pending (not yet due) is made due now too.
      await prisma.eventDelivery.update({ where: { id: delivery.id }, data: { nextAttemptAt: later } });
      expect((await api('POST', `${EP}/${ep.id}/deliveries/${id}/retry`)).status).toBe(202);
      expect((await prisma.eventDelivery.findUniqueOrThrow({ where: { id: delivery.id } })).nextAttemptAt.getTime()).toBeLessThan(later.getTime());
      // An attempt in flight (leased) is left to that attempt: made due again it would go out twice at once.
      await prisma.eventDelivery.update({ where: { id: delivery.id }, data: { leasedUntil: later, nextAttemptAt: later } });
      const inFlight = await api('POST', `${EP}/${ep.id}/deliveries/${id}/retry`);
      expect(inFlight.status, inFlight.text).toBe(202);
      expect(inFlight.json).toMatchObject({ id, state: 'pending', in_flight: true });
      expect((await prisma.eventDelivery.findUniqueOrThrow({ where: { id: delivery.id } })).nextAttemptAt).toEqual(later);
      await prisma.eventDelivery.update({ where: { id: delivery.id }, data: { leasedUntil: null } });
    } finally {
      await listener.end();
    }

    await prisma.eventDelivery.update({ where: { id: delivery.id }, data: { state: 'delivered', deliveredAt: new Date() } });
    expectError(await api('POST', `${EP}/${ep.id}/deliveries/${id}/retry`), 409, 'already_delivered');
    expect((await prisma.eventDelivery.findUniqueOrThrow({ where: { id: delivery.id } })).state).toBe('delivered');
    expectError(await api('POST', `${EP}/${ep.id}/deliveries/evt_${'0'.repeat(32)}/retry`), 404);
    expectError(await api('POST', `${EP}/${ep.id}/deliveries/not-an-event/retry`), 404);
    // Another endpoint's event is not this endpoint's delivery.
    const other = await createEndpoint({ url: 'https://crm.example/retry-other', events: ['*'] });
    expectError(await api('POST', `${EP}/${other.id}/deliveries/${id}/retry`), 404);
    await prisma.eventDelivery.update({ where: { id: delivery.id }, data: { state: 'failed' } });
    await api('PATCH', `${EP}/${ep.id}`, { body: { enabled: false } });
    expectError(await api('POST', `${EP}/${ep.id}/deliveries/${id}/retry`), 409, 'endpoint_disabled');
    expect((await prisma.eventDelivery.findUniqueOrThrow({ where: { id: delivery.id } })).state).toBe('failed');
  });

  it('tenant isolation: on every route another tenant’s key or endpoint id answers 404 and changes nothing', async () => {
    const acmeEp = await createEndpoint({ url: 'https://crm.acme.example/iso', events: ['*'] });
    const acmeEvent = (await api('POST', `${EP}/${acmeEp.id}/test`)).json.id as string;
    await prisma.eventDelivery.updateMany({ where: { endpointId: acmeEp.id }, data: { state: 'failed' } });
    const globexEp = await createEndpoint({ url: 'https://hooks.globex.example/iso', events: ['*'] }, 'globex');
    const globexEvent = (await api('POST', `/v1/tenants/globex/event-endpoints/${globexEp.id}/test`)).json.id as string;
    await prisma.eventDelivery.updateMany({ where: { endpointId: globexEp.id }, data: { state: 'failed' } });

    const routes = (tenant: string, id: string, eventId: string): Array<[string, string, unknown?]> => [
      ['GET', `/v1/tenants/${tenant}/event-endpoints/${id}`],
      ['PATCH', `/v1/tenants/${tenant}/event-endpoints/${id}`, { enabled: false }],
      ['DELETE', `/v1/tenants/${tenant}/event-endpoints/${id}`],
      ['POST', `/v1/tenants/${tenant}/event-endpoints/${id}/rotate-secret`],
      ['GET', `/v1/tenants/${tenant}/event-endpoints/${id}/deliveries`],
      ['POST', `/v1/tenants/${tenant}/event-endpoints/${id}/deliveries/${eventId}/retry`],
      ['POST', `/v1/tenants/${tenant}/event-endpoints/${id}/test`],
    ];
    const before = await snapshot();
    // globex's key on acme's paths (list and create included).
    for (const [method, path, body] of [...routes('acme', acmeEp.id, acmeEvent), ['GET', EP], ['POST', EP, { url: 'https://evil.example/', events: ['*'] }]] as Array<[string, string, unknown?]>) {
      const res = await call(admin.url, method, path, { key: globexKey, body });
      expect(res.status, `${method} ${path}: ${res.text}`).toBe(404);
      errorOf(res);
    }
    // acme's key (and the admin key) with globex's endpoint under acme's path: it does not exist there.
    for (const key of [acmeKey, ADMIN_KEY]) {
      for (const [method, path, body] of routes('acme', globexEp.id, globexEvent)) {
        const res = await call(admin.url, method, path, { key, body });
        expect(res.status, `${method} ${path}: ${res.text}`).toBe(404);
        expect(errorOf(res).message).not.toContain('globex');
      }
    }
    // acme's key with its own endpoint id under globex's path.
    for (const [method, path, body] of routes('globex', acmeEp.id, acmeEvent)) {
      expect((await call(admin.url, method, path, { key: acmeKey, body })).status, `${method} ${path}`).toBe(404);
    }
    expect(await snapshot()).toEqual(before);
    const globexList = await call(admin.url, 'GET', '/v1/tenants/globex/event-endpoints', { key: globexKey });
    expect(globexList.json.data.map((e: { id: string }) => e.id)).toEqual([globexEp.id]);
    expect((await call(admin.url, 'GET', EP, { key: acmeKey })).json.data.map((e: { id: string }) => e.id)).not.toContain(globexEp.id);
    // Each tenant's own key works on its own endpoint.
    expect((await call(admin.url, 'POST', `/v1/tenants/globex/event-endpoints/${globexEp.id}/deliveries/${globexEvent}/retry`, { key: globexKey })).status).toBe(202);
    expect((await call(admin.url, 'GET', `${EP}/${acmeEp.id}/deliveries`, { key: acmeKey })).json.data[0].id).toBe(acmeEvent);
  });

  describe('events the admin API produces, written with the change', () => {
    let epId: string;
    let bystanderId: string;
    let contactId: string;
    let tenantId: string;
    let teamId: string;

    beforeAll(async () => {
      // Only these two endpoints: one subscribed to what the admin API produces, for team support; a bystander
      // (all teams) that wants none of it.
      await prisma.eventEndpoint.deleteMany({});
      epId = (await createEndpoint({ url: 'https://crm.acme.example/producers', events: ['contact.opted_out', 'contact.opted_in', 'conversation.handoff', 'provider.resumed'], team: 'support' })).id;
      bystanderId = (await createEndpoint({ url: 'https://crm.acme.example/bystander', events: ['message.received'] })).id;
      const provider = await prisma.whatsAppProvider.findFirstOrThrow({ where: { phoneNumberId: PHONE } });
      tenantId = provider.tenantId;
      teamId = provider.teamId;
      contactId = (await prisma.contact.create({ data: { tenantId, providerId: provider.id, waId: '4915100000001', userId: 'u-1', profileName: 'Ana' } })).id;
    });

    /** The events of that type for the producers' endpoint, oldest first, with their deliveries. */
    const eventsOf = (type: string) =>
      prisma.event.findMany({ where: { type, deliveries: { some: { endpointId: epId } } }, include: { deliveries: true }, orderBy: { createdAt: 'asc' } });

    it('opt-out and opt-in through the API: contact.opted_out / contact.opted_in (via api); no change, no event', async () => {
      expect((await api('POST', `/v1/tenants/acme/contacts/${contactId}/opt-out`)).json.opted_out).toBe(true);
      expect((await prisma.contact.findUniqueOrThrow({ where: { id: contactId } })).optedOut).toBe(true);
      const out = await eventsOf('contact.opted_out');
      expect(out).toHaveLength(1);
      expect(out[0]).toMatchObject({ tenantId, teamId, contactId, data: { contact: { id: contactId, wa_id: '4915100000001', user_id: 'u-1', name: 'Ana' }, via: 'api' } });
      expect(out[0].deliveries.map((d) => [d.endpointId, d.contactId, d.state])).toEqual([[epId, contactId, 'pending']]);

      await api('POST', `/v1/tenants/acme/contacts/${contactId}/opt-out`); // already out: nothing happens
      expect(await eventsOf('contact.opted_out')).toHaveLength(1);

      expect((await call(admin.url, 'POST', `/v1/tenants/acme/contacts/${contactId}/opt-in`, { key: acmeKey })).json.opted_out).toBe(false);
      const back = await eventsOf('contact.opted_in');
      expect(back).toHaveLength(1);
      expect(back[0]).toMatchObject({ contactId, data: { contact: { id: contactId, wa_id: '4915100000001' }, via: 'api' } });
      expect(back[0].deliveries.map((d) => d.endpointId)).toEqual([epId]);
      expect(await prisma.eventDelivery.count({ where: { endpointId: bystanderId } })).toBe(0);
    });

    it('releasing a handoff through the API: conversation.handoff, state released, via api, with the flow', async () => {
      const flow = await api('POST', '/v1/tenants/acme/teams/support/flows', {
        body: { source: 'name: support\nversion: "1.0"\nnodes:\n  - id: greet\n    type: reply\n    config:\n      message: "hi"\ntriggers:\n  - type: message\n    target: greet\n' },
      });
      expect(flow.status, flow.text).toBe(201);
      const flowId = (await prisma.flow.findFirstOrThrow({ where: { name: 'support' } })).id;
      await prisma.session.create({ data: { tenantId, contactId, flowId, status: 'handoff', nodeId: 'escalate' } });
      const released = await api('POST', `/v1/tenants/acme/contacts/${contactId}/release`);
      expect(released.status, released.text).toBe(200);
      expect(released.json.session.status).toBe('idle');
      const ev = await eventsOf('conversation.handoff');
      expect(ev).toHaveLength(1);
      expect(ev[0]).toMatchObject({ contactId, teamId, data: { contact: { id: contactId, name: 'Ana' }, state: 'released', flow: 'support', via: 'api' } });
      expect(ev[0].deliveries.map((d) => [d.endpointId, d.contactId])).toEqual([[epId, contactId]]);

      expectError(await api('POST', `/v1/tenants/acme/contacts/${contactId}/release`), 409, 'not_in_handoff');
      expect(await eventsOf('conversation.handoff')).toHaveLength(1);
    });

    it('resuming a paused number (resume, or a new token that lifts the pause): provider.resumed; not paused, no event', async () => {
      const provider = await prisma.whatsAppProvider.findFirstOrThrow({ where: { phoneNumberId: PHONE } });
      await prisma.whatsAppProvider.update({ where: { id: provider.id }, data: { pausedAt: new Date(), pausedReason: 'account restricted', pausedClass: 'account', pausedCode: 368 } });
      const resumed = await api('POST', '/v1/tenants/acme/teams/support/provider/resume');
      expect(resumed.status, resumed.text).toBe(200);
      expect(resumed.json).toMatchObject({ paused: false, paused_reason: null });
      expect(await prisma.whatsAppProvider.findUniqueOrThrow({ where: { id: provider.id } })).toMatchObject({ pausedAt: null, pausedReason: null, pausedClass: null, pausedCode: null });
      let ev = await eventsOf('provider.resumed');
      expect(ev).toHaveLength(1);
      expect(ev[0]).toMatchObject({ tenantId, teamId, contactId: null, data: { provider: { id: provider.id, phone_number_id: PHONE } } });
      expect(ev[0].deliveries.map((d) => d.endpointId)).toEqual([epId]);

      expect((await api('POST', '/v1/tenants/acme/teams/support/provider/resume')).status).toBe(200);
      expect(await eventsOf('provider.resumed')).toHaveLength(1);

      // Meta refused the token: a new one lifts the pause.
      await simRegister(NEW_TOKEN);
      await prisma.whatsAppProvider.update({ where: { id: provider.id }, data: { pausedAt: new Date(), pausedReason: 'token expired', pausedClass: 'auth', pausedCode: 190 } });
      const patched = await api('PATCH', '/v1/tenants/acme/teams/support/provider', { body: { access_token: NEW_TOKEN } });
      expect(patched.status, patched.text).toBe(200);
      expect(patched.json.paused).toBe(false);
      ev = await eventsOf('provider.resumed');
      expect(ev).toHaveLength(2);
      expect(ev[1].data).toEqual({ provider: { id: provider.id, phone_number_id: PHONE } });
      expect(await prisma.eventDelivery.count({ where: { endpointId: bystanderId } })).toBe(0);
    });
  });

  it('documents every event-endpoint route in the OpenAPI document', async () => {
    const doc = (await call(admin.url, 'GET', '/docs/json')).json;
    const p = '/v1/tenants/{tenant}/event-endpoints';
    expect(Object.keys(doc.paths[p])).toEqual(expect.arrayContaining(['get', 'post']));
    expect(Object.keys(doc.paths[`${p}/{id}`])).toEqual(expect.arrayContaining(['get', 'patch', 'delete']));
    for (const sub of ['rotate-secret', 'test', 'deliveries/{eventId}/retry']) expect(doc.paths[`${p}/{id}/${sub}`].post, sub).toBeTruthy();
    expect(doc.paths[`${p}/{id}/deliveries`].get.parameters.map((x: { name: string }) => x.name)).toEqual(expect.arrayContaining(['limit', 'cursor', 'state']));
    expect(JSON.stringify(doc.paths[p].post.requestBody)).toContain('events');
    // No answer of this file ever held a stored secret's ciphertext.
    const encs = (await prisma.eventEndpoint.findMany()).map((e) => e.secretEnc);
    for (const body of seenBodies) for (const enc of encs) expect(body).not.toContain(enc);
  });
});
