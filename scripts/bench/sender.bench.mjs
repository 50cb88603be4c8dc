// Sender benchmark: messages/s accepted by graph-sim with 1 and 3 sender processes and no limit, and the
// accuracy of a configured throughput limit (achieved / configured, worst sliding second at graph-sim).
import { createServer } from 'node:http';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { root, worstWindow } from './harness.mjs';

const require = createRequire(import.meta.url);
const { Queue } = require(resolve(root, 'libs/queue/node_modules/bullmq'));
const { OutboundProducer, QueueService, RedisService } = require(resolve(root, 'libs/queue/dist/index.js'));
const { loadConfig } = require(resolve(root, 'libs/config/dist/index.js'));
const MESSAGES = Number(process.env.BENCH_SENDER_MESSAGES ?? 4000);

async function sim(graphSim, method, path, body) {
  const res = await fetch(`${graphSim.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
  return res.json();
}

/** Writes `count` text messages to `contacts` recipients (ordering none): their ids and recipients. */
async function load(env, p, count, contacts) {
  const out = [];
  const cs = [];
  for (let i = 0; i < contacts; i++) {
    cs.push(await env.prisma.contact.create({ data: { tenantId: p.tenantId, providerId: p.providerId, waId: `49${p.phoneNumberId.slice(-6)}${String(i).padStart(5, '0')}`, lastInboundAt: new Date() } }));
  }
  const rows = [];
  for (let i = 0; i < count; i++) {
    const c = cs[i % contacts];
    const seq = Math.floor(i / contacts) + 1;
    rows.push({ id: crypto.randomUUID(), tenantId: p.tenantId, providerId: p.providerId, contactId: c.id, seq, type: 'text', body: { messaging_product: 'whatsapp', recipient_type: 'individual', to: c.waId, type: 'text', text: { body: `bench ${i}` } } });
  }
  for (let i = 0; i < rows.length; i += 1000) await env.prisma.outboundMessage.createMany({ data: rows.slice(i, i + 1000) });
  out.push(...rows.map((r) => ({ id: r.id, to: r.body.to })));
  return out;
}

/** Enqueues the messages at once, unplanned, as the reconciler does (the sender plans each). */
async function enqueue(env, messages) {
  const q = new Queue('outbound', { connection: { url: env.redisUrl }, prefix: env.redisPrefix });
  for (let i = 0; i < messages.length; i += 1000) {
    await q.addBulk(messages.slice(i, i + 1000).map((m) => ({ name: 'outbound', data: { outboundId: m.id }, opts: { jobId: `o_${m.id}`, removeOnComplete: true } })));
  }
  await q.close();
}

/** Enqueues the messages through OutboundProducer, as the admin API and the flow-runner do: each planned first. */
async function enqueuePlanned(env, messages, limits) {
  const config = loadConfig({ REDIS_URL: env.redisUrl, REDIS_PREFIX: env.redisPrefix });
  const redis = new RedisService(config);
  const queues = new QueueService(redis);
  try {
    if (redis.client.status !== 'ready') await once(redis.client, 'ready'); // its client queues nothing while offline
    const send = messages.map((m) => ({ messageId: m.id, recipient: m.to, businessInitiated: false }));
    await new OutboundProducer(queues, redis, config).enqueue([{ limits, messages: send }]);
  } finally {
    await queues.onModuleDestroy();
    await redis.onModuleDestroy();
  }
}

async function waitAccepted(graphSim, target, timeoutMs) {
  const started = Date.now();
  for (;;) {
    const s = await sim(graphSim, 'GET', '/sim/stats');
    if (s.messages_accepted >= target) return;
    if (Date.now() - started > timeoutMs) throw new Error(`only ${s.messages_accepted}/${target} accepted`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function throughputRun(env, graphSim, hookUrl, senders) {
  await sim(graphSim, 'POST', '/sim/reset', {});
  const p = await env.provider();
  await sim(graphSim, 'POST', '/sim/phone-numbers', { phone_number_id: p.phoneNumberId, access_token: p.accessToken, app_secret: p.appSecret, webhook_url: hookUrl });
  const procs = [];
  for (let i = 0; i < senders; i++) procs.push(await env.start('sender', { GRAPH_API_BASE_URL: graphSim.url, SENDER_CONCURRENCY: '64', DATABASE_POOL_SIZE: '20' }));
  const ids = await load(env, p, MESSAGES, Math.max(1, Math.floor(MESSAGES / 4)));
  const started = Date.now();
  await enqueue(env, ids);
  await waitAccepted(graphSim, ids.length, 300_000);
  const seconds = (Date.now() - started) / 1000;
  await Promise.all(procs.map((s) => s.stop()));
  return { senders, messages: ids.length, seconds: Number(seconds.toFixed(2)), messages_per_s: Math.round(ids.length / seconds) };
}

async function limitRun(env, graphSim, hookUrl, configured) {
  await sim(graphSim, 'POST', '/sim/reset', {});
  const p = await env.provider({ throughputMps: configured });
  await sim(graphSim, 'POST', '/sim/phone-numbers', { phone_number_id: p.phoneNumberId, access_token: p.accessToken, app_secret: p.appSecret, webhook_url: hookUrl });
  const procs = [];
  for (let i = 0; i < 3; i++) procs.push(await env.start('sender', { GRAPH_API_BASE_URL: graphSim.url }));
  // 16 s of sends at the limit (4 to each recipient, well under the pair limit): start and end weigh little.
  // Planned when enqueued, as the admin API and the flow-runner do.
  const ids = await load(env, p, configured * 16, configured * 4);
  await enqueuePlanned(env, ids, { phoneNumberId: p.phoneNumberId, tier: 'unlimited', throughputMps: configured });
  await waitAccepted(graphSim, ids.length, 120_000);
  const msgs = await sim(graphSim, 'GET', `/sim/messages?phone_number_id=${p.phoneNumberId}`);
  const times = msgs.map((m) => Date.parse(m.received_at)).sort((a, b) => a - b);
  await Promise.all(procs.map((s) => s.stop()));
  const span = (times[times.length - 1] - times[0]) / 1000;
  const achieved = (times.length - 1) / span;
  return {
    configured_mps: configured,
    messages: times.length,
    achieved_mps: Number(achieved.toFixed(2)),
    accuracy: Number((achieved / configured).toFixed(3)),
    worst_1s_window: worstWindow(times, 1000),
  };
}

/** Runs the sender benchmark in the given environment. */
export async function senderBench(env) {
  const hook = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200).end());
  }).listen(0, '127.0.0.1');
  await once(hook, 'listening');
  const hookUrl = `http://127.0.0.1:${hook.address().port}/hook`;
  const graphSim = await env.start('graph-sim', { GRAPH_SIM_WEBHOOK_BATCH_WINDOW_MS: '20' });
  try {
    return {
      one_sender: await throughputRun(env, graphSim, hookUrl, 1),
      three_senders: await throughputRun(env, graphSim, hookUrl, 3),
      limit: await limitRun(env, graphSim, hookUrl, 50),
    };
  } finally {
    await graphSim.stop();
    hook.close();
  }
}
