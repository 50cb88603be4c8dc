import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { envSchema, loadConfig, SERVICE_NODE_FLAGS } from '@gtc/config';

// Docker can't run on the build machines, so the compose file and Dockerfile are checked against the code instead.
const root = resolve(__dirname, '..');
const compose = parse(readFileSync(resolve(root, 'docker-compose.yml'), 'utf8'), { merge: true });
const prodText = readFileSync(resolve(root, 'docker-compose.prod.yml'), 'utf8');
const prod = parse(prodText, { merge: true });
const dockerfile = readFileSync(resolve(root, 'Dockerfile'), 'utf8');
// The services `docker compose up` starts; opt-in profiles (observability: test/observability.e2e.ts) are not among them.
const services: Record<string, any> = Object.fromEntries(Object.entries(compose.services).filter(([, s]: [string, any]) => !s.profiles));
const declared = new Set(Object.keys(envSchema.shape));
const defaults = envSchema.parse({});

/** The environment as compose resolves it from `vars`: null when compose refuses (a `${X:?…}` unset). */
const resolveEnv = (env: Record<string, string>, vars: Record<string, string>) => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    let refused = false;
    out[k] = String(v).replace(/\$\{(\w+)(:-|:\?)([^}]*)\}/g, (_, name: string, op: string, arg: string) => {
      if (vars[name]) return vars[name];
      if (op === ':?') refused = true;
      return op === ':-' ? arg : '';
    });
    if (refused) return null;
  }
  return out;
};

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
      expect(s.command, app).toEqual(['node', ...SERVICE_NODE_FLAGS, `apps/${app}/dist/main.js`]);
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
      // As compose resolves it with nothing set in the shell.
      const env = resolveEnv(services[app].environment, {})!;
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
    expect(services.migrate.command).toEqual(['node', 'libs/db/dist/migrate.cli.js']);
    expect(existsSync(resolve(root, 'libs/db/src/migrate.cli.ts'))).toBe(true);
    expect(services.migrate.depends_on.postgres.condition).toBe('service_healthy');
    for (const app of ['ingress', 'admin', 'flow-runner', 'sender', 'event-dispatcher']) {
      expect(services[app].depends_on.migrate.condition, app).toBe('service_completed_successfully');
      expect(services[app].depends_on.redis.condition, app).toBe('service_healthy');
    }
    expect(services.postgres.healthcheck).toBeDefined();
    expect(services.redis.healthcheck).toBeDefined();
  });

  it('is a development-mode demo: public keys only as the apps\' own loud development defaults', () => {
    for (const app of Object.keys(apps)) {
      const e = services[app].environment;
      expect(e.NODE_ENV, app).toBe('development');
      expect(e.SECRETS_KEY, app).toBe('${SECRETS_KEY:-}');
      expect(e.ADMIN_API_KEY, app).toBe('${ADMIN_API_KEY:-}');
      const c = loadConfig({ ...e, SECRETS_KEY: '', ADMIN_API_KEY: '' });
      expect(c.warnings.join('\n'), app).toMatch(/SECRETS_KEY is not set[\s\S]*ADMIN_API_KEY is not set/);
    }
  });

  it('runs Redis with AOF and noeviction, as BullMQ needs', () => {
    const cmd = services.redis.command.join(' ');
    expect(cmd).toContain('--appendonly yes');
    expect(cmd).toContain('--maxmemory-policy noeviction');
  });
});

describe('docker-compose.prod.yml', () => {
  const ps: Record<string, any> = prod.services;
  const prodApps = Object.keys(apps).filter((a) => a !== 'graph-sim');
  const example = Object.fromEntries(
    readFileSync(resolve(root, '.env.example'), 'utf8').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.split('=')[0], l.slice(l.indexOf('=') + 1)]),
  );
  const filled = { ...example, SECRETS_KEY: 'ab'.repeat(32), ADMIN_API_KEY: 'k'.repeat(40), POSTGRES_PASSWORD: 'pw', PUBLIC_BASE_URL: 'https://hooks.example.com' };

  it('runs the apps in production against Meta, without graph-sim or the demo', () => {
    expect(Object.keys(ps).sort()).toEqual(['admin', 'event-dispatcher', 'flow-runner', 'ingress', 'migrate', 'postgres', 'redis', 'sender'].sort());
    for (const app of prodApps) {
      const e = ps[app].environment;
      expect(ps[app].command, app).toEqual(['node', ...SERVICE_NODE_FLAGS, `apps/${app}/dist/main.js`]);
      expect(e.NODE_ENV, app).toBe('production');
      expect(e.GRAPH_API_BASE_URL, app).toBeUndefined();
      expect(e.DEMO_SEED, app).toBeUndefined();
      expect(e.EVENT_ALLOW_PRIVATE_NETWORKS, app).toBeUndefined();
      for (const key of Object.keys(e)) expect(declared.has(key), `${app}: ${key}`).toBe(true);
    }
    expect(ps.migrate.command).toEqual(['node', 'libs/db/dist/migrate.cli.js']);
  });

  it('refuses to start without real secrets, and every app boots with the ones .env.example asks for', () => {
    for (const name of ['SECRETS_KEY', 'ADMIN_API_KEY', 'POSTGRES_PASSWORD', 'PUBLIC_BASE_URL']) {
      expect(example, name).toHaveProperty(name);
      expect(prodText, name).toMatch(new RegExp(`\\$\\{${name}:\\?`));
      for (const app of prodApps) expect(resolveEnv(ps[app].environment, { ...filled, [name]: '' }), `${app} without ${name}`).toBeNull();
    }
    for (const app of prodApps) {
      const env = resolveEnv(ps[app].environment, filled)!;
      expect(() => loadConfig(env), app).not.toThrow();
      // The development keys are refused by the apps themselves.
      expect(() => loadConfig({ ...env, ADMIN_API_KEY: 'dev-admin-key-change-me-before-production' }), app).toThrow(/ADMIN_API_KEY/);
    }
  });
});

describe('Dockerfile', () => {
  it('names its syntax on line 1, pins pnpm to package.json\'s version, and runs production dependencies as a non-root user', () => {
    expect(dockerfile.split('\n')[0]).toBe('# syntax=docker/dockerfile:1');
    const pnpm = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')).packageManager.replace('pnpm@', '');
    expect(dockerfile).toContain(`npm install -g pnpm@${pnpm}`);
    expect(dockerfile).toMatch(/pnpm install --frozen-lockfile --prod/);
    const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/COPY --from=build --chown=node:node \/app \/app/);
    // Its default command runs ingress as compose runs every app: with the services' Node flags.
    const cmd = /^CMD (\[.*\])$/m.exec(runtime);
    expect(cmd && JSON.parse(cmd[1])).toEqual(['node', ...SERVICE_NODE_FLAGS, 'apps/ingress/dist/main.js']);
  });

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
