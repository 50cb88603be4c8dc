import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgPool, createPrismaClient, EVENTS_CHANNEL, EventSubscriptions, type EventType, PoolClient, recordEvents, unwantedEventsCtes } from '@gtc/db';
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

describe('unwantedEventsCtes and EventSubscriptions', () => {
  // A statement written without its events, as ingress writes one: it inserts a tenant row (to see that a statement
  // its guard fails changes nothing) and embeds the guard over the tenants in $1.
  const guarded = (type: EventType) => `WITH ins AS (INSERT INTO tenants (slug, name, updated_at) VALUES ($2, 'guarded', now()) RETURNING id),
    ${unwantedEventsCtes(type, '$1::uuid[]')}
    SELECT woke FROM ev_woke CROSS JOIN (SELECT count(*) FROM ins) i`;
  let n = 0;
  const run = async (type: EventType, tenantIds: string[]) => {
    const slug = `guarded-${Date.now()}-${++n}`;
    const outcome = await pool.query(guarded(type), [tenantIds, slug]).then(
      ({ rows }) => ({ woke: Number(rows[0].woke) }),
      (err: { code?: string; detail?: string }) => ({ err }),
    );
    return { ...outcome, written: await prisma.tenant.count({ where: { slug } }) };
  };

  it('lets a statement through, written, while no enabled endpoint of its tenants wants its type', async () => {
    const quiet = await prisma.tenant.create({ data: { slug: `quiet-${Date.now()}`, name: 'Quiet' } });
    const disabledOnly = await prisma.tenant.create({ data: { slug: `disabled-${Date.now()}`, name: 'Disabled' } });
    await prisma.eventEndpoint.create({ data: { tenantId: disabledOnly.id, url: 'https://example.com/off', events: ['*'], enabled: false, secretEnc: 'sealed' } });
    const statusOnly = await prisma.tenant.create({ data: { slug: `status-only-${Date.now()}`, name: 'Status only' } });
    await prisma.eventEndpoint.create({ data: { tenantId: statusOnly.id, url: 'https://example.com/status', events: ['message.status'], secretEnc: 'sealed' } });
    expect(await run('message.received', [quiet.id, disabledOnly.id, statusOnly.id])).toEqual({ woke: 0, written: 1 });
    expect(await run('message.received', [])).toEqual({ woke: 0, written: 1 });
  });

  it('fails the statement, which writes nothing, naming the tenant whose endpoint wants its type (or *); the producer remembers it for that type only', async () => {
    const quiet = await prisma.tenant.create({ data: { slug: `quiet2-${Date.now()}`, name: 'Quiet' } });
    const statuses = await prisma.tenant.create({ data: { slug: `statuses-${Date.now()}`, name: 'Statuses' } });
    await prisma.eventEndpoint.create({ data: { tenantId: statuses.id, url: 'https://example.com/statuses', events: ['message.status'], secretEnc: 'sealed' } });
    const everything = await prisma.tenant.create({ data: { slug: `everything-${Date.now()}`, name: 'Everything' } });
    await prisma.eventEndpoint.create({ data: { tenantId: everything.id, url: 'https://example.com/all', events: ['*'], secretEnc: 'sealed' } });
    const subscriptions = new EventSubscriptions();
    expect(subscriptions.wanted('message.status', [quiet.id, statuses.id])).toBe(false);

    const byType = await run('message.status', [quiet.id, statuses.id]);
    expect(byType).toMatchObject({ err: { code: 'GTCEW', detail: statuses.id }, written: 0 });
    expect(subscriptions.learned('message.status', (byType as { err: unknown }).err)).toBe(true);
    expect(subscriptions.wanted('message.status', [quiet.id, statuses.id])).toBe(true);
    expect(subscriptions.wanted('message.status', [quiet.id])).toBe(false);
    expect(subscriptions.wanted('message.received', [statuses.id])).toBe(false);

    expect(await run('contact.opted_out', [quiet.id, everything.id])).toMatchObject({ err: { code: 'GTCEW', detail: everything.id }, written: 0 });
    // Another failure is no answer of the guard.
    const duplicate = await pool.query(`INSERT INTO tenants (slug, name, updated_at) VALUES ($1, 'x', now()), ($1, 'x', now())`, [`dup-${Date.now()}`]).catch((err: unknown) => err);
    expect(duplicate).toMatchObject({ code: '23505' });
    expect(subscriptions.learned('message.received', duplicate)).toBe(false);
    expect(subscriptions.wanted('message.received', [quiet.id, statuses.id, everything.id])).toBe(false);
  });
});
