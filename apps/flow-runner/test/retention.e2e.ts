import { createPrismaClient } from '@gtc/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestProvider, ownDatabase, ServiceProcess, startService, testEnv } from '@gtc/testing';

// The retention job prunes finished history in batches and never touches unfinished work or recent message ids.
// A database of its own: other test files' reconcilers would otherwise pick its old unfinished rows up and finish them.
const { redisUrl, redisPrefix } = testEnv();
let db: Awaited<ReturnType<typeof ownDatabase>>;
let databaseUrl: string;
let prisma: ReturnType<typeof createPrismaClient>;
let runner: ServiceProcess | undefined;
beforeAll(async () => {
  db = await ownDatabase('retention_e2e');
  databaseUrl = db.url;
  prisma = createPrismaClient(databaseUrl);
});
afterAll(async () => {
  await runner?.kill();
  await prisma?.$disconnect();
  await db?.drop();
});

const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000);

describe('retention', () => {
  it('prunes old finished rows (with their status events) and keeps unfinished work and 7 days of message ids', async () => {
    const p = await createTestProvider(prisma);
    const contact = await prisma.contact.create({ data: { tenantId: p.tenantId, providerId: p.providerId, waId: '4930000001' } });
    const base = { tenantId: p.tenantId, providerId: p.providerId, contactId: contact.id, type: 'text', payload: {} };
    // 1,200 old processed messages: more than one batch.
    await prisma.inboundMessage.createMany({
      data: Array.from({ length: 1_200 }, (_, i) => ({ ...base, wamid: `old.${i}`, state: 'processed', receivedAt: daysAgo(40), processedAt: daysAgo(40) })),
    });
    const pendingOld = await prisma.inboundMessage.create({ data: { ...base, wamid: 'old.pending', state: 'pending', receivedAt: daysAgo(40) } });
    const recentId = await prisma.inboundMessage.create({ data: { ...base, wamid: 'recent.processed', state: 'processed', receivedAt: daysAgo(3), processedAt: daysAgo(3) } });
    const out = (seq: number, state: string, age: number, wamid: string | null = null) =>
      prisma.outboundMessage.create({ data: { tenantId: p.tenantId, providerId: p.providerId, contactId: contact.id, seq, type: 'text', body: {}, state, wamid, updatedAt: daysAgo(age), createdAt: daysAgo(age) } });
    const delivered = await out(1, 'delivered', 40, 'w.del');
    const queued = await out(2, 'queued', 40);
    const unknown = await out(3, 'unknown', 40);
    const fresh = await out(4, 'read', 0, 'w.fresh');
    const status = (wamid: string, status: string, outboundId: string | null, age: number) =>
      prisma.statusEvent.create({ data: { tenantId: p.tenantId, providerId: p.providerId, wamid, status, timestamp: daysAgo(age), payload: {}, outboundId, appliedAt: outboundId ? daysAgo(age) : null, receivedAt: daysAgo(age) } });
    // Statuses go with their message (found by its wamid); an old one no message matched goes on its own.
    for (const st of ['sent', 'delivered']) await status('w.del', st, delivered.id, 40);
    await status('w.fresh', 'read', fresh.id, 0);
    await status('w.orphan', 'sent', null, 40);
    await prisma.webhookEvent.create({ data: { tenantId: p.tenantId, providerId: p.providerId, field: 'account_update', digest: 'old', payload: {}, receivedAt: daysAgo(40) } });

    // RETENTION_DAYS=1: finished outbound older than a day goes; message ids stay 7 days for deduplication.
    runner = await startService('flow-runner', { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, REDIS_PREFIX: `${redisPrefix}-retention`, RETENTION_DAYS: '1', RETENTION_INTERVAL_MS: '500' });
    await expect.poll(() => prisma.inboundMessage.count({ where: { providerId: p.providerId, wamid: { startsWith: 'old.' }, state: 'processed' } }), { timeout: 20_000 }).toBe(0);
    await expect.poll(() => prisma.outboundMessage.count({ where: { id: delivered.id } }), { timeout: 10_000 }).toBe(0);

    expect(await prisma.inboundMessage.findUnique({ where: { id: pendingOld.id } })).not.toBeNull();
    expect(await prisma.inboundMessage.findUnique({ where: { id: recentId.id } })).not.toBeNull();
    expect(await prisma.outboundMessage.count({ where: { id: { in: [queued.id, unknown.id, fresh.id] } } })).toBe(3);
    expect(await prisma.statusEvent.count({ where: { wamid: 'w.del' } })).toBe(0);
    await expect.poll(() => prisma.statusEvent.count({ where: { wamid: 'w.orphan' } }), { timeout: 10_000 }).toBe(0);
    expect(await prisma.statusEvent.count({ where: { wamid: 'w.fresh' } })).toBe(1);
    await expect.poll(() => prisma.webhookEvent.count({ where: { providerId: p.providerId } }), { timeout: 10_000 }).toBe(0);
  });
});
