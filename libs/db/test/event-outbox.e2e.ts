import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgPool, createPrismaClient, EVENTS_CHANNEL, PoolClient, recordEvents } from '@gtc/db';
import { testEnv } from '@gtc/testing';

// Real Postgres: which endpoints an event fans out to, what is written, and the dispatcher's wake-up.
const { databaseUrl } = testEnv();
const pool = createPgPool(databaseUrl);
const prisma = createPrismaClient(databaseUrl, {}, pool);
let listener: PoolClient;
const notified: string[] = [];

let tenant: { id: string };
let other: { id: string };
let support: { id: string };
let sales: { id: string };
const endpoints: Record<string, string> = {};

async function endpoint(name: string, tenantId: string, teamId: string | null, events: string[], enabled = true) {
  const row = await prisma.eventEndpoint.create({ data: { tenantId, teamId, url: `https://example.com/${name}`, events, enabled, secretEnc: 'sealed' } });
  endpoints[name] = row.id;
}

beforeAll(async () => {
  listener = await pool.connect();
  await listener.query(`LISTEN ${EVENTS_CHANNEL}`);
  listener.on('notification', (n) => notified.push(n.channel));
  const slug = `outbox-${Date.now()}`;
  tenant = await prisma.tenant.create({ data: { slug, name: 'Outbox' } });
  other = await prisma.tenant.create({ data: { slug: `${slug}-other`, name: 'Other' } });
  support = await prisma.team.create({ data: { tenantId: tenant.id, slug: 'support', name: 'Support' } });
  sales = await prisma.team.create({ data: { tenantId: tenant.id, slug: 'sales', name: 'Sales' } });
  const otherTeam = await prisma.team.create({ data: { tenantId: other.id, slug: 'support', name: 'Support' } });
  await endpoint('all', tenant.id, null, ['*']);
  await endpoint('supportStatus', tenant.id, support.id, ['message.status']);
  await endpoint('disabled', tenant.id, null, ['*'], false);
  await endpoint('otherTenant', other.id, otherTeam.id, ['*']);
});
afterAll(async () => {
  listener.release();
  await prisma.$disconnect();
  await pool.end();
});

const deliveriesOf = async (eventType: string) =>
  (await prisma.eventDelivery.findMany({ where: { event: { tenantId: tenant.id, type: eventType } }, select: { endpointId: true, contactId: true } }))
    .map((d) => Object.entries(endpoints).find(([, id]) => id === d.endpointId)![0])
    .sort();

describe('recordEvents', () => {
  it('fans an event out to the enabled endpoints of its tenant that subscribe to it (team or tenant-wide, type or *)', async () => {
    const n = await recordEvents(pool, [
      { tenantId: tenant.id, teamId: support.id, type: 'message.status', contactId: null, data: { state: 'delivered' } },
      { tenantId: tenant.id, teamId: sales.id, type: 'message.received', contactId: null, data: { text: 'hi' } },
    ]);
    expect(n).toBe(3);
    expect(await deliveriesOf('message.status')).toEqual(['all', 'supportStatus']);
    expect(await deliveriesOf('message.received')).toEqual(['all']);
    await expect.poll(() => notified.length).toBeGreaterThan(0);
  });

  it('writes nothing (no event, no delivery, no wake-up) for an event no endpoint wants', async () => {
    const before = await prisma.event.count();
    const woke = notified.length;
    const team = await prisma.team.create({ data: { tenantId: other.id, slug: `quiet-${Date.now()}`, name: 'Quiet' } });
    await prisma.eventEndpoint.deleteMany({ where: { tenantId: other.id } });
    expect(await recordEvents(pool, [{ tenantId: other.id, teamId: team.id, type: 'message.failed', contactId: null, data: {} }])).toBe(0);
    expect(await prisma.event.count()).toBe(before);
    // A statement that wrote something since would have notified: one that did, then compare.
    expect(await recordEvents(pool, [{ tenantId: tenant.id, teamId: null, type: 'provider.paused', contactId: null, data: {} }])).toBe(1);
    await expect.poll(() => notified.length).toBe(woke + 1);
  });

  it('sends a ping only to the endpoint named, even one not subscribed to anything else', async () => {
    expect(
      await recordEvents(pool, [{ tenantId: tenant.id, teamId: null, type: 'ping', contactId: null, data: {}, endpointId: endpoints.supportStatus }]),
    ).toBe(1);
    expect(await deliveriesOf('ping')).toEqual(['supportStatus']);
  });
});
