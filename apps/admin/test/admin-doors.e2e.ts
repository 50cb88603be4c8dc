// e2e: every door of the admin API is locked on every spelling of its path; failed authentication is throttled per
// client address across admin replicas; /metrics is served to this machine or with METRICS_TOKEN only.
import { request } from 'node:http';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceProcess, startService, testEnv } from '@gtc/testing';
import { call } from './admin-api.helpers';

const ADMIN_KEY = 'doors-admin-key-0123456789abcdef0123';
const METRICS_TOKEN = 'doors-metrics-token-0123456789';
const LIMIT = 6;
const env = testEnv();
const prefix = `${env.redisPrefix}-doors`;
const common = {
  DATABASE_URL: env.databaseUrl,
  REDIS_URL: env.redisUrl,
  REDIS_PREFIX: prefix,
  ADMIN_API_KEY: ADMIN_KEY,
  SECRETS_KEY: 'cd'.repeat(32),
  METRICS_TOKEN,
};
let admin: ServiceProcess;

/** An address of this machine that is not loopback (the TCP peer seen by a server is then not 127.0.0.1). */
const OUTSIDE_ADDRESS = '192.0.2.2';

/** A raw HTTP request whose path is sent exactly as written (fetch would normalize dot segments and case). */
function rawRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  host = '127.0.0.1',
  localAddress?: string,
): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, method, path, headers, localAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The ways one path can be spelled: percent-encoded letters, case, double slashes, dot segments, trailing slash. */
function spellings(path: string): string[] {
  const [first, ...rest] = path.slice(1).split('/');
  const enc = (s: string, i: number) => s.slice(0, i) + '%' + s.charCodeAt(i).toString(16) + s.slice(i + 1);
  const tail = rest.length ? `/${rest.join('/')}` : '';
  return [
    path,
    `/${enc(first, 0)}${tail}`,
    `/${enc(first, 0).toUpperCase()}${tail}`,
    `/${enc(enc(first, 1), 0)}${tail}`,
    `/%25${first.charCodeAt(0).toString(16)}${first.slice(1)}${tail}`,
    `/${first.toUpperCase()}${tail}`,
    `/${first[0].toUpperCase()}${first.slice(1)}${tail}`,
    `//${first}${tail}`,
    `/${first}/${tail}`,
    `/./${first}${tail}`,
    `/nope/../${first}${tail}`,
    `/${first}/.${tail}`,
    `/${first}%2f${rest.join('%2f')}`,
    `/${first}%2F${rest.join('%2F')}`,
    `${path}/`,
    `${path}//`,
    `${path}?x=1`,
    `${path};x`,
    `/${first}${tail.replace(/\/([a-z])/, (_m, c: string) => `/%${c.charCodeAt(0).toString(16)}`)}`,
  ];
}

beforeAll(async () => {
  admin = await startService('admin', { ...common, AUTH_FAILURE_LIMIT: '1000' });
});

afterAll(async () => {
  await admin?.stop();
});

describe('doors of the admin API', () => {
  it('asks for the admin key on every spelling of a /queues path the router matches, and never runs its handlers without it', async () => {
    const seen: string[] = [];
    for (const path of spellings('/queues/api/queues')) {
      const withKey = await rawRequest(admin.port, 'GET', path, { authorization: `Bearer ${ADMIN_KEY}` });
      const without = await rawRequest(admin.port, 'GET', path);
      const wrong = await rawRequest(admin.port, 'GET', path, { authorization: 'Bearer not-the-key-0123456789' });
      seen.push(`${path} ${withKey.status}/${without.status}/${wrong.status}`);
      for (const a of [without, wrong]) {
        expect([401, 404], `${path}: ${a.status} ${a.body.slice(0, 200)}`).toContain(a.status);
        expect(a.body).not.toMatch(/"queues"\s*:/);
      }
      // Wherever the router reaches the dashboard, the hook asked for the key there.
      if (withKey.status === 200) expect(without.status, path).toBe(401);
    }
    // The canonical path and the encoded spelling of the report both reach the dashboard with the key.
    expect(seen.find((s) => s.startsWith('/queues/api/queues '))).toMatch(/ 200\/401\/401$/);
    expect(seen.find((s) => s.startsWith('/%71ueues/api/queues '))).toMatch(/\/401\/401$/);
    // The UI page and its static assets are behind the key too.
    expect((await rawRequest(admin.port, 'GET', '/queues/')).status).toBe(401);
    expect((await rawRequest(admin.port, 'GET', '/%71ueues/queue/outbound')).status).toBe(401);
  });

  it('never pauses, empties or cleans a queue for a request without the key, however the path is spelled', async () => {
    const outbound = new Queue('outbound', { connection: { url: env.redisUrl }, prefix });
    try {
      await outbound.add('probe', { id: 'x' }, { jobId: 'doors-probe', delay: 3_600_000 });
      for (const path of [
        ...spellings('/queues/api/queues/outbound/pause'),
        ...spellings('/queues/api/queues/outbound/empty'),
        ...spellings('/queues/api/queues/pause'),
        ...spellings('/queues/api/queues/outbound/clean/delayed'),
      ]) {
        for (const method of ['PUT', 'POST', 'DELETE']) {
          const a = await rawRequest(admin.port, method, path);
          expect([401, 404], `${method} ${path}: ${a.status}`).toContain(a.status);
        }
      }
      expect(await outbound.isPaused()).toBe(false);
      expect(await outbound.getJobState('doors-probe')).toBe('delayed');
      // With the key, the same handler runs (so the probes above did reach a real route).
      const paused = await rawRequest(admin.port, 'PUT', '/%71ueues/api/queues/outbound/pause', { authorization: `Bearer ${ADMIN_KEY}` });
      expect(paused.status).toBe(200);
      expect(await outbound.isPaused()).toBe(true);
      await outbound.resume();
      await outbound.remove('doors-probe');
    } finally {
      await outbound.close();
    }
  });

  it('asks for a key on every spelling of a /v1 path the router matches', async () => {
    for (const path of [...spellings('/v1/tenants'), ...spellings('/v1/tenants/acme/messages')]) {
      const withKey = await rawRequest(admin.port, 'GET', path, { authorization: `Bearer ${ADMIN_KEY}` });
      const without = await rawRequest(admin.port, 'GET', path);
      expect([401, 404], `${path}: ${without.status} ${without.body.slice(0, 200)}`).toContain(without.status);
      expect(without.body).not.toMatch(/"data"\s*:/);
      // 404 without a key only where no route matched: the same spelling with the key finds nothing either.
      if (without.status === 404) expect(withKey.status, path).toBe(404);
      if (withKey.status === 200) expect(without.status, path).toBe(401);
    }
  });
});

describe('paths the router cannot read', () => {
  it('answers bad percent-encoding and over-long parameters in the API’s error shape, not a 5xx', async () => {
    const bad = await rawRequest(admin.port, 'GET', '/v1/tenants/%E0%A4%A', { authorization: `Bearer ${ADMIN_KEY}` });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error.code).toBe('bad_request');
    const long = await rawRequest(admin.port, 'GET', `/v1/tenants/${'a'.repeat(600)}`, { authorization: `Bearer ${ADMIN_KEY}` });
    expect(long.status).toBe(414);
    expect(JSON.parse(long.body).error.code).toBe('uri_too_long');
  });
});

describe('failed authentication', () => {
  let a: ServiceProcess;
  let b: ServiceProcess;

  beforeAll(async () => {
    // Two replicas over one Redis: the limit is per client address across both.
    const throttled = { ...common, REDIS_PREFIX: `${prefix}-throttle`, AUTH_FAILURE_LIMIT: String(LIMIT), AUTH_FAILURE_WINDOW_MS: '60000' };
    [a, b] = await Promise.all([startService('admin', throttled), startService('admin', throttled)]);
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('answers 429 with Retry-After once a client address is over its limit, across replicas, and never slows a valid key', async () => {
    // Valid requests are not counted.
    for (let i = 0; i < 3 * LIMIT; i++) expect((await call(a.url, 'GET', '/v1/tenants', { key: ADMIN_KEY })).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT; i++) {
      const target = i % 2 ? b : a;
      statuses.push((await call(target.url, 'GET', '/v1/tenants', { key: i % 3 ? `gtc_wrong-${i}` : null })).status);
    }
    expect(statuses).toEqual(Array(LIMIT).fill(401));
    // The queue dashboard's failures share the count; the next failure, on either replica, is refused with 429.
    const dash = await rawRequest(b.port, 'GET', '/queues/api/queues', { authorization: 'Basic ' + Buffer.from('x:wrong').toString('base64') });
    expect(dash.status).toBe(429);
    expect(Number(dash.headers['retry-after'])).toBeGreaterThan(0);
    const over = await call(a.url, 'GET', '/v1/tenants', { key: 'gtc_wrong-again' });
    expect(over.status).toBe(429);
    expect(over.json.error.code).toBe('too_many_requests');
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(over.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    // A valid key from the same address still gets through, on both replicas and the dashboard.
    expect((await call(a.url, 'GET', '/v1/tenants', { key: ADMIN_KEY })).status).toBe(200);
    expect((await call(b.url, 'GET', '/v1/tenants', { key: ADMIN_KEY })).status).toBe(200);
    expect((await rawRequest(b.port, 'GET', '/queues/api/queues', { authorization: `Bearer ${ADMIN_KEY}` })).status).toBe(200);
  });
});

describe('metrics', () => {
  it('serves /metrics of an HTTP service to this machine, or with METRICS_TOKEN from elsewhere', async () => {
    expect((await rawRequest(admin.port, 'GET', '/metrics')).status).toBe(200);
    const outside = await rawRequest(admin.port, 'GET', '/metrics', {}, OUTSIDE_ADDRESS, OUTSIDE_ADDRESS);
    expect(outside.status).toBe(401);
    expect(outside.body).not.toMatch(/gtc_/);
    const spoofed = await rawRequest(admin.port, 'GET', '/metrics', { 'x-forwarded-for': '127.0.0.1' }, OUTSIDE_ADDRESS, OUTSIDE_ADDRESS);
    expect(spoofed.status).toBe(401);
    const wrongToken = await rawRequest(admin.port, 'GET', '/metrics', { authorization: 'Bearer not-the-token-0000' }, OUTSIDE_ADDRESS, OUTSIDE_ADDRESS);
    expect(wrongToken.status).toBe(401);
    const scraper = await rawRequest(admin.port, 'GET', '/metrics', { authorization: `Bearer ${METRICS_TOKEN}` }, OUTSIDE_ADDRESS, OUTSIDE_ADDRESS);
    expect(scraper.status).toBe(200);
    expect(scraper.body).toMatch(/process_cpu/);
  });

  it('binds a worker’s /health and /metrics to METRICS_HOST (127.0.0.1 by default)', async () => {
    const sender = await startService('sender', { ...common, GRAPH_API_BASE_URL: 'http://127.0.0.1:9' });
    try {
      expect((await rawRequest(sender.port, 'GET', '/metrics')).status).toBe(200);
      await expect(rawRequest(sender.port, 'GET', '/metrics', {}, OUTSIDE_ADDRESS)).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      await sender.stop();
    }
    const open = await startService('sender', { ...common, GRAPH_API_BASE_URL: 'http://127.0.0.1:9', METRICS_HOST: '0.0.0.0' });
    try {
      expect((await rawRequest(open.port, 'GET', '/metrics', {}, OUTSIDE_ADDRESS, OUTSIDE_ADDRESS)).status).toBe(401);
      expect((await rawRequest(open.port, 'GET', '/metrics', { authorization: `Bearer ${METRICS_TOKEN}` }, OUTSIDE_ADDRESS, OUTSIDE_ADDRESS)).status).toBe(200);
    } finally {
      await open.stop();
    }
  });
});
