import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { createPrismaClient, ORDERING_RECHECK_MS } from '@gtc/db';
import { jobIds } from '@gtc/queue';
import {
  createTestProvider,
  inboundWebhook,
  installFlows,
  ownDatabase,
  postWebhook,
  ServiceProcess,
  startService,
  testEnv,
  TestProvider,
  UserMessage,
} from '@gtc/testing';

// ingress → flow-runner → outbound rows, against real Postgres and Redis, with the examples bundle. On a database of
// its own: ingress's reconciler offers every pending inbound row it finds to its flow-runners, and those of other
// test files (posted with no flow-runner running) would be runs here too, counted by the tests that count runs.
const { redisUrl, redisPrefix } = testEnv();
const env = { DATABASE_URL: '', REDIS_URL: redisUrl, REDIS_PREFIX: `${redisPrefix}-flows` };
let db: Awaited<ReturnType<typeof ownDatabase>>;
let prisma: ReturnType<typeof createPrismaClient>;
let ingress: ServiceProcess;
let runners: ServiceProcess[] = [];

/** A counter summed over every running flow-runner and all its labels (those of its series with `label`, if given). */
async function counted(metric: string, label?: string): Promise<number> {
  let n = 0;
  for (const r of runners) {
    const text = await (await fetch(`${r.url}/metrics`)).text();
    for (const m of text.matchAll(new RegExp(`^${metric}(\\{[^}]*\\})? (\\d+)`, 'gm'))) if (!label || m[1]?.includes(label)) n += Number(m[2]);
  }
  return n;
}
const runsCounted = () => counted('gtc_flow_runs_total');
let p: TestProvider;
let phone = 4915100000000;

async function say(from: string, message: UserMessage): Promise<string> {
  const { body, wamid } = inboundWebhook(p, from, message);
  expect(await postWebhook(ingress.url, p, body)).toBe(200);
  return wamid;
}

/** Waits until the inbound message is processed and returns its replies' Graph API bodies, in sequence. */
async function repliesTo(wamid: string, timeout = 15_000) {
  let row;
  await expect
    .poll(async () => (row = await prisma.inboundMessage.findFirst({ where: { providerId: p.providerId, wamid } }))?.state, { timeout })
    .toMatch(/processed|failed/);
  const out = await prisma.outboundMessage.findMany({ where: { causeId: row!.id }, orderBy: { seq: 'asc' } });
  return { inbound: row!, bodies: out.map((o) => o.body as Record<string, any>), rows: out };
}

const texts = (bodies: Record<string, any>[]) => bodies.map((b) => b.text?.body ?? b.interactive?.body?.text ?? b.type);

beforeAll(async () => {
  db = await ownDatabase('flow_runner_e2e');
  env.DATABASE_URL = db.url;
  prisma = createPrismaClient(db.url);
  p = await createTestProvider(prisma);
  await installFlows(prisma, p);
  ingress = await startService('ingress', env);
  runners = [await startService('flow-runner', env)];
});
afterAll(async () => {
  await Promise.all([ingress, ...runners].map((s) => s?.kill()));
  await prisma?.$disconnect();
  await db?.drop();
});

describe('flows answer through ingress and flow-runner', () => {
  it('greets "hi" with the text and the three buttons, as exact Graph API bodies', async () => {
    const from = String(phone++);
    const { bodies, rows } = await repliesTo(await say(from, { text: 'Hi' }));
    expect(bodies[0]).toEqual({ messaging_product: 'whatsapp', recipient_type: 'individual', to: from, type: 'text', text: { body: 'Hello! How can I help you today?' } });
    expect(bodies[1].type).toBe('interactive');
    expect(bodies[1].interactive.action.buttons.map((b: any) => b.reply.id)).toEqual(['help', 'status', 'human']);
    expect(rows.map((r) => r.seq)).toEqual([1, 2]);
    expect(rows.every((r) => r.state === 'queued' && !r.businessInitiated)).toBe(true);
  });

  it('routes button presses through the branch (help, status with interpolation, unknown)', async () => {
    const from = String(phone++);
    await repliesTo(await say(from, { text: 'hello' }));
    expect(texts((await repliesTo(await say(from, { buttonReply: { id: 'help', title: 'Get Help' } }))).bodies)).toEqual(["Here's how I can help..."]);
    expect(texts((await repliesTo(await say(from, { buttonReply: { id: 'status', title: 'Check Status' } }))).bodies)).toEqual([
      'Your latest order is on its way, Test User.',
    ]);
    expect(texts((await repliesTo(await say(from, { buttonReply: { id: 'other', title: 'Other' } }))).bodies)[0]).toMatch(/didn't get that/);
    const seqs = (await prisma.outboundMessage.findMany({ where: { contactId: (await prisma.contact.findFirstOrThrow({ where: { waId: from } })).id }, orderBy: { seq: 'asc' } })).map((o) => o.seq);
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
  });

  it('answers a list selection by its row id', async () => {
    const from = String(phone++);
    const menu = await repliesTo(await say(from, { text: 'menu' }));
    expect(menu.bodies[0].interactive.type).toBe('list');
    const billing = await repliesTo(await say(from, { listReply: { id: 'billing', title: 'Billing' } }));
    expect(billing.bodies.map((b) => b.type)).toEqual(['text', 'document']);
    expect(billing.bodies[1].document).toEqual({ link: 'https://example.com/invoice.pdf', filename: 'invoice.pdf', caption: 'Your invoice is attached' });
  });

  it('answers a template quick reply by its payload', async () => {
    const from = String(phone++);
    const { bodies, inbound } = await repliesTo(await say(from, { button: { payload: 'confirm', text: 'Confirm' } }));
    expect(inbound.state).toBe('processed');
    expect(bodies).toHaveLength(1);
    expect(bodies[0].type).toBe('text');
  });

  it('waits for the next message and branches on it (wait + branch), then hands off', async () => {
    const from = String(phone++);
    const ask = await repliesTo(await say(from, { text: 'feedback' }));
    expect(ask.bodies[0].interactive.body.text).toBe('Did we solve your problem?');
    const session = await prisma.session.findFirstOrThrow({ where: { contact: { waId: from } } });
    expect(session.status).toBe('waiting');
    // "hi" would normally start the welcome flow: a waiting contact gets its message in the wait first.
    expect(texts((await repliesTo(await say(from, { text: 'hi' }))).bodies)).toEqual(['Please answer yes or no.']);
    expect(texts((await repliesTo(await say(from, { text: 'no' }))).bodies)).toEqual(['Sorry about that. A colleague will take over this chat.']);
    expect((await prisma.session.findFirstOrThrow({ where: { contact: { waId: from } } })).status).toBe('handoff');
    const silent = await repliesTo(await say(from, { text: 'hello?' }));
    expect(silent.bodies).toEqual([]);
    expect((silent.inbound.flowRun as { outcome: string }).outcome).toBe('handoff');
  });

  it('opts out on STOP (no flow), refuses business-initiated flows, and opts back in on START', async () => {
    const from = String(phone++);
    const stop = await repliesTo(await say(from, { text: '  stop ' }));
    expect(texts(stop.bodies)).toEqual(['You have been unsubscribed. Reply START to subscribe again.']);
    const contact = await prisma.contact.findFirstOrThrow({ where: { providerId: p.providerId, waId: from } });
    expect(contact.optedOut).toBe(true);
    const start = await prisma.inboundMessage.create({
      data: { tenantId: p.tenantId, providerId: p.providerId, contactId: contact.id, wamid: `api.${from}`, type: 'flow_start', payload: { flow: 'appointment_reminder', vars: {} } },
    });
    // The API path enqueues; here the next inbound job for the contact drains it in arrival order.
    const back = await repliesTo(await say(from, { text: 'START' }));
    expect(texts(back.bodies)).toEqual(['You are subscribed again.']);
    const refused = await prisma.inboundMessage.findUniqueOrThrow({ where: { id: start.id } });
    expect(refused.state).toBe('failed');
    expect(refused.error).toMatch(/opted out/);
    expect(await prisma.outboundMessage.count({ where: { causeId: start.id } })).toBe(0);
    expect((await prisma.contact.findUniqueOrThrow({ where: { id: contact.id } })).optedOut).toBe(false);
  });

  it('writes contact.opted_out, contact.opted_in and conversation.handoff events in the step that makes the change', async () => {
    const endpoint = await prisma.eventEndpoint.create({
      data: { tenantId: p.tenantId, url: 'https://receiver.example/hooks', events: ['contact.opted_out', 'contact.opted_in', 'conversation.handoff'], secretEnc: 'not-used-here' },
    });
    try {
      const from = String(phone++);
      await repliesTo(await say(from, { text: 'STOP' }));
      await repliesTo(await say(from, { text: 'START' }));
      await repliesTo(await say(from, { text: 'feedback' }));
      await repliesTo(await say(from, { text: 'no' }));
      await repliesTo(await say(from, { text: 'still there?' })); // already handed off: no second event
      const contact = await prisma.contact.findFirstOrThrow({ where: { providerId: p.providerId, waId: from } });
      const events = await prisma.event.findMany({ where: { contactId: contact.id }, include: { deliveries: true }, orderBy: { createdAt: 'asc' } });
      expect(events.map((e) => e.type)).toEqual(['contact.opted_out', 'contact.opted_in', 'conversation.handoff']);
      const who = { id: contact.id, wa_id: from, user_id: null, name: 'Test User' };
      expect(events.map((e) => e.data)).toEqual([
        { contact: who, via: 'keyword' },
        { contact: who, via: 'keyword' },
        { contact: who, state: 'started', flow: 'feedback', via: 'flow' },
      ]);
      expect(events.every((e) => e.tenantId === p.tenantId && e.teamId === p.teamId)).toBe(true);
      expect(events.map((e) => e.deliveries.map((d) => d.endpointId))).toEqual([[endpoint.id], [endpoint.id], [endpoint.id]]);
    } finally {
      await prisma.eventEndpoint.delete({ where: { id: endpoint.id } });
    }
  });

  it('records a run error (missing variable) on the message instead of sending half a step', async () => {
    const from = String(phone++);
    await installFlows(prisma, p, {
      'broken.ygtc': `name: broken\nversion: "1"\nnodes:\n  - id: a\n    type: reply\n    config:\n      message: "first"\n    next: b\n  - id: b\n    type: reply\n    config:\n      message: "Order {{order_id}}"\ntriggers:\n  - type: message\n    keyword: broken\n    target: a\n`,
    });
    await new Promise((r) => setTimeout(r, 2_100)); // the flow catalog refreshes every 2 s: picked up without restart
    const { inbound, bodies } = await repliesTo(await say(from, { text: 'broken' }));
    expect(bodies).toEqual([]);
    expect(inbound.state).toBe('failed');
    expect(inbound.error).toMatch(/order_id/);
  });
});

describe("replies held at their recipient's ordering gate (ordering: delivered)", () => {
  const outbound = new Queue('outbound', { connection: { url: redisUrl }, prefix: env.REDIS_PREFIX });
  afterAll(() => outbound.close());
  const jobOf = async (id: string) => (await outbound.getJob(jobIds.outbound(id)))!;

  it("enqueues a step's later reply held (delayed, unplanned) behind its first, and a reply whose earlier messages are released free", async () => {
    const from = String(phone++);
    const held = await counted('gtc_flow_replies_held_total');
    const { rows } = await repliesTo(await say(from, { text: 'Hi' }));
    expect(rows).toHaveLength(2);
    await expect.poll(async () => Boolean(await outbound.getJob(jobIds.outbound(rows[1].id)))).toBe(true);
    const [first, second] = [await jobOf(rows[0].id), await jobOf(rows[1].id)];
    // The first goes at its planned slot; the second waits in the delayed set, with no slot, for the first's release.
    expect(first.data.slotAt).toEqual(expect.any(Number));
    expect(second.data.slotAt).toBeUndefined();
    expect(await second.getState()).toBe('delayed');
    expect(second.opts.delay).toBe(ORDERING_RECHECK_MS);
    // Counted right after the enqueue, which /metrics may answer just before.
    await expect.poll(() => counted('gtc_flow_replies_held_total')).toBe(held + 1);

    // Once both are delivered, the contact's next reply is not held.
    await prisma.outboundMessage.updateMany({ where: { id: { in: rows.map((r) => r.id) } }, data: { state: 'delivered', sentAt: new Date(), deliveredAt: new Date() } });
    const next = await repliesTo(await say(from, { buttonReply: { id: 'help', title: 'Get Help' } }));
    await expect.poll(async () => Boolean(await outbound.getJob(jobIds.outbound(next.rows[0].id)))).toBe(true);
    expect((await jobOf(next.rows[0].id)).data.slotAt).toEqual(expect.any(Number));
    expect(await counted('gtc_flow_replies_held_total')).toBe(held + 1);
  });

  it('holds the first reply of a step while an earlier message to the contact is only sent', async () => {
    const from = String(phone++);
    const { rows } = await repliesTo(await say(from, { text: 'Hi' }));
    await prisma.outboundMessage.updateMany({ where: { id: { in: rows.map((r) => r.id) } }, data: { state: 'sent', sentAt: new Date() } });
    const next = await repliesTo(await say(from, { buttonReply: { id: 'help', title: 'Get Help' } }));
    await expect.poll(async () => Boolean(await outbound.getJob(jobIds.outbound(next.rows[0].id)))).toBe(true);
    const job = await jobOf(next.rows[0].id);
    expect(job.data.slotAt).toBeUndefined();
    expect(await job.getState()).toBe('delayed');
  });
});

describe('ordering and crashes', () => {
  it('processes one contact\'s burst strictly in order with 2 flow-runner processes', async () => {
    runners.push(await startService('flow-runner', env));
    const before = await runsCounted();
    const tenantBefore = await counted('gtc_flow_runs_total', `tenant="${p.tenantId}"`);
    const from = String(phone++);
    const words = Array.from({ length: 20 }, (_, i) => (i % 2 ? 'help me' : 'ping'));
    const sent: string[] = [];
    for (const [i, w] of words.entries()) {
      const { body, wamid } = inboundWebhook(p, from, { text: `${w} ${i}` });
      sent.push(wamid);
      expect(await postWebhook(ingress.url, p, body)).toBe(200);
    }
    await repliesTo(sent[sent.length - 1], 30_000);
    const inbound = await prisma.inboundMessage.findMany({ where: { providerId: p.providerId, wamid: { in: sent } }, orderBy: { arrival: 'asc' } });
    expect(inbound.map((m) => m.wamid)).toEqual(sent);
    const processedOrder = [...inbound].sort((a, b) => a.processedAt!.getTime() - b.processedAt!.getTime() || Number(a.arrival - b.arrival));
    expect(processedOrder.map((m) => m.wamid)).toEqual(sent);
    // Replies carry the contact's sequence numbers in the same order as the messages that caused them.
    const out = await prisma.outboundMessage.findMany({ where: { contactId: (await prisma.contact.findFirstOrThrow({ where: { waId: from } })).id }, orderBy: { seq: 'asc' } });
    const causeOrder = out.map((o) => inbound.findIndex((m) => m.id === o.causeId));
    expect(causeOrder).toEqual([...causeOrder].sort((a, b) => a - b));
    // Each message ran exactly once over both processes (a step never picks up one its twin just finished).
    await expect.poll(async () => (await runsCounted()) - before, { timeout: 5_000 }).toBe(words.length);
    // Counted under the tenant's id.
    expect((await counted('gtc_flow_runs_total', `tenant="${p.tenantId}"`)) - tenantBefore).toBe(words.length);
  });

  it("runs each of one contact's messages once when they arrive all at once at 2 flow-runner processes", async () => {
    const [runsBefore, failuresBefore] = [await runsCounted(), await counted('gtc_flow_job_failures_total')];
    const from = String(phone++);
    const hooks = Array.from({ length: 20 }, (_, i) => inboundWebhook(p, from, { text: `ping ${i}` }));
    expect(await Promise.all(hooks.map((h) => postWebhook(ingress.url, p, h.body)))).toEqual(hooks.map(() => 200));
    await expect
      .poll(async () => prisma.inboundMessage.count({ where: { providerId: p.providerId, wamid: { in: hooks.map((h) => h.wamid) }, state: 'processed' } }), { timeout: 30_000 })
      .toBe(hooks.length);
    await expect.poll(async () => (await runsCounted()) - runsBefore, { timeout: 5_000 }).toBe(hooks.length);
    // No attempt failed: a step never picked up a message its twin had just processed (which would collide on the replies' unique key).
    expect((await counted('gtc_flow_job_failures_total')) - failuresBefore).toBe(0);
  });

  it('never writes a second set of replies when a flow-runner is killed mid-run', async () => {
    const contacts = Array.from({ length: 30 }, () => String(phone++));
    const wamids: string[] = [];
    const posting = (async () => {
      for (let round = 0; round < 4; round++) {
        for (const from of contacts) {
          const { body, wamid } = inboundWebhook(p, from, { text: round % 2 ? 'ping' : 'hi' });
          wamids.push(wamid);
          expect(await postWebhook(ingress.url, p, body)).toBe(200);
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    await runners[0].kill(); // kill -9 in the middle of the run
    runners[0] = await startService('flow-runner', env);
    await posting;
    await expect
      .poll(async () => prisma.inboundMessage.count({ where: { wamid: { in: wamids }, state: { not: 'processed' } } }), { timeout: 60_000, interval: 500 })
      .toBe(0);
    const inbound = await prisma.inboundMessage.findMany({ where: { wamid: { in: wamids } }, select: { id: true, payload: true } });
    const counts = await prisma.outboundMessage.groupBy({ by: ['causeId'], where: { causeId: { in: inbound.map((m) => m.id) } }, _count: true });
    const byCause = new Map(counts.map((c) => [c.causeId, c._count]));
    for (const m of inbound) {
      const text = (m.payload as { text: string }).text;
      expect(byCause.get(m.id), text).toBe(text === 'hi' ? 2 : 1);
    }
  });
});

describe('connection pool', () => {
  it('runs more steps at once than it has connections, without waiting on itself', async () => {
    // Every step holds one connection for its transaction; nothing it does may need a second one (it would wait
    // for a pool its sibling steps hold). Here: 8 steps at once on 2 connections, flows not cached yet.
    await Promise.all(runners.map((r) => r.kill()));
    runners = [await startService('flow-runner', { ...env, DATABASE_POOL_SIZE: '2', FLOW_RUNNER_CONCURRENCY: '8' })];
    const hooks = Array.from({ length: 24 }, () => inboundWebhook(p, String(phone++), { text: 'ping' }));
    expect(await Promise.all(hooks.map((h) => postWebhook(ingress.url, p, h.body)))).toEqual(hooks.map(() => 200));
    await expect
      .poll(async () => prisma.inboundMessage.count({ where: { providerId: p.providerId, wamid: { in: hooks.map((h) => h.wamid) }, state: 'processed' } }), { timeout: 30_000 })
      .toBe(hooks.length);
    expect(await counted('gtc_flow_job_failures_total')).toBe(0);
  });
});
