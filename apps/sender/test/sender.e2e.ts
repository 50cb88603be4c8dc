import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient, insertOutboundMessages, Prisma } from '@gtc/db';
import { createTestProvider, ownDatabase, Stack, startStack, testEnv, TestProvider } from '@gtc/testing';
import { buildMessageBody, ReplyContent } from '@gtc/whatsapp';

// sender against graph-sim, real Postgres and Redis: order, limits, error classes, never twice.
const { redisUrl, redisPrefix } = testEnv();
const prefix = `${redisPrefix}-sender`;
// A database of its own, as a deployment has: a sender's reconciler re-enqueues every queued message of its database
// older than 10 s, and this file's backlogs stay queued for up to 20 s. In the run's shared database, the senders of
// other files (their own Redis prefix and graph-sim, where these numbers are unknown) took them, got 401 and paused
// these numbers, now and then.
let db: Awaited<ReturnType<typeof ownDatabase>>;
let prisma: ReturnType<typeof createPrismaClient>;
const outboundQueue = new Queue('outbound', { connection: { url: redisUrl }, prefix });
let stack: Stack;
let phone = 3161000000;

interface SimMessage {
  wamid: string;
  to: string;
  type: string;
  body: Record<string, any>;
  received_at: string;
  statuses: { status: string }[];
}

/** Writes messages to a contact (created with a fresh last inbound) and enqueues them without a slot, as admin does. */
async function queueTo(p: TestProvider, contents: ReplyContent[], opts: { to?: string; lastInboundAt?: Date | null; retryOnRateLimit?: boolean; businessInitiated?: boolean; optedOut?: boolean } = {}) {
  const to = opts.to ?? String(phone++);
  const contact = await prisma.contact.upsert({
    where: { providerId_waId: { providerId: p.providerId, waId: to } },
    create: { tenantId: p.tenantId, providerId: p.providerId, waId: to, lastInboundAt: opts.lastInboundAt === undefined ? new Date() : opts.lastInboundAt, optedOut: opts.optedOut ?? false },
    update: {},
  });
  const rows = await prisma.$transaction((tx) =>
    insertOutboundMessages(
      tx,
      contact.id,
      contents.map((c) => {
        const built = buildMessageBody(c, to);
        if (!built.ok) throw new Error(JSON.stringify(built.errors));
        return {
          tenantId: p.tenantId,
          providerId: p.providerId,
          type: built.type,
          body: built.body as unknown as Prisma.InputJsonValue,
          businessInitiated: opts.businessInitiated ?? false,
          retryOnRateLimit: opts.retryOnRateLimit ?? true,
        };
      }),
    ),
    { maxWait: 30_000 },
  );
  await outboundQueue.addBulk(rows.map((r) => ({ name: 'outbound', data: { outboundId: r.id }, opts: { jobId: `o_${r.id}`, removeOnComplete: true } })));
  return { to, contact, rows };
}

async function settled(ids: string[], states = ['delivered', 'read', 'failed'], timeout = 30_000) {
  await expect
    .poll(async () => prisma.outboundMessage.count({ where: { id: { in: ids }, state: { in: states } } }), { timeout, interval: 250 })
    .toBe(ids.length);
  return prisma.outboundMessage.findMany({ where: { id: { in: ids } }, orderBy: { seq: 'asc' } });
}

/** Send errors classed transient (timeouts included) counted by all senders. */
async function transientErrors(): Promise<number> {
  let n = 0;
  for (const s of stack.senders) {
    const text = await (await fetch(`${s.url}/metrics`)).text();
    const m = /gtc_send_retries_total\{[^}]*class="transient"[^}]*\} (\d+)/.exec(text);
    n += m ? Number(m[1]) : 0;
  }
  return n;
}

const received = (to?: string) => stack.sim<SimMessage[]>('GET', `/sim/messages${to ? `?to=${to}` : ''}`);

/** The most messages found in any window of `ms` (sliding, on graph-sim's receive times). */
function worstWindow(times: number[], ms: number): number {
  const t = [...times].sort((a, b) => a - b);
  let worst = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i] - t[j] >= ms) j++;
    worst = Math.max(worst, i - j + 1);
  }
  return worst;
}

beforeAll(async () => {
  db = await ownDatabase('sender_e2e');
  // Tests below write dozens of batches at once: give them room to queue for a connection on this busy machine.
  prisma = createPrismaClient(db.url, { max: 20, connectionTimeoutMs: 30_000 });
  stack = await startStack({
    databaseUrl: db.url,
    redisUrl,
    redisPrefix: prefix,
    senders: 3,
    env: {
      TIER_LIMITS: '5,10,1000',
      TIER_WINDOW_SECONDS: '3',
      PAIR_RATE_LIMIT: '3',
      PAIR_RATE_WINDOW_MS: '1000',
      UNKNOWN_SEND_RECONCILE_MS: '4000',
      GRAPH_API_TIMEOUT_MS: '1000',
      SEND_MAX_ATTEMPTS: '3',
      RECONCILE_INTERVAL_MS: '1000',
      // This machine's 2 cores are shared by every process of the test: graph-sim may stamp requests late.
      // (The throughput limit then paces at 16/s and caps at 20 per 1.25 s of send times.)
      LIMIT_MARGIN_MS: '250',
      THROUGHPUT_PACE: '0.8',
      THROUGHPUT_MARGIN_MS: '250',
    },
    graphSimEnv: {},
  });
  await stack.sim('POST', '/sim/config', { status_latency_ms: { sent: 5, delivered: 30, read: 60 } });
});
afterAll(async () => {
  if (process.env.DUMP_LOGS) for (const s of stack.senders) console.log(s.logs.slice(-30).join('\n'));
  await stack?.stop();
  await Promise.all([outboundQueue.close(), prisma?.$disconnect()]);
  await db?.drop();
});

async function provider(overrides: Parameters<typeof createTestProvider>[1] = {}) {
  const p = await createTestProvider(prisma, { tier: 'unlimited', ...overrides });
  await stack.register(p);
  return p;
}

describe('delivery', () => {
  it('sends every reply type, in order, as exact bodies carrying our id, and tracks them to read', async () => {
    const p = await provider();
    const contents: ReplyContent[] = [
      { message: 'Hello! How can I help you today?' },
      { template: { name: 'order_confirmation', language: 'en', components: [{ type: 'body', parameters: [{ type: 'text', text: 'A-1' }, { type: 'text', text: 'Ana' }] }] } },
      { interactive: { type: 'button', body: { text: 'What would you like to do?' }, action: { buttons: [{ type: 'reply', reply: { id: 'help', title: 'Get Help' } }] } } },
      { interactive: { type: 'list', body: { text: 'Pick' }, action: { button: 'View Options', sections: [{ title: 'Support', rows: [{ id: 'technical', title: 'Technical Support' }] }] } } },
      { media: { type: 'image', link: 'https://example.com/product.jpg', caption: "Here's the product image" } },
      { media: { type: 'document', link: 'https://example.com/invoice.pdf', filename: 'invoice.pdf', caption: 'Your invoice is attached' } },
      { media: { type: 'audio', link: 'https://example.com/a.mp3' } },
      { media: { type: 'video', link: 'https://example.com/v.mp4', caption: 'v' } },
      { media: { type: 'sticker', link: 'https://example.com/s.webp' } },
      { location: { latitude: 37.7749, longitude: -122.4194, name: 'Our Office', address: '123 Main St, San Francisco, CA' } },
    ] as ReplyContent[];
    const { to, rows } = await queueTo(p, contents);
    const final = await settled(rows.map((r) => r.id), ['delivered', 'read']);
    const got = await received(to);
    expect(got.map((m) => m.type)).toEqual(['text', 'template', 'interactive', 'interactive', 'image', 'document', 'audio', 'video', 'sticker', 'location']);
    for (const [i, m] of got.entries()) {
      expect(m.body).toEqual({ ...(rows[i].body as object), biz_opaque_callback_data: rows[i].id });
    }
    expect(final.map((r) => r.wamid)).toEqual(got.map((m) => m.wamid));
    expect(final.every((r) => r.attempts === 1 && r.sentAt && r.deliveredAt)).toBe(true);
    await expect.poll(async () => prisma.outboundMessage.count({ where: { id: { in: rows.map((r) => r.id) }, state: 'read' } }), { timeout: 10_000 }).toBe(rows.length);
  });

  it('keeps per-recipient order across 3 senders while statuses arrive reordered and duplicated, and never regresses', async () => {
    await stack.sim('POST', '/sim/config', { reorder_probability: 0.5, duplicate_probability: 0.3 });
    try {
      const p = await provider();
      const batches = await Promise.all(Array.from({ length: 20 }, (_, i) => queueTo(p, Array.from({ length: 5 }, (_, k) => ({ message: `m${i}-${k}` })))));
      const ids = batches.flatMap((b) => b.rows.map((r) => r.id));
      const final = await settled(ids, ['delivered', 'read'], 60_000);
      let violations = 0;
      for (const b of batches) {
        const got = (await received(b.to)).map((m) => m.body.text.body);
        if (JSON.stringify(got) !== JSON.stringify(b.rows.map((r) => (r.body as any).text.body))) violations++;
      }
      expect(violations).toBe(0);
      expect(final.every((r) => r.attempts === 1)).toBe(true);
      // Late and duplicate statuses: applied once each, state never went back from read.
      const reads = await prisma.outboundMessage.findMany({ where: { id: { in: ids }, state: 'read' } });
      expect(reads.every((r) => r.deliveredAt && r.readAt)).toBe(true);
    } finally {
      await stack.sim('POST', '/sim/config', { reorder_probability: 0, duplicate_probability: 0 });
    }
  });
});

describe('ordering policies and delivery failures', () => {
  it('under "delivered" waits for the delivered status, or the ordering timeout when it does not come', async () => {
    const p = await provider({ ordering: 'delivered', orderingTimeoutMs: 1500 });
    const to = String(phone++);
    await stack.sim('POST', '/sim/config', { offline: [to] }); // sent only; delivered when the phone is back
    try {
      const { rows } = await queueTo(p, [{ message: 'first' }, { message: 'second' }], { to });
      const [first, second] = await settled(rows.map((r) => r.id), ['sent'], 20_000);
      expect(first.deliveredAt).toBeNull();
      expect(second.sentAt!.getTime() - first.sentAt!.getTime()).toBeGreaterThanOrEqual(1_400);
      expect((await received(to)).map((m) => m.body.text.body)).toEqual(['first', 'second']);
    } finally {
      await stack.sim('POST', '/sim/config', { offline: [] });
    }
  });

  it('under "none" sends the next message without waiting for the previous one to be delivered', async () => {
    const p = await provider({ ordering: 'none', orderingTimeoutMs: 60_000 });
    const to = String(phone++);
    await stack.sim('POST', '/sim/config', { offline: [to] });
    try {
      const { rows } = await queueTo(p, [{ message: 'a' }, { message: 'b' }, { message: 'c' }], { to });
      const sent = await settled(rows.map((r) => r.id), ['sent'], 20_000);
      expect(sent.every((r) => r.deliveredAt === null)).toBe(true);
    } finally {
      await stack.sim('POST', '/sim/config', { offline: [] });
    }
  });

  it("records a failed delivery with Meta's code and text, and releases the next message", async () => {
    const p = await provider({ ordering: 'delivered', orderingTimeoutMs: 60_000 });
    const to = String(phone++);
    await stack.sim('POST', '/sim/config', { fail: { recipients: [to], probability: 1, code: 131026, title: 'Message undeliverable', message: 'Message undeliverable', details: 'not on WhatsApp' } });
    try {
      const { rows } = await queueTo(p, [{ message: 'one' }, { message: 'two' }], { to });
      const final = await settled(rows.map((r) => r.id), ['failed'], 20_000);
      for (const r of final) {
        expect(r).toMatchObject({ state: 'failed', errorClass: 'delivery_failed', errorCode: 131026 });
        expect(r.lastError).toContain('Message undeliverable');
        expect(r.wamid).not.toBeNull();
      }
    } finally {
      await stack.sim('POST', '/sim/config', { fail: { recipients: [], probability: 0, code: 131026, title: '', message: '', details: '' } });
    }
  });
});

describe('limits shared by 3 senders', () => {
  it('holds the throughput limit (20/s) and the pair limit (3/s) in every sliding second at graph-sim', async () => {
    const p = await provider({ throughputMps: 20, ordering: 'none' });
    const batches = await Promise.all(Array.from({ length: 10 }, () => queueTo(p, Array.from({ length: 10 }, (_, k) => ({ message: `n${k}` })))));
    await settled(batches.flatMap((b) => b.rows.map((r) => r.id)), ['sent', 'delivered', 'read'], 60_000);
    const mine = (await received()).filter((m) => batches.some((b) => b.to === m.to));
    expect(mine).toHaveLength(100);
    const times = mine.map((m) => Date.parse(m.received_at));
    expect(worstWindow(times, 1000)).toBeLessThanOrEqual(20);
    expect(worstWindow(times, 1000)).toBeGreaterThanOrEqual(12); // the limit is used, not just respected
    for (const b of batches) expect(worstWindow(mine.filter((m) => m.to === b.to).map((m) => Date.parse(m.received_at)), 1000)).toBeLessThanOrEqual(3);
    const stats = await stack.sim('GET', '/sim/stats');
    expect(stats.messages_rejected.throughput ?? 0).toBe(0);
  });

  it("serves tenants fairly: one tenant's backlog does not delay another tenant's single message", async () => {
    const busy = await provider({ throughputMps: 20, ordering: 'none' });
    const other = await provider();
    const backlog: string[] = [];
    for (let i = 0; i < 10; i++) {
      const batches = await Promise.all(Array.from({ length: 10 }, () => queueTo(busy, [{ message: 'x' }, { message: 'y' }, { message: 'z' }])));
      backlog.push(...batches.flatMap((b) => b.rows.map((r) => r.id)));
    }
    const { rows } = await queueTo(other, [{ message: 'just one' }]);
    const [single] = await settled([rows[0].id], ['sent', 'delivered', 'read'], 30_000);
    // 300 messages at 20/s take 15 s. Of the backlog still waiting when the other tenant's message was queued, most
    // were still waiting when it went out: it did not queue behind them (counted from the rows, not the clock).
    const queuedAt = single.createdAt;
    const waiting = await prisma.outboundMessage.count({ where: { id: { in: backlog }, OR: [{ sentAt: null }, { sentAt: { gt: queuedAt } }] } });
    const overtook = await prisma.outboundMessage.count({ where: { id: { in: backlog }, sentAt: { gt: queuedAt, lte: single.sentAt! } } });
    expect(waiting).toBeGreaterThan(100);
    expect(overtook).toBeLessThan(waiting / 2);
    await settled(backlog, ['sent', 'delivered', 'read'], 60_000);
  }, 120_000);

  it('makes messages over the tier limit wait for the moving window, then sends them', async () => {
    const p = await provider({ tier: '1', ordering: 'none' }); // TIER_LIMITS 5 per TIER_WINDOW_SECONDS 3
    const batches = await Promise.all(Array.from({ length: 8 }, () => queueTo(p, [{ message: 'tier' }])));
    const final = await settled(batches.map((b) => b.rows[0].id), ['sent', 'delivered', 'read'], 20_000);
    expect(final.every((r) => r.state !== 'failed')).toBe(true);
    const mine = (await received()).filter((m) => batches.some((b) => b.to === m.to));
    const sent = mine.map((m) => Date.parse(m.received_at)).sort((a, b) => a - b);
    expect(sent[5] - sent[0]).toBeGreaterThanOrEqual(2_900);
    expect(worstWindow(sent, 3_000)).toBeLessThanOrEqual(5);
  });
});

describe('errors by class', () => {
  it('retries transient errors with backoff, fails them after the limit, and fails window-closed and permanent at once', async () => {
    const p = await provider();
    const [ok, exhausted, closed, permanent] = [String(phone++), String(phone++), String(phone++), String(phone++)];
    await stack.sim('POST', '/sim/config', {
      send_errors: [
        { http_status: 500, code: 131000, count: 2, to: [ok] },
        { http_status: 500, code: 131000, count: 10, to: [exhausted] },
        { http_status: 400, code: 131047, count: 1, to: [closed] },
        { http_status: 400, code: 131026, count: 1, to: [permanent] },
      ],
    });
    try {
      const msgs = await Promise.all([ok, exhausted, closed, permanent].map((to) => queueTo(p, [{ message: 'x' }], { to })));
      const rows = await settled(msgs.map((m) => m.rows[0].id), ['delivered', 'read', 'failed'], 30_000);
      const by = (to: string) => rows.find((r) => (r.body as any).to === to)!;
      expect(by(ok)).toMatchObject({ attempts: 3 });
      expect(['delivered', 'read']).toContain(by(ok).state);
      expect(by(exhausted)).toMatchObject({ state: 'failed', errorClass: 'transient', attempts: 3 });
      expect(by(closed)).toMatchObject({ state: 'failed', errorClass: 'window_closed', errorCode: 131047, attempts: 1 });
      expect(by(permanent)).toMatchObject({ state: 'failed', errorClass: 'permanent', errorCode: 131026, attempts: 1 });
    } finally {
      await stack.sim('POST', '/sim/config', { send_errors: [] });
    }
  });

  it('backs off on throttling, or fails at once when retry_on_rate_limit is false', async () => {
    const p = await provider();
    const [retry, noRetry] = [String(phone++), String(phone++)];
    await stack.sim('POST', '/sim/config', {
      send_errors: [
        { http_status: 429, code: 130429, count: 1, to: [retry] },
        { http_status: 429, code: 130429, count: 1, to: [noRetry] },
      ],
    });
    try {
      const a = await queueTo(p, [{ message: 'x' }], { to: retry });
      const b = await queueTo(p, [{ message: 'x' }], { to: noRetry, retryOnRateLimit: false });
      const rows = await settled([a.rows[0].id, b.rows[0].id], ['delivered', 'read', 'failed']);
      const retried = rows.find((r) => r.id === a.rows[0].id)!;
      expect(retried.attempts).toBe(2);
      expect(retried.state).not.toBe('failed');
      expect(rows.find((r) => r.id === b.rows[0].id)).toMatchObject({ state: 'failed', errorClass: 'throttled', attempts: 1 });
    } finally {
      await stack.sim('POST', '/sim/config', { send_errors: [] });
    }
  });

  it('pauses a provider whose token Meta refuses, keeps its messages queued and shows it in /health', async () => {
    const p = await provider();
    await stack.sim('POST', '/sim/phone-numbers', { phone_number_id: p.phoneNumberId, access_token: 'another-token', app_secret: p.appSecret, webhook_url: `${stack.ingress.url}/webhook/whatsapp/${p.tenantSlug}/${p.teamSlug}` });
    const { rows } = await queueTo(p, [{ message: 'one' }, { message: 'two' }]);
    await expect.poll(async () => (await prisma.whatsAppProvider.findUniqueOrThrow({ where: { id: p.providerId } })).pausedAt, { timeout: 15_000 }).not.toBeNull();
    const health = await (await fetch(`${stack.senders[0].url}/health`)).json();
    expect(JSON.stringify(health.info.paused_providers)).toContain(p.phoneNumberId);
    await new Promise((r) => setTimeout(r, 500));
    const after = await prisma.outboundMessage.findMany({ where: { id: { in: rows.map((r) => r.id) } }, orderBy: { seq: 'asc' } });
    expect(after.map((r) => r.state)).toEqual(['queued', 'queued']);
    expect(after[0].errorClass).toBe('auth');
  });

  it('refuses free-form messages outside the 24-hour window and business-initiated ones to opted-out contacts, before calling Meta', async () => {
    const p = await provider();
    const old = new Date(Date.now() - 25 * 3600_000);
    const freeform = await queueTo(p, [{ message: 'late' }], { lastInboundAt: old });
    const template = await queueTo(p, [{ template: { name: 'follow_up', language: 'en' } } as ReplyContent], { lastInboundAt: old });
    const optedOut = await queueTo(p, [{ template: { name: 'follow_up', language: 'en' } } as ReplyContent], { businessInitiated: true, optedOut: true });
    const rows = await settled([freeform.rows[0].id, template.rows[0].id, optedOut.rows[0].id], ['sent', 'delivered', 'read', 'failed']);
    expect(rows.find((r) => r.id === freeform.rows[0].id)).toMatchObject({ state: 'failed', errorClass: 'window_closed', attempts: 0 });
    expect(rows.find((r) => r.id === optedOut.rows[0].id)).toMatchObject({ state: 'failed', errorClass: 'opted_out', attempts: 0 });
    expect(rows.find((r) => r.id === template.rows[0].id)!.state).not.toBe('failed');
    expect(await received(freeform.to)).toEqual([]);
    expect(await received(optedOut.to)).toEqual([]);
  });
});

describe('templates', () => {
  it('refuses a template send that does not match the synced templates, before calling Meta', async () => {
    const p = await provider();
    await prisma.messageTemplate.create({
      data: { tenantId: p.tenantId, providerId: p.providerId, name: 'order_confirmation', language: 'en', status: 'APPROVED', components: [{ type: 'BODY', text: 'Order {{1}} for {{2}}' }] },
    });
    const good = await queueTo(p, [{ template: { name: 'order_confirmation', language: 'en', components: [{ type: 'body', parameters: [{ type: 'text', text: 'A-1' }, { type: 'text', text: 'Ana' }] }] } } as ReplyContent]);
    const wrongCount = await queueTo(p, [{ template: { name: 'order_confirmation', language: 'en', components: [{ type: 'body', parameters: [{ type: 'text', text: 'A-1' }] }] } } as ReplyContent]);
    const unknown = await queueTo(p, [{ template: { name: 'no_such_template', language: 'en' } } as ReplyContent]);
    const rows = await settled([good.rows[0].id, wrongCount.rows[0].id, unknown.rows[0].id], ['sent', 'delivered', 'read', 'failed']);
    expect(rows.find((r) => r.id === good.rows[0].id)!.state).not.toBe('failed');
    expect(rows.find((r) => r.id === wrongCount.rows[0].id)).toMatchObject({ state: 'failed', errorClass: 'permanent', attempts: 0 });
    expect(rows.find((r) => r.id === wrongCount.rows[0].id)!.lastError).toMatch(/takes 2 body parameter\(s\), the send gives 1/);
    expect(rows.find((r) => r.id === unknown.rows[0].id)!.lastError).toMatch(/unknown template "no_such_template"/);
    expect(await received(wrongCount.to)).toEqual([]);
    expect(await received(unknown.to)).toEqual([]);
  });
});

describe('never twice', () => {
  it('holds a send whose answer timed out as unknown and reconciles it from its status instead of resending', async () => {
    const p = await provider();
    // Well past GRAPH_API_TIMEOUT_MS (1 s): undici's timers are coarse (a 1 s timeout may fire up to a second late).
    await stack.sim('POST', '/sim/config', { response_latency_ms: 3_000 });
    try {
      const timeoutsBefore = await transientErrors();
      const { rows, to } = await queueTo(p, [{ message: 'slow' }]);
      const [row] = await settled([rows[0].id], ['delivered', 'read', 'failed'], 20_000);
      // The request did time out (a transient error was counted), and yet it was not sent again: a status carrying
      // our id (it may even arrive before the timeout) gave its wamid.
      // (The status may settle the row before the 1 s timeout fires: wait for the count.)
      await expect.poll(() => transientErrors(), { timeout: 10_000 }).toBeGreaterThan(timeoutsBefore);
      expect(row.attempts).toBe(1);
      expect(row.state).not.toBe('failed');
      const got = await received(to);
      expect(got).toHaveLength(1);
      expect(row.wamid).toBe(got[0].wamid);
    } finally {
      await stack.sim('POST', '/sim/config', { response_latency_ms: 0 });
    }
  });

  it('never sends again a message Meta accepted whose record Postgres refused: its status settles it', async () => {
    const p = await provider();
    // A fault in Postgres itself: the sender's record of this number's sends (the wamid Meta answered with) is refused;
    // a status giving the wamid (ingress's statement) is not.
    await prisma.$executeRawUnsafe(`CREATE OR REPLACE FUNCTION refuse_send_record() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF current_query() LIKE '%AS x(id, wamid)%' THEN RAISE EXCEPTION 'injected fault: send record refused'; END IF;
        RETURN NEW;
      END $$`);
    await prisma.$executeRawUnsafe(`CREATE TRIGGER refuse_send_record BEFORE UPDATE ON outbound_messages FOR EACH ROW
      WHEN (NEW.provider_id = '${p.providerId}' AND OLD.wamid IS NULL AND NEW.wamid IS NOT NULL) EXECUTE FUNCTION refuse_send_record()`);
    // Its statuses come after 2.5 s: later than a retry of the request would go (0.5 s), earlier than an unknown
    // outcome's resend (UNKNOWN_SEND_RECONCILE_MS, 4 s).
    await stack.sim('POST', '/sim/config', { status_latency_ms: { sent: 2_500, delivered: 2_600, read: 60_000 } });
    try {
      const { rows, to } = await queueTo(p, [{ message: 'unrecorded' }]);
      const [row] = await settled([rows[0].id], ['delivered', 'read'], 20_000);
      const got = await received(to);
      expect(got).toHaveLength(1);
      expect(row).toMatchObject({ wamid: got[0].wamid, attempts: 1 });
    } finally {
      await prisma.$executeRawUnsafe('DROP TRIGGER refuse_send_record ON outbound_messages');
      await stack.sim('POST', '/sim/config', { status_latency_ms: { sent: 5, delivered: 30, read: 60 } });
    }
  });

  it('delivers every message exactly once when a sender is killed -9 mid-batch', async () => {
    const p = await provider();
    const batches = await Promise.all(Array.from({ length: 60 }, () => queueTo(p, [{ message: 'a' }, { message: 'b' }, { message: 'c' }])));
    await new Promise((r) => setTimeout(r, 400));
    await stack.crashAndRestart(stack.senders[0], 0);
    const ids = batches.flatMap((b) => b.rows.map((r) => r.id));
    await settled(ids, ['delivered', 'read'], 60_000);
    const mine = (await received()).filter((m) => batches.some((b) => b.to === m.to));
    expect(mine).toHaveLength(ids.length);
    expect(new Set(mine.map((m) => m.body.biz_opaque_callback_data)).size).toBe(ids.length);
    for (const b of batches) expect((await received(b.to)).map((m) => m.body.text.body)).toEqual(['a', 'b', 'c']);
  }, 120_000);

  // Last, after every test above sent, paused, refused and retried through this stack: Prisma's query compiler (tens
  // of MB of native memory per process) is loaded by none of the services of the message path.
  it('runs ingress, flow-runner and sender on plain SQL: none of them made the Prisma client', async () => {
    for (const s of [stack.ingress, ...stack.flowRunners, ...stack.senders]) {
      const health = await (await fetch(`${s.url}/health`)).json();
      expect(health.info.prisma_client, s.url).toBe('unused');
    }
  });
});
