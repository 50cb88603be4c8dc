import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '@gtc/config';
import { createPrismaClient, PrismaClient, SecretBox } from '@gtc/db';
import {
  AppName,
  createTestProvider,
  inboundWebhook,
  installFlows,
  ownDatabase,
  postWebhook,
  ServiceProcess,
  startService,
  testEnv,
  TestProvider,
} from '@gtc/testing';

// The observability profile of docker-compose.yml (Prometheus + Grafana, files in ops/observability). Docker can't run
// here, so the compose file, Prometheus' scrape config and Grafana's provisioning are checked against each other, and
// the dashboard's queries against what the real services export once a message and an event have gone through them.
const root = resolve(__dirname, '..');
const ops = resolve(root, 'ops/observability');
const compose = parse(readFileSync(resolve(root, 'docker-compose.yml'), 'utf8'), { merge: true });
const services: Record<string, any> = compose.services;
const prometheusConfig = parse(readFileSync(resolve(ops, 'prometheus.yml'), 'utf8'));
const dashboardFile = resolve(ops, 'grafana/dashboards/gtc.json');
const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8'));

/** Every gtc app with the variable of the port it serves /metrics on. */
const apps: Record<AppName, string> = {
  ingress: 'INGRESS_PORT',
  admin: 'ADMIN_PORT',
  'graph-sim': 'GRAPH_SIM_PORT',
  'flow-runner': 'FLOW_RUNNER_PORT',
  sender: 'SENDER_PORT',
  'event-dispatcher': 'EVENT_DISPATCHER_PORT',
};
const workers: AppName[] = ['flow-runner', 'sender', 'event-dispatcher'];

/** A value as compose resolves it with nothing set in the shell (`${X:-default}` → default, `${X}` → ''). */
const unset = (v: unknown) =>
  String(v).replace(/\$\{\w+(?::-([^}]*))?\}/g, (_, fallback?: string) => fallback ?? '');

/** The host path a service mounts at `target` (short volume syntax, relative to the compose file). */
function mountedAt(service: any, target: string): string | undefined {
  for (const v of service.volumes ?? []) {
    const [source, at] = String(v).split(':');
    if (at === target) return resolve(root, source);
  }
  return undefined;
}

/** The provisioned Prometheus datasource (the only one). */
function provisionedDatasource(): any {
  const dir = mountedAt(services.grafana, '/etc/grafana/provisioning/datasources')!;
  const all = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .flatMap((f) => parse(readFileSync(resolve(dir, f), 'utf8')).datasources ?? []);
  expect(all).toHaveLength(1);
  return all[0];
}

/** Every non-row panel of the dashboard (rows' nested panels included). */
function panels(): any[] {
  const out: any[] = [];
  for (const p of dashboard.panels ?? []) {
    if (p.type === 'row') out.push(...(p.panels ?? []));
    else out.push(p);
  }
  return out;
}

/** Every PromQL expression of the dashboard, with the panel it is in. */
function expressions(): { panel: string; expr: string }[] {
  return panels().flatMap((p) =>
    (p.targets ?? []).map((t: any) => ({ panel: p.title as string, expr: String(t.expr ?? '') })),
  );
}

// --- A minimal PromQL reading: enough to name the series and the labels an expression uses. ---

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'and',
  'or',
  'unless',
  'inf',
  'nan',
]);
const GROUPING = /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g;

/** The series names an expression selects (identifiers that are not functions, keywords or label names). */
function seriesNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(GROUPING, ' ')
    .replace(/\$\{?\w+\}?/g, ' ')
    .replace(/\b(offset|@)\s+-?[\w.]+/g, ' ')
    .replace(/(^|[^\w.])\d+(\.\d+)?([eE][+-]?\d+)?/g, '$1 ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/[A-Za-z_:][\w:]*/g)) {
    if (KEYWORDS.has(m[0])) continue;
    if (
      bare
        .slice(m.index! + m[0].length)
        .trimStart()
        .startsWith('(')
    )
      continue; // a function or an aggregation
    names.add(m[0]);
  }
  return [...names];
}

/** The label names an expression groups by or matches on. */
function labelNames(expr: string): string[] {
  const labels = new Set<string>();
  for (const m of expr.matchAll(GROUPING))
    for (const l of m[2].split(',')) if (l.trim()) labels.add(l.trim());
  for (const m of expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').matchAll(/\{([^}]*)\}/g)) {
    for (const l of m[1].matchAll(/([A-Za-z_]\w*)\s*(=~|!~|!=|=)/g)) labels.add(l[1]);
  }
  return [...labels];
}

/** What a set of /metrics pages exports: each metric family's type, and the label names each sample name carries. */
interface Exported {
  types: Map<string, string>;
  labels: Map<string, Set<string>>;
}

function readExposition(pages: string[]): Exported {
  const types = new Map<string, string>();
  const labels = new Map<string, Set<string>>();
  for (const page of pages) {
    for (const line of page.split('\n')) {
      const type = /^# TYPE (\S+) (\S+)/.exec(line);
      if (type) types.set(type[1], type[2]);
      if (!line || line.startsWith('#')) continue;
      const sample = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s/.exec(line);
      if (!sample) continue;
      const set = labels.get(sample[1]) ?? new Set<string>();
      for (const l of (sample[2] ?? '').matchAll(/([A-Za-z_]\w*)="/g)) set.add(l[1]);
      labels.set(sample[1], set);
    }
  }
  return { types, labels };
}

/** Series Prometheus makes itself for every target. */
const PROMETHEUS_SERIES = new Set(['up']);
/** Labels Prometheus adds to every series of a target. */
const TARGET_LABELS = new Set(['job', 'instance']);

/** Whether a series name is exported: a family, or a histogram's (or summary's) _bucket/_sum/_count. */
function isExported(name: string, e: Exported): boolean {
  if (PROMETHEUS_SERIES.has(name) || e.types.has(name)) return true;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  const type = m && e.types.get(m[1]);
  return type === 'histogram' || (type === 'summary' && m![2] !== 'bucket');
}

/** What is wrong with an expression against what the services export: unknown series, labels no series of it has. */
function problems(
  expr: string,
  e: Exported,
): { unknownSeries: string[]; unknownLabels: string[]; unobserved: string[] } {
  const names = seriesNames(expr);
  // The brief's own reading too (gtc_*, process_*, nodejs_* words), so that the parser above can't skip one.
  for (const m of expr.matchAll(/\b(?:gtc|process|nodejs)_[a-z0-9_]+/g))
    if (!names.includes(m[0])) names.push(m[0]);
  const unknownSeries = names.filter((n) => !isExported(n, e));
  const observed = names.filter((n) => e.labels.has(n) || PROMETHEUS_SERIES.has(n));
  const unobserved = names.filter((n) => !observed.includes(n) && !unknownSeries.includes(n));
  // A label is checked against the samples seen; an expression none of whose series has samples yet can't be.
  const has = (l: string) =>
    observed.some((n) => (PROMETHEUS_SERIES.has(n) ? false : e.labels.get(n)!.has(l)));
  const unknownLabels = observed.length
    ? labelNames(expr).filter((l) => !TARGET_LABELS.has(l) && !has(l))
    : [];
  return { unknownSeries, unknownLabels, unobserved };
}

describe('observability profile in docker-compose.yml', () => {
  it('adds Prometheus and Grafana only under the "observability" profile, images pinned, on 9090 and 3003', () => {
    const profiled = Object.entries(services).filter(([, s]) => s.profiles);
    expect(profiled.map(([name]) => name).sort()).toEqual(['grafana', 'prometheus']);
    for (const [, s] of profiled) expect(s.profiles).toEqual(['observability']);
    expect(services.prometheus.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(services.grafana.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    expect(services.prometheus.ports).toEqual(['9090:9090']);
    expect(services.grafana.ports).toEqual(['3003:3000']);
  });

  it('runs Prometheus on ops/observability/prometheus.yml', () => {
    const flag = (services.prometheus.command as string[]).find((a) => a.startsWith('--config.file='));
    expect(flag).toBeDefined();
    expect(mountedAt(services.prometheus, flag!.slice('--config.file='.length))).toBe(
      resolve(ops, 'prometheus.yml'),
    );
  });

  it('gives Prometheus the token the apps get, and the workers a metrics server Prometheus can reach', () => {
    const expression = services.ingress.environment.METRICS_TOKEN;
    expect(expression).toMatch(/^\$\{METRICS_TOKEN:-.+\}$/); // overridable from the shell
    const mount = (services.prometheus.configs as any[]).find((c) => c.source === 'metrics_token');
    expect(mount?.target).toBeDefined();
    expect(compose.configs.metrics_token.content).toBe(expression);
    for (const app of Object.keys(apps) as AppName[]) {
      const env = services[app].environment;
      expect(env.METRICS_TOKEN, app).toBe(expression);
      // As the app reads it at boot: the default token is one the config accepts.
      expect(
        loadConfig(Object.fromEntries(Object.entries(env).map(([k, v]) => [k, unset(v)]))).env.METRICS_TOKEN,
        app,
      ).toBe(unset(expression));
    }
    for (const app of workers) expect(services[app].environment.METRICS_HOST, app).toBe('0.0.0.0');
    for (const job of prometheusConfig.scrape_configs) {
      expect(job.authorization, job.job_name).toEqual({ credentials_file: mount.target });
    }
  });

  it('scrapes every gtc service on the port compose gives it, every replica of the workers', () => {
    const jobs = new Map<string, any>(prometheusConfig.scrape_configs.map((j: any) => [j.job_name, j]));
    expect([...jobs.keys()].sort()).toEqual(Object.keys(apps).sort());
    for (const [app, portVar] of Object.entries(apps)) {
      const job = jobs.get(app);
      const port = Number(services[app].environment[portVar]);
      expect(port, app).toBeGreaterThan(0);
      expect(job.metrics_path ?? '/metrics', app).toBe('/metrics');
      expect(job.scheme ?? 'http', app).toBe('http');
      const targets: string[] = [
        ...(job.static_configs ?? []).flatMap((c: any) => c.targets),
        ...(job.dns_sd_configs ?? []).flatMap((c: any) => {
          expect(c.type, app).toBe('A');
          return c.names.map((n: string) => `${n}:${c.port}`);
        }),
      ];
      expect(targets, app).toEqual([`${app}:${port}`]);
    }
    // Scaled services: found by Docker's DNS, one A record per replica.
    for (const app of workers) expect(jobs.get(app).dns_sd_configs, app).toHaveLength(1);
  });

  it('provisions Grafana from ops/observability: the Prometheus datasource, the dashboards folder, anonymous viewers', () => {
    expect(mountedAt(services.grafana, '/etc/grafana/provisioning/datasources')).toBe(
      resolve(ops, 'grafana/provisioning/datasources'),
    );
    expect(mountedAt(services.grafana, '/etc/grafana/provisioning/dashboards')).toBe(
      resolve(ops, 'grafana/provisioning/dashboards'),
    );
    const ds = provisionedDatasource();
    expect(ds).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
    expect(ds.uid).toMatch(/^[\w-]+$/);

    const dir = resolve(ops, 'grafana/provisioning/dashboards');
    const providers = readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .flatMap((f) => parse(readFileSync(resolve(dir, f), 'utf8')).providers ?? []);
    expect(providers).toHaveLength(1);
    expect(providers[0].type).toBe('file');
    const source = mountedAt(services.grafana, providers[0].options.path);
    expect(source).toBe(resolve(ops, 'grafana/dashboards'));
    expect(statSync(source!).isDirectory()).toBe(true);
    expect(existsSync(resolve(source!, 'gtc.json'))).toBe(true);

    const env = services.grafana.environment;
    expect(env.GF_AUTH_ANONYMOUS_ENABLED).toBe('true');
    expect(env.GF_AUTH_ANONYMOUS_ORG_ROLE).toBe('Viewer');
    expect(env.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(`${providers[0].options.path}/gtc.json`);
  });
});

describe('the gtc dashboard (ops/observability/grafana/dashboards/gtc.json)', () => {
  it('is a dashboard with a uid and a title whose every panel queries the provisioned datasource', () => {
    expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
    expect(dashboard.title).toBeTruthy();
    const uid = provisionedDatasource().uid;
    const all = panels();
    expect(all.length).toBeGreaterThanOrEqual(10);
    const ids = [...all, ...dashboard.panels.filter((p: any) => p.type === 'row')].map((p: any) => p.id);
    expect(new Set(ids).size, 'panel ids are unique').toBe(ids.length);
    for (const p of all) {
      expect(p.title, JSON.stringify(p.gridPos)).toBeTruthy();
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      const refIds = p.targets.map((t: any) => t.refId);
      expect(new Set(refIds).size, p.title).toBe(refIds.length);
      for (const t of p.targets) {
        expect(t.expr, p.title).toMatch(/\S/);
        if (t.datasource) expect(t.datasource, p.title).toEqual({ type: 'prometheus', uid });
      }
    }
  });

  it('reads PromQL well enough to tell series from functions, keywords and labels', () => {
    expect(
      seriesNames(
        'histogram_quantile(0.99, sum by (le, code) (rate(gtc_webhook_ack_seconds_bucket{code="200"}[$__rate_interval])))',
      ),
    ).toEqual(['gtc_webhook_ack_seconds_bucket']);
    expect(
      seriesNames('sum(rate(a_total[5m])) / sum(rate(b_count[1h] offset 1d)) > 1e3 and on (job) up'),
    ).toEqual(['a_total', 'b_count', 'up']);
    expect(labelNames('sum by (tenant, state) (rate(x{queue=~"in.*", le!="1"}[5m]))').sort()).toEqual([
      'le',
      'queue',
      'state',
      'tenant',
    ]);
  });
});

// --- The real services: every series and label the dashboard asks for must be one they export. ---

const { redisUrl, redisPrefix } = testEnv();
/** The compose file's development token: what Prometheus presents in the demo. */
const token = unset(services.ingress.environment.METRICS_TOKEN);
/** An address of this machine other than loopback: a peer there is not trusted without the token, as Prometheus isn't. */
const external = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

const started = new Map<AppName, ServiceProcess>();
let db: { url: string; drop: () => Promise<void> } | undefined;
let prisma: PrismaClient | undefined;
let receiver: Server | undefined;
let received = 0;
/** The tenant the traffic goes through, and another tenant's number, paused (as the sender pauses on an auth error). */
let tenant: TestProvider;
let paused: TestProvider;
const PAUSED_REASON = 'auth (190): Error validating access token: Session has expired';

async function scrape(s: ServiceProcess): Promise<string> {
  const res = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status, s.name).toBe(200);
  return res.text();
}

async function exported(): Promise<Exported> {
  return readExposition(await Promise.all([...started.values()].map(scrape)));
}

/** The value of the sample of `name` with (at least) these labels on one /metrics page; undefined when there is none. */
function valueOf(page: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const m of page.matchAll(/^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)$/gm)) {
    if (m[1] !== name) continue;
    const has = new Map(
      [...(m[2] ?? '').matchAll(/([A-Za-z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => has.get(k) === v)) return Number(m[3]);
  }
  return undefined;
}

/** Polls until `missing` returns nothing; throws what is still missing (and the services' last lines) if it never does. */
async function until(missing: () => Promise<string[]>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let left = await missing(); left.length; left = await missing()) {
    if (Date.now() > deadline) {
      const tails = [...started.values()]
        .map((s) => `--- ${s.name}:\n${s.logs.slice(-10).join('\n')}`)
        .join('\n');
      throw new Error(`not seen after ${timeoutMs} ms: ${left.join(', ')}\n${tails}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function sim(path: string, body: unknown): Promise<void> {
  const res = await fetch(`${started.get('graph-sim')!.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.ok, `${path}: ${res.status} ${await res.text()}`).toBe(true);
}

/** Series that only exist once something rarely seen happens (no traffic of this test makes them). */
const RARE = new Set(['gtc_reconciled_jobs_total', 'gtc_ingress_nonconforming_total']);

describe('the dashboard against the real services', () => {
  beforeAll(async () => {
    db = await ownDatabase('observability');
    prisma = createPrismaClient(db.url);
    started.set('graph-sim', await startService('graph-sim', { METRICS_TOKEN: token }));
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: `${redisPrefix}-observability`,
      GRAPH_API_BASE_URL: started.get('graph-sim')!.url,
      // As in docker-compose.yml.
      METRICS_HOST: '0.0.0.0',
      METRICS_TOKEN: token,
      EVENT_ALLOW_PRIVATE_NETWORKS: 'true',
    };
    const rest: AppName[] = ['ingress', 'admin', 'flow-runner', 'sender', 'event-dispatcher'];
    for (const [i, s] of (await Promise.all(rest.map((app) => startService(app, env)))).entries())
      started.set(rest[i], s);

    // A tenant with the examples' flows, its number in graph-sim, and an event endpoint on a receiver of ours.
    const p: TestProvider = await createTestProvider(prisma);
    tenant = p;
    await installFlows(prisma, p);
    // Another tenant's number, paused before the admin's first scrape (its gauges read Postgres at most every 30 s).
    paused = await createTestProvider(prisma);
    await prisma.whatsAppProvider.update({
      where: { id: paused.providerId },
      data: { pausedAt: new Date(), pausedClass: 'auth', pausedCode: 190, pausedReason: PAUSED_REASON },
    });
    await sim('/sim/phone-numbers', {
      phone_number_id: p.phoneNumberId,
      access_token: p.accessToken,
      app_secret: p.appSecret,
      webhook_url: `${started.get('ingress')!.url}/webhook/whatsapp/${p.tenantSlug}/${p.teamSlug}`,
    });
    receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        received++;
        res.writeHead(200).end('ok');
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    const box = new SecretBox(loadConfig({}).secretsKey);
    await prisma.eventEndpoint.create({
      data: {
        tenantId: p.tenantId,
        url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`,
        events: ['*'],
        secretEnc: box.encrypt(`whsec_${randomBytes(24).toString('base64')}`),
      },
    });

    // One Graph API error (transient: retried), then a user writes "hi": webhook → flow → two replies → statuses → events.
    // The admin is scraped only once the replies went out, so that its first snapshot of Postgres counts them.
    await sim('/sim/config', { send_errors: [{ http_status: 500, code: 131000, count: 1 }] });
    await sim('/sim/inbound', {
      phone_number_id: p.phoneNumberId,
      from: '15557654321',
      name: 'Obs',
      text: 'hi',
    });
    await until(async () => {
      const text = (
        await Promise.all([...started.values()].filter((s) => s.name !== 'admin').map(scrape))
      ).join('\n');
      const wanted = [
        new RegExp(`^gtc_inbound_messages_total\\{[^}]*tenant="${p.tenantId}"`, 'm'),
        /^gtc_reply_seconds_count\{[^}]*\} [1-9]/m,
        /^gtc_webhooks_total\{[^}]*outcome="/m,
        /^gtc_webhook_ack_seconds_bucket\{[^}]*code="/m,
        /^gtc_flow_runs_total\{[^}]*outcome="/m,
        /^gtc_outbound_total\{[^}]*tenant="[^}]*state="sent"/m,
        /^gtc_send_retries_total\{[^}]*class="transient"/m,
        /^gtc_event_deliveries_total\{[^}]*outcome="delivered"/m,
      ];
      const unsent = await prisma!.outboundMessage.count({ where: { tenantId: p.tenantId, sentAt: null } });
      return [
        ...wanted.filter((re) => !re.test(text)).map(String),
        ...(received ? [] : ['an event at the receiver']),
        ...(unsent ? [`${unsent} replies not sent`] : []),
      ];
    });
  });

  afterAll(async () => {
    await Promise.all([...started.values()].map((s) => s.kill()));
    receiver?.closeAllConnections();
    await new Promise((r) => (receiver ? receiver.close(r) : r(undefined)));
    await prisma?.$disconnect();
    await db?.drop();
  });

  it('every series an expression uses is exported by a service, with the labels it groups or matches by', async () => {
    const e = await exported();
    const wrong: string[] = [];
    const unobserved = new Set<string>();
    for (const { panel, expr } of expressions()) {
      const p = problems(expr, e);
      if (p.unknownSeries.length)
        wrong.push(`${panel}: no service exports ${p.unknownSeries.join(', ')} (${expr})`);
      if (p.unknownLabels.length)
        wrong.push(`${panel}: no series of it has label ${p.unknownLabels.join(', ')} (${expr})`);
      for (const n of p.unobserved) unobserved.add(n.replace(/_(bucket|sum|count)$/, ''));
    }
    expect(wrong).toEqual([]);
    // Labels are checked on samples: only the rare series may have none yet.
    expect([...unobserved].filter((n) => !RARE.has(n))).toEqual([]);
  });

  it('a misspelt series or label is caught', async () => {
    const e = await exported();
    expect(problems('sum by (outcome) (rate(gtc_webhook_total[5m]))', e).unknownSeries).toEqual([
      'gtc_webhook_total',
    ]);
    expect(problems('sum(rate(gtc_outbound_total_bucket[5m]))', e).unknownSeries).toEqual([
      'gtc_outbound_total_bucket',
    ]);
    expect(problems('sum by (provider) (rate(gtc_outbound_total[5m]))', e).unknownLabels).toEqual([
      'provider',
    ]);
    expect(problems('process_resident_memory_byte', e).unknownSeries).toEqual([
      'process_resident_memory_byte',
    ]);
    // Every metric family the dashboard names, misspelt by one letter, is caught.
    const families = new Set(
      expressions().flatMap(({ expr }) =>
        [...expr.matchAll(/\b(?:gtc|process|nodejs)_[a-z0-9_]+/g)].map((m) => m[0]),
      ),
    );
    for (const f of families)
      expect(problems(`sum(${f.slice(0, -1)}x)`, e).unknownSeries, f).toEqual([`${f.slice(0, -1)}x`]);
  });

  it("times each reply from its message's arrival at ingress to the Graph API accepting it, once per reply (gtc_reply_seconds)", async () => {
    const replies = await prisma!.outboundMessage.count({
      where: { tenantId: tenant.tenantId, sentAt: { not: null } },
    });
    expect(replies).toBeGreaterThanOrEqual(2);
    // One of them was retried after the Graph API's 500: still observed once, when it went out.
    await expect
      .poll(async () => valueOf(await scrape(started.get('sender')!), 'gtc_reply_seconds_count'), {
        timeout: 5_000,
      })
      .toBe(replies);
    const sender = await scrape(started.get('sender')!);
    expect(valueOf(sender, 'gtc_reply_seconds_bucket', { le: '60' })).toBe(replies);
    const seconds = valueOf(sender, 'gtc_reply_seconds_sum')!;
    expect(seconds).toBeGreaterThan(0);
    expect(seconds / replies).toBeLessThan(60);
  });

  it('counts new inbound messages by tenant id on ingress, the tenant label the sender uses (gtc_inbound_messages_total)', async () => {
    const ingress = started.get('ingress')!;
    expect(valueOf(await scrape(ingress), 'gtc_inbound_messages_total', { tenant: tenant.tenantId })).toBe(
      await prisma!.inboundMessage.count({ where: { tenantId: tenant.tenantId } }),
    );
    expect(
      valueOf(await scrape(started.get('sender')!), 'gtc_outbound_total', {
        tenant: tenant.tenantId,
        state: 'sent',
      }),
    ).toBeGreaterThan(0);

    // Meta delivering the same webhook twice: one message recorded, one counted (the other tenant's number: no flows, no reply).
    const { body } = inboundWebhook(paused, '15550001111', { text: 'twice' });
    expect(await postWebhook(ingress.url, paused, body)).toBe(200);
    expect(await postWebhook(ingress.url, paused, body)).toBe(200);
    expect(await prisma!.inboundMessage.count({ where: { tenantId: paused.tenantId } })).toBe(1);
    expect(valueOf(await scrape(ingress), 'gtc_inbound_messages_total', { tenant: paused.tenantId })).toBe(1);
  });

  it("exports the admin's scrape-time gauges: tenants, paused numbers and why, tier usage as the stats API counts it, queue depths", async () => {
    const admin = started.get('admin')!;
    const page = await scrape(admin);
    expect(valueOf(page, 'gtc_tenant_info', { tenant: tenant.tenantId, slug: tenant.tenantSlug })).toBe(1);
    expect(valueOf(page, 'gtc_tenant_info', { tenant: paused.tenantId, slug: paused.tenantSlug })).toBe(1);
    expect(valueOf(page, 'gtc_provider_paused', { tenant: tenant.tenantId, team: tenant.teamSlug })).toBe(0);
    expect(valueOf(page, 'gtc_provider_paused', { tenant: paused.tenantId, team: paused.teamSlug })).toBe(1);
    expect(
      valueOf(page, 'gtc_provider_paused_info', {
        tenant: paused.tenantId,
        team: paused.teamSlug,
        class: 'auth',
        code: '190',
        reason: PAUSED_REASON,
      }),
    ).toBe(1);
    expect(valueOf(page, 'gtc_provider_paused_info', { tenant: tenant.tenantId })).toBeUndefined();
    for (const queue of ['inbound', 'outbound', 'status'])
      for (const state of ['waiting', 'delayed', 'active', 'failed'])
        expect(
          valueOf(page, 'gtc_queue_depth', { queue, state }),
          `${queue} ${state}`,
        ).toBeGreaterThanOrEqual(0);

    // The tier gauges are GET /v1/tenants/{tenant}/stats's limit_usage (the same counting), snapshot ≤ 30 s old.
    const gauges = async () => {
      const text = await scrape(admin);
      const labels = { tenant: tenant.tenantId, team: tenant.teamSlug };
      return {
        used: valueOf(text, 'gtc_tier_used', labels),
        limit: valueOf(text, 'gtc_tier_limit', { ...labels, tier: '1' }),
      };
    };
    const stats = async () => {
      const res = await fetch(`${admin.url}/v1/tenants/${tenant.tenantSlug}/stats`, {
        headers: { authorization: `Bearer ${loadConfig({}).adminApiKey}` },
      });
      expect(res.status).toBe(200);
      const usage = (
        (await res.json()) as {
          limit_usage: { team: string; tier_used: number; tier_limit: number | null }[];
        }
      ).limit_usage;
      const mine = usage.find((u) => u.team === tenant.teamSlug)!;
      return { used: mine.tier_used, limit: mine.tier_limit };
    };
    await expect
      .poll(
        async () => {
          const [g, api] = await Promise.all([gauges(), stats()]);
          return { same: JSON.stringify(g) === JSON.stringify(api), gauges: g, stats: api };
        },
        { timeout: 45_000, interval: 1_000 },
      )
      .toMatchObject({ same: true });
    const g = await gauges();
    expect(g.used).toBeGreaterThanOrEqual(2); // the replies, all sent before the first scrape
    expect(g.limit).toBe(loadConfig({}).env.TIER_LIMITS.split(',').map(Number)[0]);
  });

  it('every service exports its CPU and resident memory under its own service label', async () => {
    for (const [app, s] of started) {
      const text = await scrape(s);
      expect(text, app).toContain(`process_cpu_seconds_total{service="${app}"}`);
      expect(text, app).toMatch(new RegExp(`^process_resident_memory_bytes\\{service="${app}"\\} \\d`, 'm'));
    }
  });

  it.skipIf(!external)(
    'answers /metrics to a peer on another address only with the compose token, as Prometheus presents it',
    async () => {
      for (const [app, s] of started) {
        const url = `http://${external}:${s.port}/metrics`;
        expect((await fetch(url)).status, `${app} without a token`).toBe(401);
        expect(
          (await fetch(url, { headers: { authorization: 'Bearer not-the-token-at-all' } })).status,
          `${app} with another token`,
        ).toBe(401);
        const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
        expect(res.status, `${app} with the token`).toBe(200);
        expect(await res.text(), app).toContain('process_cpu_seconds_total');
      }
    },
  );
});
