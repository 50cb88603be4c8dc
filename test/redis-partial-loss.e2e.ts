import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient, PrismaClient } from '@gtc/db';
import { createTestProvider, freePort, installFlows, ownDatabase, Stack, startService, startStack, TempRedis, TestProvider } from '@gtc/testing';

// Postgres is the truth for any Redis state, total or partial (issue 12, item 8): while the stack runs, a random
// half of its Redis keys disappears again and again (job hashes, queue lists and sets, locks, limiter logs), as
// after a failover that kept some writes and lost others; and a queue's lists are lost while the job hashes they
// pointed at survive. Every reply must still go out exactly once, in order per recipient, under ordering
// "delivered". Everything runs on 127.0.0.1: a Redis server of the test's own, a database of its own.
const USERS = 100;
const MESSAGES = 3;
const TARGET_USERS = 20;
const PREFIX = 'partial';
// Two replies per message, with bodies naming the message, so a duplicate shows as a repeated body.
const ECHO = `name: echo
version: "1"
nodes:
  - id: first
    type: reply
    config:
      message: "first {{message.text}}"
    next: second
  - id: second
    type: reply
    config:
      message: "second {{message.text}}"
triggers:
  - type: any
    target: first
`;

let db: { url: string; drop: () => Promise<void> };
let redisServer: TempRedis;
let redis: Redis;
let prisma: PrismaClient;
let stack: Stack;
let p: TestProvider;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  db = await ownDatabase('partial_loss');
  redisServer = new TempRedis(await freePort());
  await redisServer.start();
  redis = new Redis(redisServer.url);
  prisma = createPrismaClient(db.url);
  // Tier 1 with a limit this run never reaches: the tier log is kept (and rebuilt from Postgres when lost).
  p = await createTestProvider(prisma, { tier: '1', ordering: 'delivered', orderingTimeoutMs: 120_000 });
  await installFlows(prisma, p, { 'echo.ygtc': ECHO });
  stack = await startStack({
    databaseUrl: db.url,
    redisUrl: redisServer.url,
    redisPrefix: PREFIX,
    // Tier 2 (4 a day) is for the tier log's own case below.
    env: { RECONCILE_INTERVAL_MS: '1000', UNKNOWN_SEND_RECONCILE_MS: '15000', TIER_LIMITS: '100000,4,300000' },
    graphSimEnv: { GRAPH_SIM_WEBHOOK_RETRY_BASE_MS: '200', GRAPH_SIM_WEBHOOK_RETRY_MAX_MS: '2000', GRAPH_SIM_WEBHOOK_CONCURRENCY: '32' },
  });
  await stack.register(p);
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await prisma?.$disconnect();
  redis?.disconnect();
  await redisServer?.kill();
  await db?.drop();
});

/** Every key of the stack (its prefix), by SCAN. */
async function stackKeys(): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${PREFIX}:*`, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** Deletes a random half of the stack's keys; returns what was deleted. */
async function deleteRandomHalf(): Promise<string[]> {
  const keys = await stackKeys();
  const doomed = keys.filter(() => Math.random() < 0.5);
  for (let i = 0; i < doomed.length; i += 500) await redis.unlink(...doomed.slice(i, i + 500));
  return doomed;
}

/** Kind of a stack key, to show the deletions hit every kind of state. */
function kindOf(key: string): string {
  const rest = key.slice(PREFIX.length + 1);
  if (rest.startsWith('limits:')) return 'limiter';
  if (/^(inbound|outbound|status):[ios]_[^:]+$/.test(rest)) return 'job';
  if (/^(inbound|outbound|status):[ios]_[^:]+:lock$/.test(rest)) return 'lock';
  if (/^(inbound|outbound|status):(wait|delayed|active|prioritized|paused)$/.test(rest)) return 'queue list';
  return 'other';
}

/** Outbound rows of a provider to these users (found by their contacts: outbound messages name theirs by id only). */
async function toUsers(providerId: string, users: string[]): Promise<{ providerId: string; contactId: { in: string[] } }> {
  const contacts = await prisma.contact.findMany({ where: { providerId, waId: { in: users } }, select: { id: true } });
  return { providerId, contactId: { in: contacts.map((c) => c.id) } };
}

/** Waits until the provider's replies to these users are all delivered (or read); explains a stall. */
async function allDelivered(users: string[], expected: number, timeout: number): Promise<void> {
  try {
    await expect
      .poll(async () => prisma.outboundMessage.count({ where: { ...(await toUsers(p.providerId, users)), state: { in: ['delivered', 'read'] } } }), { timeout, interval: 1_000 })
      .toBe(expected);
  } catch (e) {
    const inbound = await prisma.inboundMessage.groupBy({ by: ['state'], where: { providerId: p.providerId, contact: { waId: { in: users } } }, _count: true });
    const outbound = await prisma.outboundMessage.groupBy({ by: ['state'], where: await toUsers(p.providerId, users), _count: true });
    console.log(`partial loss stalled: inbound ${JSON.stringify(inbound)} outbound ${JSON.stringify(outbound)}\n${stack.logTail()}`);
    throw e;
  }
}

/** What graph-sim got for these users: every reply once (no repeated body), in the order of their seq. */
async function checkReplies(users: string[], perUser: string[]): Promise<void> {
  const received = await stack.sim<{ to: string; body: { text?: { body: string }; biz_opaque_callback_data?: string } }[]>(
    'GET',
    `/sim/messages?phone_number_id=${p.phoneNumberId}`,
  );
  const out = await prisma.outboundMessage.findMany({ where: { providerId: p.providerId }, select: { id: true, seq: true } });
  const seqOf = new Map(out.map((o) => [o.id, o.seq]));
  const mine = new Set(users);
  const bodies = new Map<string, string[]>();
  const seqs = new Map<string, number[]>();
  for (const m of received) {
    if (!mine.has(m.to)) continue;
    bodies.set(m.to, [...(bodies.get(m.to) ?? []), m.body.text?.body ?? '']);
    seqs.set(m.to, [...(seqs.get(m.to) ?? []), seqOf.get(m.body.biz_opaque_callback_data ?? '') ?? -1]);
  }
  const wrong = users.filter((u) => {
    const b = bodies.get(u) ?? [];
    const s = seqs.get(u) ?? [];
    const inOrder = s.every((x, i) => x >= 0 && (i === 0 || s[i - 1] < x));
    return b.length !== perUser.length || [...b].sort().join('|') !== [...perUser].sort().join('|') || !inOrder;
  });
  expect(wrong.map((u) => ({ user: u, bodies: bodies.get(u), seqs: seqs.get(u) }))).toEqual([]);
}

describe('Redis loses part of its keys while the stack runs', () => {
  it('sends every reply exactly once, in order, while a random half of the keys is deleted again and again', async () => {
    const users = Array.from({ length: USERS }, (_, i) => String(4917100000000 + i));
    let trafficDone = false;
    const traffic = (async () => {
      for (let k = 1; k <= MESSAGES; k++) {
        const wave = users.map((from) => ({ phone_number_id: p.phoneNumberId, from, name: 'Partial', text: `m${k}` }));
        for (let i = 0; i < wave.length; i += 50) {
          await stack.sim('POST', '/sim/inbound/batch', wave.slice(i, i + 50));
          await sleep(1_000);
        }
      }
      trafficDone = true;
    })();

    const deleted = new Map<string, number>();
    let rounds = 0;
    await sleep(1_000);
    // During the traffic and a little after it (while replies wait for their turn), then stop.
    while (!trafficDone || rounds < 12) {
      for (const key of await deleteRandomHalf()) deleted.set(kindOf(key), (deleted.get(kindOf(key)) ?? 0) + 1);
      rounds++;
      await sleep(1_500);
    }
    await traffic;
    console.log(`partial loss: ${rounds} rounds deleted ${JSON.stringify(Object.fromEntries(deleted))}`);
    // The deletions hit job hashes, queue lists and limiter logs alike.
    for (const kind of ['job', 'queue list', 'limiter']) expect(deleted.get(kind) ?? 0).toBeGreaterThan(0);

    await allDelivered(users, USERS * MESSAGES * 2, 240_000);
    const perUser = Array.from({ length: MESSAGES }, (_, i) => [`first m${i + 1}`, `second m${i + 1}`]).flat();
    await checkReplies(users, perUser);
    const stats = await stack.sim<{ duplicates: { same_callback_data: number } }>('GET', '/sim/stats');
    expect(stats.duplicates.same_callback_data).toBe(0);
    expect(await prisma.outboundMessage.count({ where: { providerId: p.providerId } })).toBe(USERS * MESSAGES * 2);
  }, 420_000);

  it('re-creates jobs whose hashes survived while the queue lists pointing at them were lost', async () => {
    const users = Array.from({ length: TARGET_USERS }, (_, i) => String(4917200000000 + i));
    // No worker takes the jobs meanwhile: they sit in the lists, then the lists go and the hashes stay.
    await stack.flowRunners[0].kill();
    await stack.senders[0].kill();
    await stack.sim('POST', '/sim/inbound/batch', users.map((from) => ({ phone_number_id: p.phoneNumberId, from, name: 'Target', text: 't1' })));
    const inbound = () => prisma.inboundMessage.findMany({ where: { providerId: p.providerId, contact: { waId: { in: users } } }, select: { id: true, batchId: true } });
    await expect.poll(async () => (await inbound()).length, { timeout: 30_000 }).toBe(TARGET_USERS);
    // One inbound job per ingress group commit (i_<batch_id>), carrying every message of that commit.
    const inboundHashes = [...new Set((await inbound()).map((m) => `${PREFIX}:inbound:i_${m.batchId ?? m.id}`))];
    await expect.poll(async () => redis.exists(...inboundHashes), { timeout: 30_000 }).toBe(inboundHashes.length);
    await redis.del(`${PREFIX}:inbound:wait`);
    expect(await redis.exists(...inboundHashes)).toBe(inboundHashes.length); // orphans: hashes with no list pointing at them

    stack.flowRunners[0] = await startService('flow-runner', stack.env);
    const outbound = async () => prisma.outboundMessage.findMany({ where: await toUsers(p.providerId, users), select: { id: true } });
    await expect.poll(async () => (await outbound()).length, { timeout: 60_000, interval: 500 }).toBe(TARGET_USERS * 2);
    const outboundHashes = (await outbound()).map((m) => `${PREFIX}:outbound:o_${m.id}`);
    await expect.poll(async () => redis.exists(...outboundHashes), { timeout: 30_000 }).toBe(TARGET_USERS * 2);
    await redis.del(`${PREFIX}:outbound:wait`, `${PREFIX}:outbound:delayed`, `${PREFIX}:outbound:prioritized`);
    expect(await redis.exists(...outboundHashes)).toBe(TARGET_USERS * 2);

    stack.senders[0] = await startService('sender', stack.env);
    await allDelivered(users, TARGET_USERS * 2, 90_000);
    await checkReplies(users, ['first t1', 'second t1']);
  }, 240_000);

  it("rebuilds a lost tier log from Postgres: a day's limit still holds", async () => {
    const p2 = await createTestProvider(prisma, { tier: '2', ordering: 'none' }); // 4 sends per moving day
    await installFlows(prisma, p2, { 'echo.ygtc': ECHO });
    await stack.register(p2);
    await sleep(2_100); // the flow-runner's catalog refreshes every 2 s
    const say = (from: string) => stack.sim('POST', '/sim/inbound', { phone_number_id: p2.phoneNumberId, from, text: 'tier' });
    const atSim = async () => (await stack.sim<unknown[]>('GET', `/sim/messages?phone_number_id=${p2.phoneNumberId}`)).length;
    await say('4917300000001');
    await say('4917300000002');
    await expect.poll(atSim, { timeout: 60_000, interval: 500 }).toBe(4).catch(async (e) => {
      const runs = await prisma.inboundMessage.findMany({ where: { providerId: p2.providerId }, select: { state: true, error: true } });
      console.log(`tier case stalled: inbound ${JSON.stringify(runs)}\n${stack.logTail()}`);
      throw e;
    });
    const sent = await prisma.outboundMessage.findMany({ where: { providerId: p2.providerId }, select: { id: true } });
    const log = `${PREFIX}:limits:{${p2.phoneNumberId}}`;
    expect((await redis.zrange(`${log}:send:tier`, 0, -1)).sort()).toEqual(sent.map((m) => m.id).sort());

    // Both tier logs are lost: the schedule starts over, and the log that holds the limit comes back from Postgres.
    await redis.del(`${log}:send:tier`, `${log}:plan:tier`);
    await say('4917300000003');
    const later = async () => prisma.outboundMessage.findMany({ where: await toUsers(p2.providerId, ['4917300000003']), select: { id: true, state: true } });
    await expect.poll(async () => (await later()).length, { timeout: 30_000 }).toBe(2);
    await expect.poll(async () => redis.exists(`${log}:send:tier`), { timeout: 30_000 }).toBe(1);
    // The rebuilt log holds every send of the day; a message claimed for sending at that moment is counted too
    // (it may be mid-request), so the two new ones may appear in it until their own reservation takes them out.
    const rebuilt = await redis.zrange(`${log}:send:tier`, 0, -1);
    expect(rebuilt).toEqual(expect.arrayContaining(sent.map((m) => m.id)));
    const newIds = (await later()).map((r) => r.id);
    expect(rebuilt.filter((id) => !sent.some((m) => m.id === id)).every((id) => newIds.includes(id))).toBe(true);
    // Each of the two got its answer from the rebuilt log: wait for the moving day (its job was put off till then).
    const queue = `${PREFIX}:outbound`;
    const dayAhead = Date.now() + 23 * 3600_000;
    await expect
      .poll(async () => {
        const rows = await later();
        const scores = await Promise.all(rows.map((r) => redis.zscore(`${queue}:delayed`, `o_${r.id}`)));
        // BullMQ's delayed score is the due time × 4096 (plus a counter).
        return rows.every((r, i) => r.state === 'queued' && scores[i] !== null && Number(scores[i]) / 4096 > dayAhead);
      }, { timeout: 30_000, interval: 500 })
      .toBe(true);
    expect(await atSim()).toBe(4);
  }, 120_000);
});
