// Event webhooks benchmark: one event-dispatcher process delivers a backlog of BENCH_EVENTS (default 20,000) events,
// of BENCH_EVENTS_CONTACTS contacts (default 1,000; in order per contact), to BENCH_EVENTS_ENDPOINTS endpoints
// (default 4, one tenant each, EVENT_ENDPOINT_CONCURRENCY each) of one local receiver (a process of its own).
// The backlog is written first and held back; the counted window runs from releasing it to the last delivery
// recorded: events delivered per second, and CPU per event of the dispatcher, the receiver and Postgres (counters.mjs).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { createCounters } from './counters.mjs';
import { db, freePort, root } from './harness.mjs';

const require = createRequire(import.meta.url);
const { Pool } = require(resolve(root, 'libs/db/node_modules/pg'));
const { SERVICE_NODE_FLAGS } = require(resolve(root, 'libs/config/dist/index.js'));
const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const CONTACTS = Number(process.env.BENCH_EVENTS_CONTACTS ?? 1_000);
const ENDPOINTS = Number(process.env.BENCH_EVENTS_ENDPOINTS ?? 4);
const SETTLE_S = Number(process.env.BENCH_SETTLE_S ?? 11);

/** Starts the dispatcher from its build; resolves when /health/live answers. */
async function startDispatcher(env, extra) {
  const port = await freePort();
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, resolve(root, 'apps/event-dispatcher/dist/main.js')], {
    env: { PATH: process.env.PATH, LOG_LEVEL: 'error', DATABASE_URL: env.databaseUrl, EVENT_DISPATCHER_PORT: String(port), EVENT_ALLOW_PRIVATE_NETWORKS: 'true', ...extra },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error('event-dispatcher exited');
    if (await fetch(`http://127.0.0.1:${port}/health/live`).then((r) => r.ok, () => false)) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('event-dispatcher did not start');
}

/** Runs the events benchmark in `env` (harness.mjs); returns its figures. */
export async function eventsBench(env) {
  const pool = new Pool({ connectionString: db.withDefaultUser(env.databaseUrl), max: 2 });
  const receiver = env.script('receiver', 'events-receiver.mjs', {});
  const { port } = await receiver.next();
  for (let i = 0; i < ENDPOINTS; i++) {
    const p = await env.provider();
    await env.prisma.eventEndpoint.create({
      data: { tenantId: p.tenantId, url: `http://127.0.0.1:${port}/hook/${i}`, events: ['*'], secretEnc: env.secrets.encrypt(`whsec_${Buffer.from(`bench-secret-${i}`).toString('base64')}`) },
    });
  }
  const tenants = (await env.prisma.eventEndpoint.findMany({ select: { tenantId: true } })).map((e) => e.tenantId);
  const contacts = Array.from({ length: CONTACTS }, () => crypto.randomUUID());
  // The backlog, as a producer writes it (recordEvents), then held back until the window opens.
  for (let i = 0; i < EVENTS; i += 500) {
    const batch = [];
    for (let j = i; j < Math.min(EVENTS, i + 500); j++) {
      const contact = contacts[j % CONTACTS];
      batch.push({ tenantId: tenants[j % tenants.length], teamId: null, type: 'message.received', contactId: contact, data: { contact: { id: contact }, message: { id: crypto.randomUUID(), type: 'text', content: { text: { body: `bench ${j}` } } } } });
    }
    await db.recordEvents(pool, batch);
  }
  await pool.query(`UPDATE event_deliveries SET next_attempt_at = now() + interval '1 day'`);
  const dispatcher = await startDispatcher(env, {});
  const processes = () => [...env.processes(), ...(dispatcher.exitCode === null ? [{ name: 'event-dispatcher', pid: dispatcher.pid }] : [])];
  const counters = await createCounters({ ...env, processes });
  try {
    await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
    const before = await counters.snapshot();
    const started = Date.now();
    await pool.query(`WITH d AS (UPDATE event_deliveries SET next_attempt_at = now() RETURNING 1) SELECT pg_notify('${db.EVENTS_CHANNEL}', '') FROM (SELECT 1 FROM d LIMIT 1) x`);
    let delivered = 0;
    const deadline = Date.now() + 300_000;
    while (delivered < EVENTS && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      delivered = Number((await pool.query(`SELECT count(*) AS n FROM event_deliveries WHERE state = 'delivered'`)).rows[0].n);
    }
    const seconds = (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
    const after = await counters.snapshot();
    const attempts = Number((await pool.query(`SELECT sum(attempts) AS n FROM event_deliveries`)).rows[0].n);
    return {
      events: EVENTS,
      contacts: CONTACTS,
      endpoints: ENDPOINTS,
      delivered,
      attempts,
      seconds: Number(seconds.toFixed(2)),
      events_per_s: Math.round(delivered / seconds),
      cost_per_event: counters.cost(before, after, delivered, { deliveries: attempts }),
    };
  } finally {
    await counters.close();
    dispatcher.kill('SIGTERM');
    await once(dispatcher, 'exit');
    await receiver.stop();
    await pool.end();
  }
}
