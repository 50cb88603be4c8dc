// The typed client against the built admin API (real Postgres and Redis): requests typed by path, query and body,
// answers typed by status, the key on every request, errors in the API's shape.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownDatabase, ServiceProcess, startService, testEnv } from '@gtc/testing';
import { createGtcClient, type Schemas } from '../src';

const ADMIN_KEY = 'client-e2e-admin-key-0123456789';
let admin: ServiceProcess;
let drop: () => Promise<void>;

beforeAll(async () => {
  const env = testEnv();
  const db = await ownDatabase('client_e2e');
  drop = db.drop;
  admin = await startService('admin', {
    DATABASE_URL: db.url,
    REDIS_URL: env.redisUrl,
    REDIS_PREFIX: `${env.redisPrefix}-client-e2e`,
    ADMIN_API_KEY: ADMIN_KEY,
  });
});
afterAll(async () => {
  await admin?.kill();
  await drop?.();
});

describe('@gtc/client', () => {
  it('creates, pages and reads through typed calls; errors come back typed', async () => {
    const client = createGtcClient({ baseUrl: admin.url, key: ADMIN_KEY });
    for (const slug of ['alpha', 'beta', 'gamma']) {
      const { data, response } = await client.POST('/v1/tenants', {
        body: { slug, name: slug.toUpperCase() },
      });
      expect(response.status).toBe(201);
      expect(data?.slug).toBe(slug);
    }
    const seen: Schemas['Tenant'][] = [];
    let cursor: string | undefined;
    do {
      const { data } = await client.GET('/v1/tenants', { params: { query: { limit: 2, cursor } } });
      seen.push(...data!.data);
      cursor = data!.next_cursor ?? undefined;
    } while (cursor);
    expect(seen.map((t) => t.slug).sort()).toEqual(['alpha', 'beta', 'gamma']);

    const team = await client.POST('/v1/tenants/{tenant}/teams', {
      params: { path: { tenant: 'alpha' } },
      body: { slug: 'support' },
    });
    expect(team.data?.has_provider).toBe(false);

    const missing = await client.GET('/v1/tenants/{tenant}', { params: { path: { tenant: 'nobody' } } });
    expect(missing.response.status).toBe(404);
    expect(missing.error?.error.code).toBe('not_found');

    const invalid = await client.POST('/v1/tenants', { body: { slug: 'Not A Slug' } });
    expect(invalid.response.status).toBe(400);
    expect(invalid.error?.error.details?.map((d) => d.path)).toEqual(['slug']);

    const anonymous = createGtcClient({ baseUrl: admin.url, key: () => undefined });
    expect((await anonymous.GET('/v1/tenants')).response.status).toBe(401);
  });
});
