import { ClientRequest, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient } from '@gtc/db';
import { createTestProvider, ServiceProcess, startService, testEnv, TestProvider } from '@gtc/testing';
import { signPayload } from '@gtc/whatsapp';

// Real ingress process with a small body budget: bodies being read are bounded in bytes, whoever sends them; one that
// does not fit waits in line, its body unread, for WAIT_MS at most.
const { databaseUrl, redisUrl, redisPrefix } = testEnv();
const prisma = createPrismaClient(databaseUrl);
const LIMIT = 100_000;
const BUDGET = 250_000;
const WAIT_MS = 1_500;

let ingress: ServiceProcess;
let p: TestProvider;
let seq = 0;

const path = () => `/webhook/whatsapp/${p.tenantSlug}/${p.teamSlug}`;

/** A signed one-message webhook to our number, its text `size` characters long. */
function webhook(size = 2): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: 'WABA', changes: [{ field: 'messages', value: {
      messaging_product: 'whatsapp',
      metadata: { display_phone_number: '15550000000', phone_number_id: p.phoneNumberId },
      contacts: [{ profile: { name: 'Budget' }, wa_id: '15557770000' }],
      messages: [{ from: '15557770000', id: `wamid.budget.${Date.now()}.${++seq}`, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: 'h'.repeat(size) } }],
    } }] }],
  });
}

/** Sends a request's head (and `start` of its body) and resolves with its status once answered; `req` stays open. */
function open(headers: Record<string, string | number>, start = ''): { req: ClientRequest; answered: Promise<{ status: number; retryAfter?: string; body: string }> } {
  const req = request(`${ingress.url}${path()}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } });
  const answered = new Promise<{ status: number; retryAfter?: string; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, body }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
    });
  });
  req.flushHeaders();
  if (start) req.write(start);
  return { req, answered };
}

/** A whole signed webhook, with its length declared or sent chunked. */
async function send(chunked = false, size = 2) {
  const body = webhook(size);
  const headers: Record<string, string | number> = { 'x-hub-signature-256': signPayload(body, p.appSecret) };
  if (!chunked) headers['content-length'] = Buffer.byteLength(body);
  const { req, answered } = open(headers);
  if (chunked) {
    req.write(body.slice(0, 10));
    req.write(body.slice(10));
  } else req.write(body);
  req.end();
  return answered;
}

const counter = async (name: string) => {
  const text = await (await fetch(`${ingress.url}/metrics`)).text();
  return Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
};
const refusedCount = () => counter('gtc_http_bodies_refused_total');
const waitedCount = () => counter('gtc_http_bodies_waited_total');

beforeAll(async () => {
  p = await createTestProvider(prisma);
  ingress = await startService('ingress', {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: `${redisPrefix}-budget`,
    INGRESS_BODY_LIMIT_BYTES: String(LIMIT),
    INGRESS_BODIES_IN_FLIGHT_BYTES: String(BUDGET),
    INGRESS_BODY_WAIT_MS: String(WAIT_MS),
  });
});
afterAll(async () => {
  await ingress?.kill();
  await prisma.$disconnect();
});

describe('bodies in flight (INGRESS_BODIES_IN_FLIGHT_BYTES, INGRESS_BODY_WAIT_MS)', () => {
  it('answers 503 with Retry-After a request that got no room within the wait, its body never read, and takes webhooks again once bodies are done', async () => {
    // Two slow senders announce the largest body each and write only its start: 200,000 of 250,000 bytes held.
    const slow = [open({ 'content-length': LIMIT }, '{"object":'), open({ 'content-length': LIMIT }, '{"object":')];
    await new Promise((r) => setTimeout(r, 200));

    // A third large body does not fit, nor does a body of unknown length (chunked: it counts as the body limit). They
    // wait in line, then are refused on their declared length, their bodies never sent. A webhook of ordinary size that
    // came behind them goes in once they have left the line, and is recorded.
    const large = open({ 'content-length': LIMIT });
    const chunked = send(true);
    const ordinary = send();
    const refused = await large.answered;
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe('1');
    expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'busy' } });
    large.req.destroy();
    expect((await chunked).status).toBe(503);
    expect((await ordinary).status).toBe(200);
    expect(await prisma.inboundMessage.count({ where: { providerId: p.providerId } })).toBe(1);
    expect(await refusedCount()).toBe(2);
    expect(await waitedCount()).toBe(3);

    // The slow senders give up: their bytes go back to the budget, and both kinds are taken at once.
    for (const s of slow) s.req.destroy();
    await expect.poll(async () => (await send(true)).status, { timeout: 5_000, interval: 100 }).toBe(200);
    expect((await send()).status).toBe(200);
    expect(await prisma.inboundMessage.count({ where: { providerId: p.providerId } })).toBe(3);
    expect(await refusedCount()).toBe(2);
  });

  it('lets a request that does not fit wait in line, its body unread, and reads and records it as soon as room is made', async () => {
    const refusedBefore = await refusedCount();
    const waitedBefore = await waitedCount();
    const recordedBefore = await prisma.inboundMessage.count({ where: { providerId: p.providerId } });
    const slow = [open({ 'content-length': LIMIT }, '{"object":'), open({ 'content-length': LIMIT }, '{"object":')];
    await new Promise((r) => setTimeout(r, 200));

    // A signed webhook of about 80,000 bytes does not fit beside them: it waits (counted), unanswered.
    const large = send(false, 80_000);
    await expect.poll(waitedCount, { timeout: 5_000, interval: 20 }).toBe(waitedBefore + 1);
    // One slow sender gives up: the waiting webhook is read, recorded and acknowledged, never refused.
    slow[0].req.destroy();
    expect((await large).status).toBe(200);
    expect(await prisma.inboundMessage.count({ where: { providerId: p.providerId } })).toBe(recordedBefore + 1);
    expect(await refusedCount()).toBe(refusedBefore);
    slow[1].req.destroy();
  });

  it('gives the place of a request whose client gave up waiting to the one behind it', async () => {
    const refusedBefore = await refusedCount();
    const waitedBefore = await waitedCount();
    const slow = [open({ 'content-length': LIMIT }, '{"object":'), open({ 'content-length': LIMIT }, '{"object":')];
    await new Promise((r) => setTimeout(r, 200));

    // A large body waits first in line; an ordinary webhook waits behind it (the line is first come, first served).
    const large = open({ 'content-length': LIMIT });
    await expect.poll(waitedCount, { timeout: 5_000, interval: 20 }).toBe(waitedBefore + 1);
    const ordinary = send();
    await expect.poll(waitedCount, { timeout: 5_000, interval: 20 }).toBe(waitedBefore + 2);
    // The large body's client gives up: the ordinary webhook goes in at once, while the slow senders still hold their
    // bytes, and is recorded; nobody was refused.
    large.req.destroy();
    expect((await ordinary).status).toBe(200);
    expect(await refusedCount()).toBe(refusedBefore);
    for (const s of slow) s.req.destroy();
  });
});
