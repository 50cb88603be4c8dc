import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient } from '@gtc/db';
import { createTestProvider, messagesWebhook, postWebhook, startService, ServiceProcess, statusWebhook, testEnv, TestProvider } from '@gtc/testing';

// Real ingress, Postgres and Redis: the events ingress produces for the tenants' endpoints (event webhooks) are
// written by the statement that records the message or status, only for endpoints that want them.
const { databaseUrl, redisUrl, redisPrefix } = testEnv();
const prisma = createPrismaClient(databaseUrl);
let ingress: ServiceProcess;
let p: TestProvider;
let quiet: TestProvider;
let endpointId: string;
let n = 0;

const text = (provider: TestProvider, from: string, body: string) => {
  const wamid = `wamid.events.${Date.now()}.${++n}`;
  return {
    wamid,
    body: messagesWebhook(provider, {
      contacts: [{ profile: { name: 'Ana' }, wa_id: from }],
      messages: [{ from, id: wamid, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body } }],
    }),
  };
};

beforeAll(async () => {
  [p, quiet] = await Promise.all([createTestProvider(prisma), createTestProvider(prisma)]);
  endpointId = (await prisma.eventEndpoint.create({ data: { tenantId: p.tenantId, url: 'https://example.com/hook', events: ['message.received', 'message.status'], secretEnc: 'sealed' } })).id;
  ingress = await startService('ingress', { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, REDIS_PREFIX: `${redisPrefix}-events` });
});
afterAll(async () => {
  await ingress?.kill();
  await prisma.$disconnect();
});

describe('ingress writes message events for the endpoints that want them', () => {
  it('an inbound message is a message.received event with the message and the contact, delivered to the endpoint', async () => {
    const { wamid, body } = text(p, '4917000000001', 'hello events');
    expect(await postWebhook(ingress.url, p, body)).toBe(200);
    const row = await prisma.inboundMessage.findFirstOrThrow({ where: { providerId: p.providerId, wamid } });
    const [event] = await prisma.event.findMany({ where: { tenantId: p.tenantId, type: 'message.received', contactId: row.contactId } });
    expect(event).toMatchObject({ teamId: p.teamId });
    expect(event.data).toMatchObject({
      message: { id: row.id, direction: 'inbound', wamid, type: 'text', state: 'pending', content: { text: 'hello events' } },
      contact: { id: row.contactId, wa_id: '4917000000001', name: 'Ana' },
    });
    expect((event.data as { message: { content: Record<string, unknown> } }).message.content.raw).toBeUndefined();
    expect(await prisma.eventDelivery.findMany({ where: { eventId: event.id } })).toMatchObject([{ endpointId, contactId: row.contactId, state: 'pending' }]);
    // The same webhook again (Meta retries): no second event.
    expect(await postWebhook(ingress.url, p, body)).toBe(200);
    expect(await prisma.event.count({ where: { tenantId: p.tenantId, type: 'message.received', contactId: row.contactId } })).toBe(1);
  });

  it('a status of a known message is a message.status event with the state it left the message in, once', async () => {
    const contact = await prisma.contact.create({ data: { tenantId: p.tenantId, providerId: p.providerId, waId: '4917000000002', lastInboundAt: new Date(), nextSeq: 2 } });
    const wamid = `wamid.events.out.${Date.now()}`;
    const out = await prisma.outboundMessage.create({
      data: {
        tenantId: p.tenantId, providerId: p.providerId, contactId: contact.id, seq: 1, type: 'text', state: 'sent', wamid, sentAt: new Date(), attempts: 1,
        body: { messaging_product: 'whatsapp', to: contact.waId, type: 'text', text: { body: 'hi' } },
      },
    });
    const delivered = statusWebhook(p, [{ id: wamid, status: 'delivered', recipient_id: contact.waId }]);
    expect(await postWebhook(ingress.url, p, delivered)).toBe(200);
    expect(await postWebhook(ingress.url, p, delivered)).toBe(200);
    const events = await prisma.event.findMany({ where: { tenantId: p.tenantId, type: 'message.status', contactId: contact.id } });
    expect(events).toHaveLength(1);
    expect(events[0].data).toMatchObject({
      status: 'delivered',
      message: { id: out.id, direction: 'outbound', wamid, state: 'delivered', content: { text: { body: 'hi' } } },
      contact: { id: contact.id, wa_id: '4917000000002' },
    });
    expect(await prisma.eventDelivery.count({ where: { eventId: events[0].id, endpointId } })).toBe(1);
  });

  it('writes no event for a tenant without endpoints, and none for a type the endpoint does not want', async () => {
    const before = await prisma.event.count();
    const { body } = text(quiet, '4917000000003', 'nobody listens');
    expect(await postWebhook(ingress.url, quiet, body)).toBe(200);
    expect(await prisma.inboundMessage.count({ where: { providerId: quiet.providerId } })).toBe(1);
    expect(await prisma.event.count()).toBe(before);
    await prisma.eventEndpoint.update({ where: { id: endpointId }, data: { events: ['message.status'] } });
    const again = text(p, '4917000000004', 'not wanted');
    expect(await postWebhook(ingress.url, p, again.body)).toBe(200);
    expect(await prisma.event.count()).toBe(before);
  });

  it("gives a tenant's first endpoint the event of the very next webhook, and none once it is disabled", async () => {
    // Ingress leaves the events out of its statements while no endpoint of the batch's tenants wants them; "nobody"
    // is never remembered, so an endpoint saved before a webhook arrives gets its event.
    const tenant = await createTestProvider(prisma);
    const first = text(tenant, '4917000000005', 'before the endpoint');
    expect(await postWebhook(ingress.url, tenant, first.body)).toBe(200);
    const endpoint = await prisma.eventEndpoint.create({ data: { tenantId: tenant.tenantId, url: 'https://example.com/first', events: ['*'], secretEnc: 'sealed' } });
    const second = text(tenant, '4917000000005', 'after the endpoint');
    expect(await postWebhook(ingress.url, tenant, second.body)).toBe(200);
    const events = await prisma.event.findMany({ where: { tenantId: tenant.tenantId }, include: { deliveries: true } });
    expect(events.map((e) => [e.type, (e.data as { message: { wamid: string } }).message.wamid])).toEqual([['message.received', second.wamid]]);
    expect(events[0].deliveries.map((d) => d.endpointId)).toEqual([endpoint.id]);
    // Disabled: ingress may still take the tenant for subscribed for a few seconds, and writes nothing all the same.
    await prisma.eventEndpoint.update({ where: { id: endpoint.id }, data: { enabled: false } });
    const third = text(tenant, '4917000000005', 'endpoint disabled');
    expect(await postWebhook(ingress.url, tenant, third.body)).toBe(200);
    expect(await prisma.event.count({ where: { tenantId: tenant.tenantId } })).toBe(1);
  });
});
