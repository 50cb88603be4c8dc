#!/usr/bin/env node
// `pnpm start`: builds, applies migrations (creating the database if missing), then runs every service as a local
// process against DATABASE_URL / REDIS_URL (defaults: local Postgres and Redis), with graph-sim standing in
// for Meta. Logs are interleaved, one prefix and colour per service. Ctrl-C stops everything.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const env = {
  LOG_PRETTY: 'true',
  GRAPH_API_BASE_URL: `http://127.0.0.1:${process.env.GRAPH_SIM_PORT ?? 3002}`,
  DEMO_SEED: 'true',
  // Local demo endpoints (a receiver on this machine) are reachable; production leaves this off.
  EVENT_ALLOW_PRIVATE_NETWORKS: 'true',
  ...process.env,
};
const services = [
  ['graph-sim', 35],
  ['ingress', 36],
  ['admin', 32],
  ['flow-runner', 33],
  ['sender', 34],
  ['event-dispatcher', 31],
];

// The build first (this script is `pnpm start` itself, so that Ctrl-C reaches it alone and it exits 0 when every
// service has stopped: no ELIFECYCLE noise from a shell between pnpm and it).
// `pnpm start --no-build` runs what is built.
if (!process.argv.includes('--no-build')) {
  process.stdout.write('building (Prisma client, then tsc -b for every app and lib; about 25 s the first time, seconds after)…\n');
  const build = spawnSync('pnpm', ['build'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

// Read after the build: the flags every service runs with (libs/config node-flags.ts).
const { SERVICE_NODE_FLAGS } = createRequire(import.meta.url)(resolve(root, 'libs/config/dist/index.js'));
const migrate = spawnSync(process.execPath, [resolve(root, 'libs/db/dist/migrate.cli.js')], { env, stdio: 'inherit' });
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

const width = Math.max(...services.map(([n]) => n.length));
const children = services.map(([name, colour]) => {
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, resolve(root, `apps/${name}/dist/main.js`)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = `\x1b[${colour}m${name.padEnd(width)} |\x1b[0m `;
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(prefix + line + '\n'));
  }
  child.on('exit', (code, signal) => {
    process.stdout.write(`${prefix}exited (${signal ?? code})\n`);
    if (!stopping) stop(code ?? 1);
  });
  return child;
});

let stopping = false;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  const force = setTimeout(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  }, 15_000);
  Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once('exit', r))))).then(() => {
    clearTimeout(force);
    process.exit(code);
  });
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
