// e2e: a contact's conversation (inbound and outbound merged, keyset pages) and its live stream (server-sent events)
// on the built admin API against the run's Postgres and Redis.
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

const ADMIN_KEY = 'conversations-e2e-admin-key-0123456789';
let admin: ServiceProcess;
let prisma: PrismaClient;
let drop: () => Promise<void>;
let p: TestProvider;
let other: TestProvider;
let contactId: string;
let otherKey: string;

const auth = (key = ADMIN_KEY) => ({ authorization: `Bearer ${key}` });
const get = (path: string, key = ADMIN_KEY) => call(admin.url, 'GET', path, { key });

/** A live stream: the events read so far, and a way to close it. */
async function follow(path: string, key = ADMIN_KEY) {
  const ctl = new AbortController();
  const res = await fetch(`${admin.url}${path}`, { headers: auth(key), signal: ctl.signal });
  const events: Array<{ event: string; data: any }> = [];
  if (res.ok) {
    void (async () => {
      let buf = '';
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buf += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event && data) events.push({ event, data: JSON.parse(data) });
          }
        }
      } catch {
        // aborted
      }
    })();
  }
  return { res, events, close: () => ctl.abort() };
}

beforeAll(async () => {
  const env = testEnv();
  const db = await ownDatabase('conversations_e2e');
  drop = db.drop;
  prisma = createPrismaClient(db.url);
  admin = await startService('admin', {
    DATABASE_URL: db.url,
    REDIS_URL: env.redisUrl,
    REDIS_PREFIX: `${env.redisPrefix}-conversations`,
    ADMIN_API_KEY: ADMIN_KEY,
  });
  p = await createTestProvider(prisma);
  other = await createTestProvider(prisma);
  const contact = await prisma.contact.create({
    data: { tenantId: p.tenantId, providerId: p.providerId, waId: '4915100000001', profileName: 'Ada' },
  });
  contactId = contact.id;
  // Three messages each way, alternating, a second apart: in 0, out 1, in 2, out 3, in 4, out 5.
  const t0 = Date.now() - 60_000;
  for (let i = 0; i < 6; i++) {
    const at = new Date(t0 + i * 1000);
    if (i % 2 === 0) {
      await prisma.inboundMessage.create({
        data: {
          tenantId: p.tenantId,
          providerId: p.providerId,
          contactId,
          wamid: `wamid.in.${i}`,
          type: 'text',
          payload: { text: `in ${i}` },
          receivedAt: at,
          state: 'processed',
        },
      });
    } else {
      await prisma.outboundMessage.create({
        data: {
          tenantId: p.tenantId,
          providerId: p.providerId,
          contactId,
          seq: i,
          type: 'text',
          body: { text: { body: `out ${i}` } },
          createdAt: at,
          state: 'sent',
          wamid: `wamid.out.${i}`,
        },
      });
    }
  }
  otherKey = (
    await call(admin.url, 'POST', `/v1/tenants/${other.tenantSlug}/api-keys`, { key: ADMIN_KEY, body: {} })
  ).json.key;
});
afterAll(async () => {
  await admin?.kill();
  await prisma?.$disconnect();
  await drop?.();
});

describe('conversation', () => {
  it('merges both directions latest first, page by page, without repeats', async () => {
    const seen: Array<{ direction: string; id: string }> = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { status: number; json: any } = await get(
        `/v1/tenants/${p.tenantSlug}/contacts/${contactId}/conversation?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      seen.push(...page.json.data);
      cursor = page.json.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen.map((m) => m.direction)).toEqual([
      'outbound',
      'inbound',
      'outbound',
      'inbound',
      'outbound',
      'inbound',
    ]);
    expect(new Set(seen.map((m) => m.id)).size).toBe(6);
    expect((seen[0] as unknown as { body: unknown }).body).toEqual({ text: { body: 'out 5' } });
  });

  it('replies written together (the same time) come in their seq order, across pages', async () => {
    const c = await prisma.contact.create({
      data: { tenantId: p.tenantId, providerId: p.providerId, waId: '4915100000003' },
    });
    const at = new Date(Date.now() - 30_000);
    // Inserted out of order, with ids that do not sort as the seqs do.
    for (const seq of [2, 0, 3, 1]) {
      await prisma.outboundMessage.create({
        data: {
          tenantId: p.tenantId,
          providerId: p.providerId,
          contactId: c.id,
          seq,
          type: 'text',
          body: { n: seq },
          createdAt: at,
        },
      });
    }
    const seqs: number[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; json: any } = await get(
        `/v1/tenants/${p.tenantSlug}/contacts/${c.id}/conversation?limit=3${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seqs.push(...page.json.data.map((m: { seq: number }) => m.seq));
      cursor = page.json.next_cursor;
    } while (cursor);
    expect(seqs).toEqual([3, 2, 1, 0]);
  });

  it("is another tenant's 404; a forged cursor is a 400 naming it", async () => {
    expect(
      (await get(`/v1/tenants/${p.tenantSlug}/contacts/${contactId}/conversation`, otherKey)).status,
    ).toBe(404);
    expect(
      (await get(`/v1/tenants/${other.tenantSlug}/contacts/${contactId}/conversation`, otherKey)).status,
    ).toBe(404);
    const forged = Buffer.from(JSON.stringify(['sx', 'sy'])).toString('base64url');
    const bad = await get(`/v1/tenants/${p.tenantSlug}/contacts/${contactId}/conversation?cursor=${forged}`);
    expect(bad.status).toBe(400);
    expect(bad.json.error.details[0].path).toBe('cursor');
  });

  it('contacts by activity: the one with the latest change first', async () => {
    const quiet = await prisma.contact.create({
      data: { tenantId: p.tenantId, providerId: p.providerId, waId: '4915100000002', profileName: 'Bob' },
    });
    expect((await get(`/v1/tenants/${p.tenantSlug}/contacts?sort=activity`)).json.data[0].id).toBe(quiet.id);
    await prisma.contact.update({ where: { id: contactId }, data: { profileName: 'Ada L.' } });
    expect((await get(`/v1/tenants/${p.tenantSlug}/contacts?sort=activity`)).json.data[0].id).toBe(contactId);
    expect((await get(`/v1/tenants/${p.tenantSlug}/contacts?sort=loudest`)).status).toBe(400);
  });
});

describe('live', () => {
  it('streams a message as its state moves to read, and the contact as it opts out', async () => {
    const live = await follow(`/v1/tenants/${p.tenantSlug}/contacts/${contactId}/live`);
    expect(live.res.status).toBe(200);
    expect(live.res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    try {
      const row = await prisma.outboundMessage.create({
        data: {
          tenantId: p.tenantId,
          providerId: p.providerId,
          contactId,
          seq: 100,
          type: 'text',
          body: { text: { body: 'live' } },
        },
      });
      await expect
        .poll(() => live.events.find((e) => e.event === 'message' && e.data.id === row.id)?.data.state, {
          timeout: 15_000,
        })
        .toBe('queued');
      for (const state of ['sent', 'delivered', 'read']) {
        await prisma.outboundMessage.update({
          where: { id: row.id },
          data: { state, [`${state}At`]: new Date() },
        });
        await expect
          .poll(
            () =>
              live.events
                .filter((e) => e.event === 'message' && e.data.id === row.id)
                .map((e) => e.data.state),
            { timeout: 15_000 },
          )
          .toContain(state);
      }
      const read = live.events.filter((e) => e.data.id === row.id).at(-1)!.data;
      expect(read.read_at).toBeTruthy();
      // Each state once: a change is sent once, however many polls see it.
      expect(
        live.events.filter((e) => e.event === 'message' && e.data.id === row.id).map((e) => e.data.state),
      ).toEqual(['queued', 'sent', 'delivered', 'read']);

      const optOut = await call(
        admin.url,
        'POST',
        `/v1/tenants/${p.tenantSlug}/contacts/${contactId}/opt-out`,
        { key: ADMIN_KEY },
      );
      expect(optOut.status).toBe(200);
      await expect
        .poll(() => live.events.find((e) => e.event === 'contact')?.data.opted_out, { timeout: 15_000 })
        .toBe(true);
    } finally {
      live.close();
    }
  });

  it("another tenant's key gets 404 and no stream; streams are bounded per tenant (429) and freed when closed", async () => {
    expect(
      (await follow(`/v1/tenants/${p.tenantSlug}/contacts/${contactId}/live`, otherKey)).res.status,
    ).toBe(404);
    const open = [];
    for (let i = 0; i < 20; i++)
      open.push(await follow(`/v1/tenants/${p.tenantSlug}/contacts/${contactId}/live`));
    expect(open.every((s) => s.res.status === 200)).toBe(true);
    const refused = await follow(`/v1/tenants/${p.tenantSlug}/contacts/${contactId}/live`);
    expect(refused.res.status).toBe(429);
    expect(((await refused.res.json()) as { error: { code: string } }).error.code).toBe('too_many_streams');
    // Another tenant is not affected by this one's streams.
    const otherContact = await prisma.contact.create({
      data: { tenantId: other.tenantId, providerId: other.providerId, waId: '4915100000009' },
    });
    const theirs = await follow(`/v1/tenants/${other.tenantSlug}/contacts/${otherContact.id}/live`, otherKey);
    expect(theirs.res.status).toBe(200);
    theirs.close();
    for (const s of open) s.close();
    await expect
      .poll(
        async () => {
          const again = await follow(`/v1/tenants/${p.tenantSlug}/contacts/${contactId}/live`);
          again.close();
          return again.res.status;
        },
        { timeout: 15_000 },
      )
      .toBe(200);
  });
});
