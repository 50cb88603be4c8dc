import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { envSchema, loadConfig } from '@gtc/config';

// Docker can't run on the build machines, so the compose file and Dockerfile are checked against the code instead.
const root = resolve(__dirname, '..');
const compose = parse(readFileSync(resolve(root, 'docker-compose.yml'), 'utf8'), { merge: true });
const dockerfile = readFileSync(resolve(root, 'Dockerfile'), 'utf8');
const services: Record<string, any> = compose.services;
const declared = new Set(Object.keys(envSchema.shape));
const defaults = envSchema.parse({});

const apps = {
  ingress: 'INGRESS_PORT',
  admin: 'ADMIN_PORT',
  'graph-sim': 'GRAPH_SIM_PORT',
  'flow-runner': 'FLOW_RUNNER_PORT',
  sender: 'SENDER_PORT',
  'event-dispatcher': 'EVENT_DISPATCHER_PORT',
} as const;

describe('docker-compose.yml', () => {
  it('has every service of the design', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['admin', 'event-dispatcher', 'flow-runner', 'graph-sim', 'ingress', 'migrate', 'postgres', 'redis', 'sender'].sort(),
    );
  });

  it('runs each app from its build with its port variable at the default port', () => {
    for (const [app, portVar] of Object.entries(apps)) {
      const s = services[app];
      expect(s.command, app).toEqual(['node', `apps/${app}/dist/main.js`]);
      expect(existsSync(resolve(root, `apps/${app}/src/main.ts`)), app).toBe(true);
      const port = String((defaults as Record<string, unknown>)[portVar]);
      expect(s.environment[portVar], app).toBe(port);
      expect(JSON.stringify(s.healthcheck.test), app).toContain(`127.0.0.1:${port}/health`);
    }
  });

  it('uses only environment variables the config schema declares', () => {
    for (const [name, s] of Object.entries(services)) {
      if (name === 'postgres') continue;
      for (const key of Object.keys(s.environment ?? {})) expect(declared.has(key), `${name}: ${key}`).toBe(true);
    }
  });

  it('starts every app with its own defaults: the configuration each one gets is valid as it boots', () => {
    for (const app of Object.keys(apps)) {
      // `${VAR:-default}` as compose resolves it with nothing set in the shell.
      const env = Object.fromEntries(
        Object.entries(services[app].environment as Record<string, string>).map(([k, v]) => [k, String(v).replace(/\$\{\w+:-([^}]*)\}/g, '$1')]),
      );
      expect(() => loadConfig(env), app).not.toThrow();
    }
  });

  it('publishes the fixed host ports and leaves sender scalable', () => {
    expect(services.ingress.ports).toEqual(['3000:3000']);
    expect(services.admin.ports).toEqual(['3001:3001']);
    expect(services['graph-sim'].ports).toEqual(['3002:3002']);
    expect(services.sender.ports).toBeUndefined();
    expect(services.sender.container_name).toBeUndefined();
  });

  it('points apps at graph-sim, Postgres and Redis of the stack', () => {
    for (const app of Object.keys(apps)) {
      const e = services[app].environment;
      expect(e.GRAPH_API_BASE_URL).toBe('http://graph-sim:3002');
      expect(new URL(e.DATABASE_URL).host).toBe('postgres:5432');
      expect(new URL(e.REDIS_URL).host).toBe('redis:6379');
    }
  });

  it('orders start-up with health conditions and a one-shot migration', () => {
    expect(services.migrate.command).toEqual(['pnpm', 'exec', 'prisma', 'migrate', 'deploy']);
    expect(services.migrate.depends_on.postgres.condition).toBe('service_healthy');
    for (const app of ['ingress', 'admin', 'flow-runner', 'sender', 'event-dispatcher']) {
      expect(services[app].depends_on.migrate.condition, app).toBe('service_completed_successfully');
      expect(services[app].depends_on.redis.condition, app).toBe('service_healthy');
    }
    expect(services.postgres.healthcheck).toBeDefined();
    expect(services.redis.healthcheck).toBeDefined();
  });

  it('runs Redis with AOF and noeviction, as BullMQ needs', () => {
    const cmd = services.redis.command.join(' ');
    expect(cmd).toContain('--appendonly yes');
    expect(cmd).toContain('--maxmemory-policy noeviction');
  });
});

describe('Dockerfile', () => {
  it('is one multi-stage build for every app', () => {
    const stages = [...dockerfile.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1]);
    expect(stages).toEqual(['base', 'deps', 'build', 'runtime']);
    expect(dockerfile).toMatch(/pnpm install --frozen-lockfile/);
    expect(dockerfile).toMatch(/RUN pnpm build/);
  });

  it('copies the manifest of every workspace package before installing', () => {
    const ws = ['apps/admin', 'apps/cli', 'apps/event-dispatcher', 'apps/flow-runner', 'apps/graph-sim', 'apps/ingress', 'apps/sender'];
    const libs = ['config', 'db', 'flows', 'observability', 'queue', 'testing', 'whatsapp'].map((l) => `libs/${l}`);
    for (const pkg of [...ws, ...libs]) {
      expect(existsSync(resolve(root, pkg, 'package.json')), pkg).toBe(true);
      expect(dockerfile, pkg).toContain(`COPY ${pkg}/package.json ${pkg}/`);
    }
  });

  it('ships the migrations and the Prisma CLI config used by the migrate service', () => {
    expect(existsSync(resolve(root, 'prisma.config.ts'))).toBe(true);
    expect(existsSync(resolve(root, 'prisma/migrations/migration_lock.toml'))).toBe(true);
    expect(readFileSync(resolve(root, '.dockerignore'), 'utf8')).not.toMatch(/^prisma/m);
  });
});

describe('README', () => {
  const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
  it('documents every environment variable and the two commands', () => {
    for (const name of declared) expect(readme, name).toContain(`| \`${name}\` |`);
    expect(readme).toContain('docker compose up');
    expect(readme).toContain('pnpm test');
  });
});
