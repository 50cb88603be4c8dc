import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ownDatabase, testEnv } from '@gtc/testing';

// `pnpm start` on ports of its own (every port variable set), beside whatever else runs: the URLs it derives follow
// the ports (the demo's webhook reaches this ingress), and Ctrl-C (SIGINT to the process group) ends it with exit 0
// and no ELIFECYCLE noise. `--no-build`: the suite has built already, and a build would rewrite dist/ under the
// other tests.
const root = resolve(__dirname, '..');
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
