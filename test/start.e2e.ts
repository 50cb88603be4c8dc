import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE_NODE_FLAGS } from '@gtc/config';
import { freePort, ownDatabase, testEnv } from '@gtc/testing';

// `pnpm start` on ports of its own (every port variable set), beside whatever else runs: the URLs it derives follow
// the ports (the demo's webhook reaches this ingress), and Ctrl-C (SIGINT to the process group) ends it with exit 0
// and no ELIFECYCLE noise. `--no-build`: the suite has built already, and a build would rewrite dist/ under the
// other tests.
const root = resolve(__dirname, '..');

/** The command lines of the processes in a process group that run an app's build, by app. */
function appCommandLines(group: number): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) !== group) continue;
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const app = /apps\/([a-z-]+)\/dist\/main\.js$/.exec(args[args.length - 1] ?? '')?.[1];
      if (app) out[app] = args.slice(1);
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

let db: { url: string; drop: () => Promise<void> };
const ports: Record<string, number> = {};

beforeAll(async () => {
  db = await ownDatabase('start_script');
  for (const name of ['INGRESS_PORT', 'ADMIN_PORT', 'GRAPH_SIM_PORT', 'FLOW_RUNNER_PORT', 'SENDER_PORT', 'EVENT_DISPATCHER_PORT']) ports[name] = await freePort();
});
afterAll(async () => {
  await db?.drop();
});

describe('pnpm start', () => {
  it('runs the demo on the ports it is given and stops cleanly on Ctrl-C', async () => {
    const { redisUrl, redisPrefix } = testEnv();
    const child = spawn('pnpm', ['start', '--no-build'], {
      cwd: root,
      detached: true, // its own process group, as a terminal gives it
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: db.url, REDIS_URL: redisUrl, REDIS_PREFIX: `${redisPrefix}-start`, LOG_PRETTY: 'false', ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const exited = once(child, 'exit');
    try {
      const up = async (port: number) => fetch(`http://127.0.0.1:${port}/health/live`).then((r) => r.ok, () => false);
      for (const port of Object.values(ports)) await expect.poll(() => up(port), { timeout: 60_000, interval: 500 }).toBe(true);
      // Every service runs with the services' Node flags, as compose runs them.
      const lines = appCommandLines(child.pid!);
      expect(Object.keys(lines).sort()).toEqual(['admin', 'event-dispatcher', 'flow-runner', 'graph-sim', 'ingress', 'sender']);
      for (const [app, args] of Object.entries(lines)) expect(args.slice(0, -1), app).toEqual([...SERVICE_NODE_FLAGS]);
      const sim = `http://127.0.0.1:${ports.GRAPH_SIM_PORT}`;
      // The seeded demo number answers "hi" through this stack's ingress (graph-sim was told its port).
      await expect
        .poll(async () => (await fetch(`${sim}/sim/inbound`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ phone_number_id: '100000000000001', from: '15550001111', text: 'hi' }) })).status, { timeout: 30_000, interval: 1_000 })
        .toBe(202);
      await expect
        .poll(async () => ((await (await fetch(`${sim}/sim/messages?to=15550001111`)).json()) as unknown[]).length, { timeout: 30_000, interval: 500 })
        .toBeGreaterThan(0);
    } finally {
      process.kill(-child.pid!, 'SIGINT');
      const [code] = await exited;
      expect(code, output.slice(-3000)).toBe(0);
    }
    const plain = output.replace(/\x1b\[[0-9;]*m/g, ''); // eslint-disable-line no-control-regex
    expect(plain).not.toContain('ELIFECYCLE');
    for (const app of ['ingress', 'admin', 'graph-sim', 'flow-runner', 'sender', 'event-dispatcher']) expect(plain).toMatch(new RegExp(`${app} +\\| exited \\(0\\)`));
  }, 180_000);
});
