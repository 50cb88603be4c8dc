import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { Queue } from 'bullmq';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient, withDefaultUser } from '@gtc/db';
import { createTestProvider, freePort, ownDatabase, ServiceProcess, startService, TcpProxy, testEnv, TestProvider } from '@gtc/testing';
import { INBOUND_MESSAGE_TYPES, signPayload } from '@gtc/whatsapp';

// Real ingress process, real Postgres and Redis: what is acknowledged is recorded, once, and enqueued.
const { databaseUrl, redisUrl, redisPrefix } = testEnv();
const prefix = `${redisPrefix}-ingress`;
const prisma = createPrismaClient(databaseUrl);
const inboundQueue = new Queue('inbound', { connection: { url: redisUrl }, prefix });
const statusQueue = new Queue('status', { connection: { url: redisUrl }, prefix });
const fixturesDir = resolve(__dirname, '../../../libs/whatsapp/test/fixtures/pywa');
const fixture = (file: string) => JSON.parse(readFileSync(resolve(fixturesDir, file), 'utf8')) as Record<string, any>;

let ingress: ServiceProcess;
let p: TestProvider;
let seq = 0;

/** A fixture payload re-addressed to our number, with unique message ids. */
function readdress(payload: any, phoneNumberId: string): any {
  const copy = structuredClone(payload);
  for (const entry of copy.entry ?? []) {
    for (const change of entry.changes ?? []) {
      const v = change.value ?? {};
      if (v.metadata) v.metadata.phone_number_id = phoneNumberId;
      for (const m of v.messages ?? []) m.id = `wamid.test${++seq}.${Date.now()}`;
    }
  }
  return copy;
}

async function post(provider: TestProvider, body: string | Buffer, headers: Record<string, string> = {}, sign = true) {
  const res = await fetch(`${ingress.url}/webhook/whatsapp/${provider.tenantSlug}/${provider.teamSlug}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(sign ? { 'x-hub-signature-256': signPayload(body, provider.appSecret) } : {}),
      ...headers,
    },
    body,
  });
  return { status: res.status, text: await res.text() };
}

/** POST announcing the whole length but writing only its start: the server must refuse on the length alone (413). */
function postLarge(provider: TestProvider, body: Buffer): Promise<{ status: number }> {
  return new Promise((resolveResponse, reject) => {
    const req = request(
      `${ingress.url}/webhook/whatsapp/${provider.tenantSlug}/${provider.teamSlug}`,
      { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': body.length, 'x-hub-signature-256': signPayload(body, provider.appSecret) } },
      (res) => {
        res.resume();
        resolveResponse({ status: res.statusCode ?? 0 });
        req.destroy();
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
    });
    req.write(body.subarray(0, 64 * 1024));
  });
}

async function counts(providerId: string) {
  const [inbound, statuses, events, jobs] = await Promise.all([
    prisma.inboundMessage.count({ where: { providerId } }),
    prisma.statusEvent.count({ where: { providerId } }),
    prisma.webhookEvent.count({ where: { providerId } }),
    Promise.all([inboundQueue.count(), statusQueue.count()]),
  ]);
  return { inbound, statuses, events, jobs };
}

const textPayload = (phoneNumberId: string, wamid: string, body: string, from = '15551234567') => ({
  object: 'whatsapp_business_account',
  entry: [
    {
      id: 'WABA',
      changes: [
        {
          field: 'messages',
          value: {
            messaging_product: 'whatsapp',
            metadata: { display_phone_number: '15550000000', phone_number_id: phoneNumberId },
            contacts: [{ profile: { name: 'Zoë' }, wa_id: from }],
            messages: [{ from, id: wamid, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body } }],
          },
        },
      ],
    },
  ],
});

beforeAll(async () => {
  p = await createTestProvider(prisma);
  ingress = await startService('ingress', { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, REDIS_PREFIX: prefix });
});
afterAll(async () => {
  await ingress?.kill();
  await Promise.all([inboundQueue.close(), statusQueue.close(), prisma.$disconnect()]);
});

describe('GET verification', () => {
  const url = (t: TestProvider, token: string) =>
    `${ingress.url}/webhook/whatsapp/${t.tenantSlug}/${t.teamSlug}?hub.mode=subscribe&hub.verify_token=${encodeURIComponent(token)}&hub.challenge=1158201444`;

  it('answers the challenge as plain text for the right verify token', async () => {
    const res = await fetch(url(p, p.verifyToken));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toBe('1158201444');
  });

  it('refuses a wrong token with 403 and an unknown tenant or disabled provider with 404, and logs each refusal', async () => {
    expect((await fetch(url(p, 'wrong'))).status).toBe(403);
    expect((await fetch(url({ ...p, tenantSlug: 'nobody' }, p.verifyToken))).status).toBe(404);
    const disabled = await createTestProvider(prisma, { enabled: false });
    expect((await fetch(url(disabled, disabled.verifyToken))).status).toBe(404);
    // Ingress has no per-request logger (its webhook POSTs would pay for it): the check logs its own refusals.
    const logged = () => ingress.logs.join('\n'); // written by the process as it goes: polled
    await expect.poll(logged).toContain(`subscription check for ${p.tenantSlug}/${p.teamSlug} refused (403)`);
    await expect.poll(logged).toContain(`subscription check for nobody/${p.teamSlug} refused (404)`);
    await expect.poll(logged).toContain(`subscription check for ${disabled.tenantSlug}/${disabled.teamSlug} refused (404)`);
    expect(logged()).not.toContain('hub.verify_token'); // nor the URL, which carries the token tried
  });
});

describe('POST notifications', () => {
  it('records every fixture message type, status and other field, and enqueues each once', async () => {
    const before = await counts(p.providerId);
    let messages = 0;
    let statuses = 0;
    const types = new Set<string>();
    for (const file of readdirSync(fixturesDir).filter((f) => f.endsWith('.json'))) {
      for (const [name, payload] of Object.entries(fixture(file))) {
        const body = readdress(payload, p.phoneNumberId);
        const value = body.entry?.[0]?.changes?.[0]?.value ?? {};
        messages += (value.messages ?? []).length;
        statuses += (value.statuses ?? []).length;
        for (const m of value.messages ?? []) types.add(m.type);
        const res = await post(p, JSON.stringify(body));
        expect(res.status, `${file}:${name}`).toBe(200);
      }
    }
    expect([...types]).toEqual(expect.arrayContaining(['text', 'image', 'video', 'audio', 'document', 'sticker', 'location', 'contacts', 'reaction', 'order', 'unsupported', 'interactive', 'button', 'system']));
    const after = await counts(p.providerId);
    expect(after.inbound - before.inbound).toBe(messages);
    const recorded = await prisma.inboundMessage.findMany({ where: { providerId: p.providerId }, select: { id: true, type: true, payload: true, contactId: true, state: true } });
    // Every fixture type is normalized (edit and revoke included); each row keeps its raw JSON.
    const known = new Set<string>(INBOUND_MESSAGE_TYPES);
    const expected = new Set([...types].map((t) => (known.has(t) ? t : 'unknown')));
    expect([...new Set(recorded.map((r) => r.type))].sort()).toEqual([...expected].sort());
    expect(recorded.some((r) => r.type === 'edit') && recorded.some((r) => r.type === 'revoke')).toBe(true);
    expect(recorded.every((r) => (r.payload as { raw?: unknown }).raw)).toBe(true);
    expect(recorded.every((r) => r.contactId)).toBe(true);
    // Statuses are unique per wamid+status: the fixtures reuse ids, so count distinct pairs.
    expect(after.statuses - before.statuses).toBeGreaterThan(0);
    expect(after.statuses - before.statuses).toBeLessThanOrEqual(statuses);
    expect(after.events - before.events).toBeGreaterThan(10);
    // One job per group commit lists its messages: each pending message is listed in exactly one job.
    const pending = recorded.filter((r) => r.state === 'pending').map((r) => r.id);
    expect(pending.length).toBeGreaterThan(10);
    await expect
      .poll(async () => {
        const jobs = await inboundQueue.getJobs(['waiting', 'completed', 'active', 'delayed']);
        const listed = jobs.flatMap((j) => (j.data as { items: { inboundId: string }[] }).items.map((i) => i.inboundId));
        return pending.filter((id) => listed.filter((l) => l === id).length !== 1);
      }, { timeout: 5000 })
      .toEqual([]);
  });

  it('upserts the contact with its profile name and last inbound time', async () => {
    const now = Math.floor(Date.now() / 1000);
    const res = await post(p, JSON.stringify(textPayload(p.phoneNumberId, `wamid.contact.${now}`, 'hello', '4915112345678')));
    expect(res.status).toBe(200);
    const contact = await prisma.contact.findFirstOrThrow({ where: { providerId: p.providerId, waId: '4915112345678' } });
    expect(contact.profileName).toBe('Zoë');
    expect(Math.abs(contact.lastInboundAt!.getTime() / 1000 - now)).toBeLessThanOrEqual(2);
  });

  it('verifies and keeps a non-ASCII, escaped-character message byte for byte', async () => {
    const raw = JSON.stringify(textPayload(p.phoneNumberId, 'wamid.unicode.1', 'Grüße, 你好 👋 مرحبا')).replace('Gr\u00fc', 'Gr\\u00fc').replace(/\//g, '\\/');
    const res = await post(p, Buffer.from(raw, 'utf8'));
    expect(res.status).toBe(200);
    const row = await prisma.inboundMessage.findFirstOrThrow({ where: { providerId: p.providerId, wamid: 'wamid.unicode.1' } });
    expect((row.payload as { text: string }).text).toBe('Grüße, 你好 👋 مرحبا');
  });

  it('records one row and one job for 10 concurrent replays and for a replay much later', async () => {
    const body = JSON.stringify(textPayload(p.phoneNumberId, 'wamid.replay.1', 'once'));
    const results = await Promise.all(Array.from({ length: 10 }, () => post(p, body)));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    await prisma.inboundMessage.updateMany({ where: { wamid: 'wamid.replay.1' }, data: { receivedAt: new Date(Date.now() - 3 * 86400_000) } });
    expect((await post(p, body)).status).toBe(200);
    const rows = await prisma.inboundMessage.findMany({ where: { providerId: p.providerId, wamid: 'wamid.replay.1' } });
    expect(rows).toHaveLength(1);
    const jobs = (await inboundQueue.getJobs(['waiting', 'completed', 'active', 'delayed'])).filter((j) => j.data.items.some((i) => i.inboundId === rows[0].id));
    expect(jobs).toHaveLength(1);
  });

  it('keeps statuses for messages it has never seen (they may precede the send record)', async () => {
    const status = fixture('message_status.json').delivered;
    const body = readdress(status, p.phoneNumberId);
    body.entry[0].changes[0].value.statuses[0].id = 'wamid.unknown.outbound';
    expect((await post(p, JSON.stringify(body))).status).toBe(200);
    expect((await post(p, JSON.stringify(body))).status).toBe(200);
    const rows = await prisma.statusEvent.findMany({ where: { wamid: 'wamid.unknown.outbound' } });
    expect(rows).toHaveLength(1);
    expect(rows[0].status).toBe('delivered');
    expect(rows[0].appliedAt).toBeNull();
  });

  it('records once a message and a status that another replica inserts while this one writes them (200, no 503)', async () => {
    // The rows are inserted with a plain INSERT (no ON CONFLICT: issue 14, WAL records); a concurrent insert of the
    // same key makes it fail, and the batch is written again with ON CONFLICT. Here another transaction holds both
    // keys until the webhooks' inserts wait for it, then commits.
    const other = new Client({ connectionString: withDefaultUser(databaseUrl) });
    await other.connect();
    try {
      const status = readdress(fixture('message_status.json').delivered, p.phoneNumberId);
      status.entry[0].changes[0].value.statuses[0].id = 'wamid.race.status';
      const kept = await prisma.webhookEvent.count({ where: { providerId: p.providerId } });
      await other.query('BEGIN');
      await other.query(
        `INSERT INTO inbound_messages (tenant_id, provider_id, wamid, type, payload, state) VALUES ($1, $2, 'wamid.race.message', 'text', '{}', 'ignored')`,
        [p.tenantId, p.providerId],
      );
      await other.query(
        `INSERT INTO status_events (tenant_id, provider_id, wamid, status, timestamp, payload) VALUES ($1, $2, 'wamid.race.status', 'delivered', now(), '{}')`,
        [p.tenantId, p.providerId],
      );
      const answers = Promise.all([post(p, JSON.stringify(textPayload(p.phoneNumberId, 'wamid.race.message', 'x'))), post(p, JSON.stringify(status))]);
      // Asked outside `other`'s transaction, which would see one snapshot of pg_stat_activity.
      const waiting = async () =>
        (await prisma.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'transactionid'`)[0].n;
      await expect.poll(waiting, { timeout: 10_000 }).toBe(2);
      await other.query('COMMIT');
      expect((await answers).map((a) => a.status)).toEqual([200, 200]);
      const messages = await prisma.inboundMessage.findMany({ where: { providerId: p.providerId, wamid: 'wamid.race.message' } });
      expect(messages.map((m) => m.state)).toEqual(['ignored']);
      expect(await prisma.statusEvent.count({ where: { providerId: p.providerId, wamid: 'wamid.race.status' } })).toBe(1);
      // Written as rows: not kept raw, as a webhook that fails even alone is (without the retry, both were).
      expect(await prisma.webhookEvent.count({ where: { providerId: p.providerId } })).toBe(kept);
    } finally {
      await other.end();
    }
  });

  it('records a message from a new contact that another replica creates meanwhile with that contact, pending, in one job with its neighbour', async () => {
    // The flush writes contacts and messages in one statement; a contact whose insert finds it taken by a concurrent
    // transaction is not returned, and its messages are written by a second statement with the contact looked up.
    const other = new Client({ connectionString: withDefaultUser(databaseUrl) });
    await other.connect();
    try {
      await other.query('BEGIN');
      const { rows } = await other.query<{ id: string }>(
        `INSERT INTO contacts (tenant_id, provider_id, wa_id, profile_name, updated_at) VALUES ($1, $2, '15559990001', 'Other replica', now()) RETURNING id`,
        [p.tenantId, p.providerId],
      );
      const racing = textPayload(p.phoneNumberId, 'wamid.race.contact', 'x', '15559990001');
      racing.entry[0].changes[0].value.messages.push({ ...racing.entry[0].changes[0].value.messages[0], from: '15559990002', id: 'wamid.race.neighbour' });
      racing.entry[0].changes[0].value.contacts.push({ profile: { name: 'Neighbour' }, wa_id: '15559990002' });
      const answer = post(p, JSON.stringify(racing));
      const waiting = async () =>
        (await prisma.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'transactionid'`)[0].n;
      await expect.poll(waiting, { timeout: 10_000 }).toBe(1);
      await other.query('COMMIT');
      expect((await answer).status).toBe(200);
      const messages = await prisma.inboundMessage.findMany({ where: { providerId: p.providerId, wamid: { in: ['wamid.race.contact', 'wamid.race.neighbour'] } }, orderBy: { wamid: 'asc' } });
      const neighbour = await prisma.contact.findFirstOrThrow({ where: { providerId: p.providerId, waId: '15559990002' } });
      expect(messages.map((m) => [m.wamid, m.contactId, m.state])).toEqual([
        ['wamid.race.contact', rows[0].id, 'pending'],
        ['wamid.race.neighbour', neighbour.id, 'pending'],
      ]);
      expect(messages[0].batchId).toBe(messages[1].batchId);
      expect(await prisma.contact.count({ where: { providerId: p.providerId, waId: '15559990001' } })).toBe(1);
      const jobs = (await inboundQueue.getJobs(['waiting', 'completed', 'active', 'delayed'])).filter((j) => j.data.items.some((i) => i.inboundId === messages[0].id));
      expect(jobs).toHaveLength(1);
      expect(jobs[0].data.items.map((i) => i.inboundId).sort()).toEqual(messages.map((m) => m.id).sort());
    } finally {
      await other.end();
    }
  });

  it('acknowledges and drops a payload for another phone number', async () => {
    const before = await counts(p.providerId);
    const res = await post(p, JSON.stringify(textPayload('999999999', 'wamid.other.number', 'x')));
    expect(res.status).toBe(200);
    expect(await counts(p.providerId)).toEqual(before);
  });

  describe('bad input gets its status code and changes nothing', () => {
    const good = () => JSON.stringify(textPayload(p.phoneNumberId, `wamid.bad.${Math.random()}`, 'x'));
    it.each([
      ['bad signature', async () => post(p, good(), { 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` }, false), 401],
      ['missing signature', async () => post(p, good(), {}, false), 401],
      ['signature over other bytes', async () => post(p, good(), { 'x-hub-signature-256': signPayload('{}', p.appSecret) }, false), 401],
      ['unknown tenant', async () => post({ ...p, tenantSlug: 'no-such-tenant' }, good()), 404],
      ['unknown team', async () => post({ ...p, teamSlug: 'no-such-team' }, good()), 404],
      ['malformed JSON', async () => post(p, '{"object": "whatsapp_business_account", "entry": ['), 400],
      ['oversized body', async () => postLarge(p, Buffer.from(`{"pad":"${'x'.repeat(4 * 1024 * 1024 + 10)}"}`)), 413],
      // Meta posts JSON only: a signed body of another type is not read (it was recorded as non-conforming before).
      ['a signed text/plain body', async () => post(p, good(), { 'content-type': 'text/plain' }), 415],
      ['a signed form body', async () => post(p, 'object=whatsapp_business_account', { 'content-type': 'application/x-www-form-urlencoded' }), 415],
    ])('%s → %i', async (_name, run, code) => {
      const before = await counts(p.providerId);
      const res = await run();
      expect(res.status).toBe(code);
      expect(res.status).toBeLessThan(500);
      expect(await counts(p.providerId)).toEqual(before);
    });

    it('refuses every POST with 401 when the provider has no app secret', async () => {
      const noSecret = await createTestProvider(prisma, { appSecret: null });
      const res = await post({ ...noSecret, appSecret: 'anything' }, JSON.stringify(textPayload(noSecret.phoneNumberId, 'wamid.nosecret', 'x')));
      expect(res.status).toBe(401);
      expect(await prisma.inboundMessage.count({ where: { providerId: noSecret.providerId } })).toBe(0);
      await expect.poll(() => ingress.logs.join('\n')).toMatch(/no app secret configured\. Set the provider's app_secret/);
    });

    it('honours insecure_skip_signature outside production only, and says so at boot', async () => {
      const open = await createTestProvider(prisma, { appSecret: null });
      await prisma.whatsAppProvider.update({ where: { id: open.providerId }, data: { insecureSkipSignature: true } });
      const unsigned = (wamid: string) => JSON.stringify(textPayload(open.phoneNumberId, wamid, 'x'));
      const env = { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, REDIS_PREFIX: prefix };
      const dev = await startService('ingress', env);
      const prod = await startService('ingress', { ...env, NODE_ENV: 'production', SECRETS_KEY: process.env.SECRETS_KEY ?? '0'.repeat(64), ADMIN_API_KEY: 'a-production-admin-key-of-32-chars-or-more' });
      try {
        const target = (s: ServiceProcess) => `${s.url}/webhook/whatsapp/${open.tenantSlug}/${open.teamSlug}`;
        const postTo = (s: ServiceProcess, body: string) => fetch(target(s), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        expect((await postTo(prod, unsigned('wamid.insecure.prod'))).status).toBe(401);
        expect(await prisma.inboundMessage.count({ where: { providerId: open.providerId } })).toBe(0);
        expect((await postTo(dev, unsigned('wamid.insecure.dev'))).status).toBe(200);
        expect(await prisma.inboundMessage.count({ where: { providerId: open.providerId } })).toBe(1);
        const team = `${open.tenantSlug}/${open.teamSlug}`;
        await expect.poll(() => dev.logs.join('\n')).toMatch(new RegExp(`INSECURE: webhooks for [^"]*${team}`));
        await expect.poll(() => prod.logs.join('\n')).toMatch(new RegExp(`insecure_skip_signature is set for [^"]*${team}[^"]* IGNORED in production`));
      } finally {
        await Promise.all([dev.kill(), prod.kill()]);
      }
    });
  });
});

describe('outages', () => {
  it('answers 503 while Postgres is unreachable and loses nothing it acknowledged', async () => {
    const pgProxy = new TcpProxy(await freePort(), 5432);
    await pgProxy.start();
    const url = new URL(databaseUrl);
    url.port = String(pgProxy.port);
    url.hostname = '127.0.0.1';
    const svc = await startService('ingress', { DATABASE_URL: url.toString(), REDIS_URL: redisUrl, REDIS_PREFIX: prefix });
    const send = async (wamid: string) => {
      const body = JSON.stringify(textPayload(p.phoneNumberId, wamid, 'during outage'));
      const res = await fetch(`${svc.url}/webhook/whatsapp/${p.tenantSlug}/${p.teamSlug}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': signPayload(body, p.appSecret) },
        body,
      });
      return res.status;
    };
    try {
      expect(await send('wamid.pg.before')).toBe(200);
      await pgProxy.stop();
      const during = await Promise.all(Array.from({ length: 5 }, (_, i) => send(`wamid.pg.during.${i}`)));
      expect(during).toEqual(Array(5).fill(503));
      await pgProxy.start();
      // Meta redelivers: now they are recorded.
      await expect.poll(() => send('wamid.pg.during.0'), { timeout: 15_000, interval: 500 }).toBe(200);
      for (let i = 1; i < 5; i++) expect(await send(`wamid.pg.during.${i}`)).toBe(200);
      const rows = await prisma.inboundMessage.count({ where: { providerId: p.providerId, wamid: { startsWith: 'wamid.pg.' } } });
      expect(rows).toBe(6);
    } finally {
      await svc.kill();
      await pgProxy.stop();
    }
  });

  it('acknowledges what it recorded while Redis is down and enqueues it when Redis is back', async () => {
    // A database of its own: the reconcilers of other test files' services would otherwise take these pending
    // rows up on their queues (and finish them) before this ingress is back on Redis.
    const own = await ownDatabase('ingress_redis_down');
    const ownPrisma = createPrismaClient(own.url);
    const p = await createTestProvider(ownPrisma);
    const redisProxy = new TcpProxy(await freePort(), 6379);
    await redisProxy.start();
    const svc = await startService('ingress', {
      DATABASE_URL: own.url,
      REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`,
      REDIS_PREFIX: prefix,
      RECONCILE_INTERVAL_MS: '500',
    });
    try {
      await redisProxy.stop();
      const wamids = Array.from({ length: 3 }, (_, i) => `wamid.redis.down.${i}`);
      for (const w of wamids) {
        const body = JSON.stringify(textPayload(p.phoneNumberId, w, 'redis down'));
        const res = await fetch(`${svc.url}/webhook/whatsapp/${p.tenantSlug}/${p.teamSlug}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-hub-signature-256': signPayload(body, p.appSecret) },
          body,
        });
        expect(res.status).toBe(200);
      }
      const rows = await ownPrisma.inboundMessage.findMany({ where: { wamid: { in: wamids } } });
      expect(rows).toHaveLength(3);
      const jobIdsOf = async () => new Set((await inboundQueue.getJobs(['waiting', 'completed', 'active'])).flatMap((j) => j.data.items.map((i) => i.inboundId)));
      const idsWhileDown = await jobIdsOf();
      expect(rows.filter((r) => idsWhileDown.has(r.id))).toEqual([]);
      await redisProxy.start();
      await expect
        .poll(async () => {
          const ids = await jobIdsOf();
          return rows.every((r) => ids.has(r.id));
        }, { timeout: 20_000, interval: 500 })
        .toBe(true);
    } finally {
      await svc.kill();
      await redisProxy.stop();
      await ownPrisma.$disconnect();
      await own.drop();
    }
  });

  it('on SIGTERM answers the webhook it is writing, records it, takes no new one, and exits 0', async () => {
    const svc = await startService('ingress', { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, REDIS_PREFIX: prefix, LOG_LEVEL: 'info' });
    const other = new Client({ connectionString: withDefaultUser(databaseUrl) });
    await other.connect();
    const send = async (wamid: string) => {
      const body = JSON.stringify(textPayload(p.phoneNumberId, wamid, 'at shutdown'));
      const res = await fetch(`${svc.url}/webhook/whatsapp/${p.tenantSlug}/${p.teamSlug}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': signPayload(body, p.appSecret), connection: 'close' },
        body,
      });
      return res.status;
    };
    try {
      // Another transaction inserts the same message and holds it: the webhook's insert waits for it.
      await other.query('BEGIN');
      await other.query(
        `INSERT INTO inbound_messages (tenant_id, provider_id, wamid, type, payload, state) VALUES ($1, $2, 'wamid.sigterm', 'text', '{}', 'ignored')`,
        [p.tenantId, p.providerId],
      );
      const inFlight = send('wamid.sigterm');
      const waiting = async () =>
        (await prisma.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'transactionid'`)[0].n;
      await expect.poll(waiting, { timeout: 10_000 }).toBe(1);
      const exited = svc.stop();
      await expect.poll(() => svc.logs.some((l) => l.includes('SIGTERM received')), { timeout: 10_000 }).toBe(true);
      // Draining: a new webhook is refused (connection refused, or 503 so that Meta retries), and the process waits
      // for the one it holds.
      expect(await send('wamid.sigterm.after').catch(() => 'refused')).toBeOneOf(['refused', 503]);
      expect(svc.running).toBe(true);
      // The other transaction gives up its row: ingress writes its own and only then answers.
      await other.query('ROLLBACK');
      expect(await inFlight).toBe(200);
      expect(await exited).toBe(0);
      const rows = await prisma.inboundMessage.findMany({ where: { providerId: p.providerId, wamid: { in: ['wamid.sigterm', 'wamid.sigterm.after'] } } });
      expect(rows.map((r) => [r.wamid, r.state])).toEqual([['wamid.sigterm', 'pending']]);
    } finally {
      await other.end();
      await svc.kill();
    }
  });
});
