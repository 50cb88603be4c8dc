import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations, createPrismaClient, ensureDatabase, PrismaClient } from '@gtc/db';
import {
  createTestProvider,
  freePort,
  installFlows,
  Stack,
  startStack,
  TempPostgres,
  TempRedis,
  TestProvider,
} from '@gtc/testing';

// Fault suite: a few thousand conversations while each service is killed -9, Redis loses its data and Postgres
// crashes, all on servers of the test's own (temporary data, other ports). Then: every acknowledged message ran
// exactly once, every reply was delivered exactly once, per-recipient order held.
const USERS = Number(process.env.CHAOS_USERS ?? 400);
const SCRIPT: { message: object; replies: number }[] = [
  { message: { text: 'hi' }, replies: 2 },
  { message: { button_reply: { id: 'help', title: 'Get Help' } }, replies: 1 },
  { message: { text: 'menu' }, replies: 1 },
];

let pg: TempPostgres;
let redis: TempRedis;
let prisma: PrismaClient;
let stack: Stack;
let p: TestProvider;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  pg = new TempPostgres(await freePort());
  pg.start();
  redis = new TempRedis(await freePort());
  await redis.start();
  const databaseUrl = pg.url('gtc');
  await ensureDatabase(databaseUrl);
  await applyMigrations(databaseUrl);
  prisma = createPrismaClient(databaseUrl);
  p = await createTestProvider(prisma, { tier: 'unlimited' });
  await installFlows(prisma, p);
  stack = await startStack({
    databaseUrl,
    redisUrl: redis.url,
    redisPrefix: 'chaos',
    env: { UNKNOWN_SEND_RECONCILE_MS: '15000', RECONCILE_INTERVAL_MS: '1000' },
    graphSimEnv: { GRAPH_SIM_WEBHOOK_RETRY_BASE_MS: '200', GRAPH_SIM_WEBHOOK_RETRY_MAX_MS: '2000', GRAPH_SIM_WEBHOOK_CONCURRENCY: '64' },
  });
  await stack.register(p);
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await prisma?.$disconnect();
  await redis?.kill();
  pg?.destroy();
});

describe('faults during a run', () => {
  it('loses, duplicates and reorders nothing through kill -9 of each service, Redis data loss and a Postgres crash', async () => {
    const users = Array.from({ length: USERS }, (_, i) => String(4917000000000 + i));
    const waves = SCRIPT.flatMap((step) => users.map((from) => ({ phone_number_id: p.phoneNumberId, from, name: 'Chaos', ...step.message })));
    const started = Date.now();
    const sending = (async () => {
      // The users write over ~10 seconds, so every fault lands in the middle of the traffic.
      const chunk = Math.ceil(waves.length / 20);
      for (let i = 0; i < waves.length; i += chunk) {
        await stack.sim('POST', '/sim/inbound/batch', waves.slice(i, i + chunk));
        await sleep(500);
      }
    })();

    const figures: Record<string, number> = {};
    await sleep(1_000);
    await stack.crashAndRestart(stack.ingress);
    await sleep(1_000);
    await stack.crashAndRestart(stack.flowRunners[0]);
    await sleep(1_000);
    await stack.crashAndRestart(stack.senders[0]);
    await sleep(1_000);
    // Redis dies and comes back empty: the reconcilers re-enqueue from Postgres.
    await redis.kill();
    await sleep(1_000);
    await redis.start();
    await sleep(2_000);
    // Postgres crashes: ingress answers 503 meanwhile (graph-sim redelivers, as Meta would).
    pg.crash();
    const down = Date.now();
    await sleep(2_000);
    const during = await fetch(`${stack.ingress.url}/health`);
    expect(during.status).toBe(503);
    pg.start();
    await expect.poll(async () => (await fetch(`${stack.ingress.url}/health`)).status, { timeout: 30_000, interval: 200 }).toBe(200);
    figures.postgres_recovery_ms = Date.now() - down;
    await sending;

    const expectedReplies = USERS * SCRIPT.reduce((n, s) => n + s.replies, 0);
    const drainStart = Date.now();
    try {
      await expect
        .poll(async () => prisma.outboundMessage.count({ where: { providerId: p.providerId, state: { in: ['delivered', 'read'] } } }), { timeout: 180_000, interval: 1_000 })
        .toBeGreaterThanOrEqual(expectedReplies);
    } catch (e) {
      const inboundStates = await prisma.inboundMessage.groupBy({ by: ['state'], where: { providerId: p.providerId }, _count: true });
      const outboundStates = await prisma.outboundMessage.groupBy({ by: ['state'], where: { providerId: p.providerId }, _count: true });
      console.log(`chaos stalled: inbound ${JSON.stringify(inboundStates)} outbound ${JSON.stringify(outboundStates)}\n${stack.logTail()}`);
      throw e;
    }
    figures.drain_after_faults_ms = Date.now() - drainStart;
    figures.total_ms = Date.now() - started;

    // Every message graph-sim got acknowledged ran exactly once.
    const sent = await stack.sim<{ wamid: string; delivered_at?: string }[]>('GET', `/sim/inbound?phone_number_id=${p.phoneNumberId}`);
    const acknowledged = sent.filter((m) => m.delivered_at);
    const inbound = await prisma.inboundMessage.findMany({ where: { providerId: p.providerId }, select: { id: true, wamid: true, state: true, type: true } });
    const byWamid = new Map(inbound.map((m) => [m.wamid, m]));
    figures.messages = sent.length;
    figures.acknowledged = acknowledged.length;
    figures.lost = acknowledged.filter((m) => byWamid.get(m.wamid)?.state !== 'processed').length;
    const out = await prisma.outboundMessage.findMany({ where: { providerId: p.providerId }, select: { id: true, causeId: true, contactId: true, seq: true, wamid: true, state: true } });
    const perCause = new Map<string, number>();
    for (const o of out) perCause.set(o.causeId!, (perCause.get(o.causeId!) ?? 0) + 1);
    const wrongRuns = inbound.filter((m) => {
      const expected = m.type === 'interactive' ? 1 : m.type === 'text' ? null : 0;
      const n = perCause.get(m.id) ?? 0;
      return expected === null ? n !== 1 && n !== 2 : n !== expected;
    }).length;

    // Every reply reached the user exactly once, in order per recipient.
    const received = await stack.sim<{ wamid: string; to: string; body: { biz_opaque_callback_data?: string } }[]>('GET', `/sim/messages?phone_number_id=${p.phoneNumberId}`);
    const stats = await stack.sim<{ duplicates: { same_callback_data: number } }>('GET', '/sim/stats');
    figures.replies_expected = expectedReplies;
    figures.replies_received = received.length;
    figures.duplicates = stats.duplicates.same_callback_data;
    const seqOf = new Map(out.map((o) => [o.id, o]));
    let violations = 0;
    const lastSeq = new Map<string, number>();
    for (const m of received) {
      const o = seqOf.get(m.body.biz_opaque_callback_data ?? '');
      if (!o) continue;
      if ((lastSeq.get(o.contactId) ?? 0) > o.seq) violations++;
      lastSeq.set(o.contactId, o.seq);
    }
    figures.order_violations = violations;
    figures.wrong_run_counts = wrongRuns;
    console.log(`chaos figures: ${JSON.stringify(figures)}`);

    expect(figures.acknowledged).toBe(USERS * SCRIPT.length);
    expect(figures.lost).toBe(0);
    expect(wrongRuns).toBe(0);
    expect(inbound).toHaveLength(USERS * SCRIPT.length);
    expect(out).toHaveLength(expectedReplies);
    expect(figures.duplicates).toBe(0);
    expect(received).toHaveLength(expectedReplies);
    expect(violations).toBe(0);
  }, 420_000);
});
