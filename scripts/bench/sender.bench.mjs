// Sender benchmark: messages/s accepted by graph-sim with 1 and 3 sender processes and no limit, and the
// accuracy of a configured throughput limit (achieved / configured, worst sliding second at graph-sim).
import { createServer } from 'node:http';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { root, worstWindow } from './harness.mjs';

const require = createRequire(import.meta.url);
const { Queue } = require(resolve(root, 'libs/queue/node_modules/bullmq'));
const Redis = require(resolve(root, 'libs/queue/node_modules/ioredis'));
const { SendLimiter } = require(resolve(root, 'libs/queue/dist/send-limiter.js'));
const { limiterSettings } = require(resolve(root, 'libs/queue/dist/outbound.producer.js'));
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

/**
 * Enqueues the messages at once. With `limits`, each is planned first as the admin API and the flow-runner
 * enqueue (OutboundProducer: a slot in the number's plan log, the job delayed to it); without, unplanned, as the
 * reconciler does (the sender plans it).
 */
async function enqueue(env, messages, limits) {
  const q = new Queue('outbound', { connection: { url: env.redisUrl }, prefix: env.redisPrefix });
  const redis = limits && new Redis(env.redisUrl);
  const limiter = limits && new SendLimiter(redis, env.redisPrefix, limiterSettings(loadConfig({})));
  for (let i = 0; i < messages.length; i += 1000) {
    const jobs = [];
    for (const m of messages.slice(i, i + 1000)) {
      const opts = { jobId: `o_${m.id}`, removeOnComplete: true };
      if (!limits) {
        jobs.push({ name: 'outbound', data: { outboundId: m.id }, opts });
        continue;
      }
      const { at: slotAt } = await limiter.reserve(limits, { messageId: m.id, recipient: m.to, businessInitiated: false }, 'plan');
      jobs.push({ name: 'outbound', data: { outboundId: m.id, slotAt }, opts: { ...opts, delay: Math.max(0, slotAt - Date.now()) } });
    }
    await q.addBulk(jobs);
  }
  await q.close();
  redis?.disconnect();
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
  await enqueue(env, ids, { phoneNumberId: p.phoneNumberId, tier: 'unlimited', throughputMps: configured });
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
