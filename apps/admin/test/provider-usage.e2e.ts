// e2e: GET …/teams/:team/provider/usage on the built admin API: a number's pause state, tier use, queue, failures
// and sends per minute, from rows written straight to the run's Postgres.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient, PrismaClient } from '@gtc/db';
import {
  createTestProvider,
  ownDatabase,
  ServiceProcess,
  startService,
  testEnv,
  TestProvider,
} from '@gtc/testing';
import { call } from './admin-api.helpers';

const ADMIN_KEY = 'provider-usage-e2e-admin-key-0123456789';
let admin: ServiceProcess;
let prisma: PrismaClient;
let drop: () => Promise<void>;
let p: TestProvider;

const get = (path: string, key = ADMIN_KEY) => call(admin.url, 'GET', path, { key });

beforeAll(async () => {
  const env = testEnv();
  const db = await ownDatabase('provider_usage_e2e');
  drop = db.drop;
  prisma = createPrismaClient(db.url);
  admin = await startService('admin', {
    DATABASE_URL: db.url,
    REDIS_URL: env.redisUrl,
    REDIS_PREFIX: `${env.redisPrefix}-usage`,
    ADMIN_API_KEY: ADMIN_KEY,
  });
  p = await createTestProvider(prisma, { tier: '1' });
});
afterAll(async () => {
  await admin?.kill();
  await prisma?.$disconnect();
  await drop?.();
});

describe('provider usage', () => {
  it('counts sends per minute, the queue, failures of the day, tier use and the pause', async () => {
    const contact = await prisma.contact.create({
      data: { tenantId: p.tenantId, providerId: p.providerId, waId: '4915100000001' },
    });
    const now = new Date();
    const minute = (ago: number) =>
      new Date(Math.floor(now.getTime() / 60_000) * 60_000 - ago * 60_000 + 1_000);
    let seq = 0;
    const row = (data: Record<string, unknown>) =>
      prisma.outboundMessage.create({
        data: {
          tenantId: p.tenantId,
          providerId: p.providerId,
          contactId: contact.id,
          seq: seq++,
          type: 'text',
          body: {},
          ...data,
        },
      });
    for (let i = 0; i < 3; i++) await row({ state: 'delivered', sentAt: minute(0), createdAt: minute(0) });
    await row({ state: 'read', sentAt: minute(5), createdAt: minute(6) });
    await row({
      state: 'failed',
      failedAt: minute(2),
      createdAt: minute(2),
      errorClass: 'permanent',
      lastError: 'bad',
    });
    await row({ state: 'queued' });
    await row({ state: 'queued' });
    await row({ state: 'sending' });
    await prisma.whatsAppProvider.update({
      where: { id: p.providerId },
      data: { pausedAt: now, pausedReason: 'access token refused (190)' },
    });

    const usage = await get(`/v1/tenants/${p.tenantSlug}/teams/${p.teamSlug}/provider/usage`);
    expect(usage.status).toBe(200);
    const u = usage.json;
    expect(u).toMatchObject({
      team: p.teamSlug,
      phone_number_id: p.phoneNumberId,
      paused: true,
      paused_reason: 'access token refused (190)',
      tier: '1',
      tier_limit: 1000,
    });
    expect(u).toMatchObject({ tier_used: 4, queued: 2, sending: 1, failed_24h: 1 });
    expect(u.per_minute).toHaveLength(15);
    const perMinute = u.per_minute as Array<{ minute: string; sent: number; failed: number }>;
    // Looked up by minute (the server's clock may have moved on to the next minute meanwhile).
    const at = (ago: number) =>
      perMinute.find((m) => new Date(m.minute).getTime() === minute(ago).getTime() - 1_000);
    expect(at(0)).toMatchObject({ sent: 3, failed: 0 });
    expect(at(5)).toMatchObject({ sent: 1, failed: 0 });
    expect(at(2)).toMatchObject({ sent: 0, failed: 1 });
    expect(perMinute.reduce((n, m) => n + m.sent, 0)).toBe(4);
    expect(perMinute.map((m) => new Date(m.minute).getTime() % 60_000)).toEqual(Array(15).fill(0));
  });

  it("another tenant's key and a team without a number get 404", async () => {
    const other = await createTestProvider(prisma);
    const key = (
      await call(admin.url, 'POST', `/v1/tenants/${other.tenantSlug}/api-keys`, { key: ADMIN_KEY, body: {} })
    ).json.key;
    expect((await get(`/v1/tenants/${p.tenantSlug}/teams/${p.teamSlug}/provider/usage`, key)).status).toBe(
      404,
    );
    expect(
      (await get(`/v1/tenants/${other.tenantSlug}/teams/${other.teamSlug}/provider/usage`, key)).status,
    ).toBe(200);
    await prisma.team.create({ data: { tenantId: p.tenantId, slug: 'empty', name: 'Empty' } });
    expect((await get(`/v1/tenants/${p.tenantSlug}/teams/empty/provider/usage`)).status).toBe(404);
  });
});
