// tier-usage.ts against Postgres: the count GET …/stats (limit_usage.tier_used) and the admin's gtc_tier_used gauge
// share, in both TIER_COUNTING modes, the way the sender's limiter counts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@gtc/config';
import { createPgPool, createPrismaClient, Pool, PrismaClient } from '@gtc/db';
import { limiterSettings } from '@gtc/queue';
import { createTestProvider, ownDatabase, TestProvider } from '@gtc/testing';
import { tierLimit, tierUsedSql, tierWindowStartMs } from '../src/stats/tier-usage';

let db: { url: string; drop: () => Promise<void> };
let prisma: PrismaClient;
let pool: Pool;
let a: TestProvider;
let b: TestProvider;
const HOUR = 3_600_000;

beforeAll(async () => {
  db = await ownDatabase('tier_usage');
  prisma = createPrismaClient(db.url);
  pool = createPgPool(db.url, { max: 2 });
  a = await createTestProvider(prisma, { tier: '1' });
  b = await createTestProvider(prisma, { tier: 'unlimited' });
  // Number a: 3 contacts. In the window: 2 sends to c1 (1 business-initiated), 1 business-initiated to c2, 1 to c3;
  // one send 2 days ago (out of the window) and one still queued (not sent). Number b: 1 send.
  const contacts = await Promise.all(
    ['c1', 'c2', 'c3'].map((w) =>
      prisma.contact.create({ data: { tenantId: a.tenantId, providerId: a.providerId, waId: w } }),
    ),
  );
  const other = await prisma.contact.create({
    data: { tenantId: b.tenantId, providerId: b.providerId, waId: 'x' },
  });
  const now = Date.now();
  const rows: [string, string, boolean, number | null][] = [
    [a.providerId, contacts[0].id, false, now - HOUR],
    [a.providerId, contacts[0].id, true, now - 2 * HOUR],
    [a.providerId, contacts[1].id, true, now - 3 * HOUR],
    [a.providerId, contacts[2].id, false, now - 4 * HOUR],
    [a.providerId, contacts[2].id, true, now - 48 * HOUR],
    [a.providerId, contacts[1].id, true, null],
    [b.providerId, other.id, false, now - HOUR],
  ];
  const seq = new Map<string, number>();
  for (const [providerId, contactId, businessInitiated, sentAt] of rows) {
    seq.set(contactId, (seq.get(contactId) ?? 0) + 1);
    await prisma.outboundMessage.create({
      data: {
        tenantId: providerId === a.providerId ? a.tenantId : b.tenantId,
        providerId,
        contactId,
        seq: seq.get(contactId)!,
        type: 'text',
        body: {},
        businessInitiated,
        state: sentAt ? 'sent' : 'queued',
        sentAt: sentAt ? new Date(sentAt) : null,
      },
    });
  }
});

afterAll(async () => {
  await pool?.end();
  await prisma?.$disconnect();
  await db?.drop();
});

async function used(counting: 'messages' | 'recipients'): Promise<Record<string, number>> {
  const settings = limiterSettings(loadConfig({ TIER_COUNTING: counting }));
  const { rows } = await pool.query<{ id: string; used: number }>(
    `SELECT p.id, ${tierUsedSql(settings, 'p', '$1')} AS used FROM whatsapp_providers p`,
    [tierWindowStartMs(settings)],
  );
  return Object.fromEntries(rows.map((r) => [r.id, r.used]));
}

describe('tier usage (tier-usage.ts)', () => {
  it('TIER_COUNTING=messages: every message sent in the window', async () => {
    expect(await used('messages')).toEqual({ [a.providerId]: 4, [b.providerId]: 1 });
  });

  it('TIER_COUNTING=recipients: the unique recipients of business-initiated messages sent in the window', async () => {
    expect(await used('recipients')).toEqual({ [a.providerId]: 2, [b.providerId]: 0 });
  });

  it("the limit is the tier's TIER_LIMITS entry; the unlimited tier has none", () => {
    const settings = limiterSettings(loadConfig({ TIER_LIMITS: '250,2000,10000' }));
    expect([
      tierLimit(settings, '1'),
      tierLimit(settings, '2'),
      tierLimit(settings, '3'),
      tierLimit(settings, 'unlimited'),
    ]).toEqual([250, 2000, 10000, null]);
  });
});
