// Shared pieces of the benchmarks: a database and a Redis server of their own, services from their build, and
// helper scripts (load generators, the bare baseline server) each in a process of its own.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
export const db = require(resolve(root, 'libs/db/dist/index.js'));
const { loadConfig, SERVICE_NODE_FLAGS } = require(resolve(root, 'libs/config/dist/index.js'));
const Redis = require(resolve(root, 'libs/queue/node_modules/ioredis'));

/** A free port on 127.0.0.1. */
export async function freePort() {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  s.close();
  await once(s, 'close');
  return port;
}

/** Percentile of a sorted array. */
export function pct(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** The most events within any window of `ms`. */
export function worstWindow(times, ms) {
  const t = [...times].sort((a, b) => a - b);
  let worst = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i] - t[j] >= ms) j++;
    worst = Math.max(worst, i - j + 1);
  }
  return worst;
}

/** Starts a redis-server of the bench's own (nothing kept on disk), so that its command counts and CPU are ours alone. */
async function ownRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => {}); // not up yet: retried below
    const up = await r.connect().then(() => r.ping()).then(() => true, () => false);
    r.disconnect();
    if (up) return { url, child };
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`redis-server on ${port} did not start`);
}

/**
 * An isolated environment: a database of its own, gtc_bench_<pid> (created, migrated, dropped at close; one a bench
 * that crashed left behind is dropped by the next), on the shared Postgres, and a redis-server of its own, so that
 * benches run side by side never touch each other's data. Every process it starts is listed by `processes()` for the counters.
 */
export async function benchEnvironment() {
  const base = process.env.DATABASE_URL ?? 'postgresql://localhost:5432/gtc';
  const url = new URL(base);
  url.pathname = `/gtc_bench_${process.pid}`;
  const databaseUrl = url.toString();
  const admin = new URL(db.withDefaultUser(base));
  admin.pathname = '/postgres';
  const { Client } = require(resolve(root, 'libs/db/node_modules/pg'));
  const c = new Client({ connectionString: admin.toString() });
  await c.connect();
  const { rows } = await c.query(`SELECT datname FROM pg_database WHERE datname ~ '^gtc_bench(_[0-9]+)?$'`);
  for (const { datname } of rows) {
    const pid = Number(datname.split('_')[2]);
    if (pid && pid !== process.pid && alive(pid)) continue;
    await c.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
  }
  await c.end();
  await db.ensureDatabase(databaseUrl);
  await db.applyMigrations(databaseUrl);
  const redis = await ownRedis();
  const redisUrl = redis.url;
  const redisPrefix = `gtc-bench-${Date.now().toString(36)}`;
  const prisma = db.createPrismaClient(databaseUrl);
  /** @type {{ name: string, child: import('node:child_process').ChildProcess }[]} */
  const children = [];
  return {
    databaseUrl,
    redisUrl,
    redisPrefix,
    redisPid: redis.child.pid,
    prisma,
    secrets: new db.SecretBox(loadConfig({}).secretsKey),
    /** Starts an app from its build; resolves when /health/live answers. */
    async start(app, env = {}) {
      const portVar = { ingress: 'INGRESS_PORT', 'flow-runner': 'FLOW_RUNNER_PORT', sender: 'SENDER_PORT', admin: 'ADMIN_PORT', 'graph-sim': 'GRAPH_SIM_PORT', 'event-dispatcher': 'EVENT_DISPATCHER_PORT' }[app];
      const port = await freePort();
      // BENCH_PROFILE=ingress,flow-runner,…: write a V8 CPU profile of those apps to bench-results/profiles/<app>.
      const profile = (process.env.BENCH_PROFILE ?? '').split(',').includes(app)
        ? ['--cpu-prof', `--cpu-prof-dir=${resolve(root, 'bench-results/profiles', app)}`]
        : [];
      // BENCH_NODE_ARGS: command-line flags for the apps under test, V8's included (NODE_OPTIONS refuses most of those).
      const args = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
      const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, ...args, ...profile, resolve(root, `apps/${app}/dist/main.js`)], {
        // BENCH_NODE_OPTIONS: Node options for the apps under test (e.g. heap limits), to measure their effect.
        env: { PATH: process.env.PATH, ...(process.env.BENCH_NODE_OPTIONS && { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS }), LOG_LEVEL: 'error', DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, REDIS_PREFIX: redisPrefix, ...env, [portVar]: String(port) },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push({ name: app, child });
      const url = `http://127.0.0.1:${port}`;
      for (let i = 0; i < 300; i++) {
        try {
          if ((await fetch(`${url}/health/live`)).ok) return { url, child, port, stop: () => stopChild(child) };
        } catch {
          /* starting */
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`${app} did not start`);
    },
    /**
     * Runs scripts/bench/<file> in a process of its own under `name`, with `input` as JSON in BENCH_INPUT. The script
     * writes one JSON object per stdout line; `next()` resolves with the next one (null once it has exited).
     */
    script(name, file, input) {
      const child = spawn(process.execPath, [resolve(root, 'scripts/bench', file)], {
        env: { PATH: process.env.PATH, BENCH_INPUT: JSON.stringify(input) },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push({ name, child });
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      return {
        child,
        async next() {
          const { value, done } = await lines.next();
          return done ? null : JSON.parse(value);
        },
        stop: () => stopChild(child),
      };
    },
    /** The live processes this environment started, as `{ name, pid }`. */
    processes() {
      return children.filter(({ child }) => child.exitCode === null && child.signalCode === null).map(({ name, child }) => ({ name, pid: child.pid }));
    },
    /** A tenant/team/provider with known secrets. */
    async provider(options = {}) {
      const id = Math.random().toString(36).slice(2, 8);
      const appSecret = `secret-${id}`;
      const accessToken = `EAA-${id}`;
      const phoneNumberId = String(100000000000 + Math.floor(Math.random() * 899999999999));
      const tenant = await prisma.tenant.create({ data: { slug: `bench-${id}`, name: 'Bench' } });
      const team = await prisma.team.create({ data: { tenantId: tenant.id, slug: 'support', name: 'Support' } });
      const p = await prisma.whatsAppProvider.create({
        data: {
          tenantId: tenant.id,
          teamId: team.id,
          publicBaseUrl: 'http://127.0.0.1',
          phoneNumberId,
          accessTokenEnc: this.secrets.encrypt(accessToken),
          appSecretEnc: this.secrets.encrypt(appSecret),
          verifyToken: 'v',
          tier: 'unlimited',
          throughputMps: options.throughputMps ?? 1_000_000,
          ordering: options.ordering ?? 'none',
        },
      });
      return { tenantId: tenant.id, teamId: team.id, providerId: p.id, tenantSlug: tenant.slug, teamSlug: 'support', appSecret, accessToken, phoneNumberId };
    },
    async close() {
      await Promise.all(children.map(({ child }) => stopChild(child)));
      await prisma.$disconnect();
      await stopChild(redis.child);
      const end = new Client({ connectionString: admin.toString() });
      await end.connect();
      await end.query(`DROP DATABASE IF EXISTS gtc_bench_${process.pid} WITH (FORCE)`);
      await end.end();
    },
  };
}

/** Whether a process with this pid runs (a bench database's owner). */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  // SIGTERM: a graceful stop, so CPU profiles are written.
  child.kill('SIGTERM');
  const done = await Promise.race([once(child, 'exit').then(() => true), new Promise((r) => setTimeout(() => r(false), 15_000))]);
  if (done) return;
  child.kill('SIGKILL');
  await once(child, 'exit');
}
