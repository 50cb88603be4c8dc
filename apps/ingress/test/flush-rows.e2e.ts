import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient, withDefaultUser } from '@gtc/db';
import { createTestProvider, postWebhook, ServiceProcess, startService, statusWebhook, testEnv, TestProvider } from '@gtc/testing';

// Real ingress, Postgres and Redis: a flush writes at most MAX_FLUSH_ROWS (1,000) rows, however many webhooks wait,
// so that what one flush builds and holds stays bounded when webhooks carry many statuses each.
const { databaseUrl, redisUrl, redisPrefix } = testEnv();
const prisma = createPrismaClient(databaseUrl);
let ingress: ServiceProcess;
let p: TestProvider;

/** The ingress's flush-size histogram: how many flushes, and how many of them held at most `le` webhooks. */
async function flushes(le: number): Promise<{ count: number; atMost: number }> {
  const text = await (await fetch(`${ingress.url}/metrics`)).text();
  const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  return { count: value(/^gtc_ingress_batch_webhooks_count(?:\{[^}]*\})? (\S+)$/m), atMost: value(new RegExp(`^gtc_ingress_batch_webhooks_bucket\\{le="${le}"[^}]*\\} (\\S+)$`, 'm')) };
}

beforeAll(async () => {
  p = await createTestProvider(prisma);
  ingress = await startService('ingress', { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, REDIS_PREFIX: `${redisPrefix}-flush-rows` });
});
afterAll(async () => {
  await ingress?.kill();
  await prisma.$disconnect();
});

describe('ingress flush size', () => {
  it('writes webhooks of 100 statuses 10 to a flush at most (1,000 rows), all of them recorded, when 40 wait at once', async () => {
    const before = await flushes(10);
    // Hold ingress's status writes (a lock its INSERT waits for) while 40 webhooks arrive, so that they wait together.
    const lock = new Client({ connectionString: withDefaultUser(databaseUrl) });
    await lock.connect();
    await lock.query('BEGIN');
    await lock.query('LOCK TABLE status_events IN SHARE ROW EXCLUSIVE MODE');
    const wamids = Array.from({ length: 40 }, (_, w) => Array.from({ length: 100 }, (_, s) => `wamid.flush.${p.providerId}.${w}.${s}`));
    const posted = Promise.all(wamids.map((ids) => postWebhook(ingress.url, p, statusWebhook(p, ids.map((id) => ({ id, status: 'delivered', recipient_id: '15550001111' }))))));
    await new Promise((r) => setTimeout(r, 1_000));
    await lock.query('COMMIT');
    await lock.end();
    expect(await posted).toEqual(wamids.map(() => 200));

    expect(await prisma.statusEvent.count({ where: { providerId: p.providerId, wamid: { startsWith: 'wamid.flush.' } } })).toBe(4_000);
    const after = await flushes(10);
    // At least four flushes, every one of them with 10 webhooks or fewer.
    expect(after.count - before.count).toBeGreaterThanOrEqual(4);
    expect(after.atMost - before.atMost).toBe(after.count - before.count);
  });
});
