import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, ServiceProcess, startService, testEnv } from '@gtc/testing';

// /health reports Postgres and Redis truthfully, bad config stops a service by name, SIGTERM drains.
const { databaseUrl, redisUrl, redisPrefix } = testEnv();
const env = { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, REDIS_PREFIX: `${redisPrefix}-health` };
const started: ServiceProcess[] = [];
afterAll(async () => {
  await Promise.all(started.map((s) => s.kill()));
});

async function health(s: ServiceProcess) {
  const res = await fetch(`${s.url}/health`);
  return { code: res.status, body: (await res.json()) as { status: string; checks: Record<string, { status: string }> } };
}

describe('health and metrics', () => {
  it.each(['ingress', 'admin', 'flow-runner', 'sender'] as const)('%s is ready with Postgres and Redis up', async (app) => {
    const s = await startService(app, env);
    started.push(s);
    // Ready once its connections are up (a service is not ready before it has connected).
    await expect.poll(async () => (await health(s)).code, { timeout: 15_000 }).toBe(200);
    const h = await health(s);
    expect(h.body.checks).toMatchObject({ postgres: { status: 'up' }, redis: { status: 'up' } });
    const metrics = await fetch(`${s.url}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await metrics.text()).toContain(`process_cpu_user_seconds_total{service="${app}"}`);
  });

  it('graph-sim answers /health', async () => {
    const s = await startService('graph-sim', {});
    started.push(s);
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
  });

  it.each(['ingress', 'sender'] as const)('%s is not ready when Redis is unreachable', async (app) => {
    const deadPort = await freePort();
    const s = await startService(app, { ...env, REDIS_URL: `redis://127.0.0.1:${deadPort}` });
    started.push(s);
    await expect.poll(async () => (await health(s)).body.checks.postgres.status, { timeout: 15_000 }).toBe('up');
    const h = await health(s);
    expect(h.code).toBe(503);
    expect(h.body.status).toBe('error');
    expect(h.body.checks.redis.status).toBe('down');
    expect(h.body.checks.postgres.status).toBe('up');
  });

  it('is not ready when Postgres is unreachable', async () => {
    const deadPort = await freePort();
    const s = await startService('ingress', { ...env, DATABASE_URL: `postgresql://127.0.0.1:${deadPort}/gtc` });
    started.push(s);
    await expect.poll(async () => (await health(s)).body.checks.redis.status, { timeout: 15_000 }).toBe('up');
    const h = await health(s);
    expect(h.code).toBe(503);
    expect(h.body.checks.postgres.status).toBe('down');
    expect(h.body.checks.redis.status).toBe('up');
  });

  it.each(['admin', 'ingress', 'flow-runner', 'sender', 'event-dispatcher', 'graph-sim'] as const)(
    '%s starts in a few lines at info: no route or module listing, no Fastify warning',
    async (app) => {
      const s = await startService(app, { ...env, LOG_LEVEL: 'info' });
      started.push(s);
      await expect.poll(async () => (await health(s)).code, { timeout: 15_000 }).toBe(200);
      const lines = s.logs.filter((l) => l.trim());
      expect(lines.length, lines.join('\n')).toBeLessThanOrEqual(40);
      expect(lines.join('\n')).not.toMatch(/Mapped \{|dependencies initialized|FSTWRN/);
      expect(lines.join('\n')).toMatch(/listening on|started/);
    },
  );

  it('logs a line per request on the routes that want one, and none on the hot ones (ingress webhooks, graph-sim sends)', async () => {
    // At debug, every request that passes through the request logger leaves a line naming its URL.
    const requestLines = (s: ServiceProcess, path: string) => s.logs.filter((l) => l.includes('"req":') && l.includes(path));
    const ingress = await startService('ingress', { ...env, LOG_LEVEL: 'debug' });
    const sim = await startService('graph-sim', { LOG_LEVEL: 'debug' });
    started.push(ingress, sim);
    await expect.poll(async () => (await health(ingress)).code, { timeout: 15_000 }).toBe(200);
    const hook = `${ingress.url}/webhook/whatsapp/no-tenant/no-team`;
    expect((await fetch(`${hook}?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1`)).status).toBe(404);
    expect((await fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(404);
    expect((await fetch(`${sim.url}/sim/stats`)).status).toBe(200);
    expect((await fetch(`${sim.url}/v21.0/1555000/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
    await expect.poll(() => requestLines(sim, '/sim/stats').length).toBe(1);
    // Ingress has no request logger at all (a listed GET on the webhook's path would cost every POST): its
    // subscription check logs its own answer, without the URL (which carries the verify token).
    await expect.poll(() => ingress.logs.filter((l) => l.includes('subscription check for no-tenant/no-team refused (404)')).length).toBe(1);
    expect(requestLines(ingress, '/webhook/whatsapp')).toEqual([]);
    expect(requestLines(sim, '/messages')).toEqual([]);
  });

  it('drains and exits 0 on SIGTERM', async () => {
    const s = await startService('flow-runner', { ...env, LOG_LEVEL: 'info' });
    expect(await s.stop()).toBe(0);
    expect(s.logs.join('\n')).toContain('SIGTERM received');
  });
});

describe('configuration at boot', () => {
  it('stops with a message naming the bad variable', async () => {
    const child = spawn(process.execPath, [resolve(__dirname, '../apps/ingress/dist/main.js')], {
      env: { PATH: process.env.PATH, INGRESS_PORT: 'eighty', REDIS_URL: 'mysql://x' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(stderr).toContain('INGRESS_PORT');
    expect(stderr).toContain('REDIS_URL: must be a URL (redis: or rediss:)');
  });
});
