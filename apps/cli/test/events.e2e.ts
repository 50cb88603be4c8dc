// e2e: `gtc events …` (the built CLI) against the built admin API and a Postgres database of its own.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient, eventRowId, PrismaClient, SecretBox } from '@gtc/db';
import { ownDatabase, runGtc, ServiceProcess, startService, testEnv } from '@gtc/testing';

const ADMIN_KEY = 'cli-events-admin-key-0123456789';
const SECRETS_KEY = 'ef'.repeat(32);

let admin: ServiceProcess;
let prisma: PrismaClient;
let work: string;
let dropDb: () => Promise<void>;
let globexKey: string;

/** Runs gtc with the admin API's URL and key in the environment. */
function gtc(args: string[], env: Record<string, string> = {}) {
  return runGtc(args, work, { GTC_ADMIN_URL: admin.url, GTC_ADMIN_KEY: ADMIN_KEY, ...env });
}

/** Calls the admin API with the admin key. */
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${admin.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

const counts = async () => ({ endpoints: await prisma.eventEndpoint.count(), events: await prisma.event.count(), deliveries: await prisma.eventDelivery.count() });

beforeAll(async () => {
  const env = testEnv();
  const db = await ownDatabase('cli_events');
  dropDb = db.drop;
  admin = await startService('admin', { DATABASE_URL: db.url, REDIS_URL: env.redisUrl, REDIS_PREFIX: `${env.redisPrefix}-cli-events`, ADMIN_API_KEY: ADMIN_KEY, SECRETS_KEY });
  prisma = createPrismaClient(db.url, { max: 2 });
  work = mkdtempSync(join(tmpdir(), 'gtc-cli-events-'));
  for (const t of ['acme', 'globex']) expect((await api('POST', '/v1/tenants', { slug: t })).status).toBe(201);
  expect((await api('POST', '/v1/tenants/acme/teams', { slug: 'support' })).status).toBe(201);
  globexKey = (await api('POST', '/v1/tenants/globex/api-keys', { name: 'globex' })).json.key;
});

afterAll(async () => {
  await prisma?.$disconnect();
  await admin?.stop();
  await dropDb?.();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('gtc events', () => {
  let endpointId: string;

  it('endpoints add prints the id and the signing secret once; list shows the endpoint, never the secret', async () => {
    const add = await gtc(['events', 'endpoints', 'add', 'https://crm.acme.example/hooks', '--tenant', 'acme', '--events', 'message.received, message.status', '--team', 'support', '--description', 'CRM']);
    expect(add.code, add.stderr).toBe(0);
    endpointId = /^id:\s+(\S+)$/m.exec(add.stdout)![1];
    const secret = /^secret:\s+(whsec_\S+)/m.exec(add.stdout)![1];
    expect(add.stdout).toMatch(/shown once/);
    const row = await prisma.eventEndpoint.findUniqueOrThrow({ where: { id: endpointId } });
    expect(row).toMatchObject({ url: 'https://crm.acme.example/hooks', events: ['message.received', 'message.status'], description: 'CRM', enabled: true });
    expect(new SecretBox(Buffer.from(SECRETS_KEY, 'hex')).decrypt(row.secretEnc)).toBe(secret);

    const all = await gtc(['events', 'endpoints', 'add', 'http://127.0.0.1:9/all', '--tenant', 'acme', '--events', '*', '--json']);
    expect(all.code, all.stderr).toBe(0);
    expect(JSON.parse(all.stdout)).toMatchObject({ url: 'http://127.0.0.1:9/all', events: ['*'], team: null, enabled: true, secret: expect.stringMatching(/^whsec_/) });

    const list = await gtc(['events', 'endpoints', 'list', '--tenant', 'acme']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+URL\s+EVENTS\s+TEAM\s+ENABLED/);
    expect(list.stdout).toMatch(new RegExp(`^${endpointId}\\s+https://crm\\.acme\\.example/hooks\\s+message\\.received,message\\.status\\s+support\\s+true`, 'm'));
    expect(list.stdout).toContain(JSON.parse(all.stdout).id);
    expect(list.stdout).not.toContain(secret);
    expect(list.stdout).not.toContain('whsec_');
    const json = await gtc(['events', 'endpoints', 'list', '--tenant', 'acme', '--json']);
    expect(JSON.parse(json.stdout).data).toHaveLength(2);
    expect(json.stdout).not.toContain('whsec_');
  });

  it('bad input exits 2 naming the field, and writes nothing', async () => {
    const before = await counts();
    const unknownType = await gtc(['events', 'endpoints', 'add', 'https://crm.example/h', '--tenant', 'acme', '--events', 'message.status,message.exploded']);
    expect(unknownType.code).toBe(2);
    expect(unknownType.stderr).toMatch(/events\[1\]: unknown event type/);
    const badUrl = await gtc(['events', 'endpoints', 'add', 'ftp://crm.example/h', '--tenant', 'acme', '--events', '*']);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toMatch(/url: must be an absolute http\(s\) URL/);
    const credentials = await gtc(['events', 'endpoints', 'add', 'https://me:pw@crm.example/h', '--tenant', 'acme', '--events', '*']);
    expect(credentials.code).toBe(2);
    expect(credentials.stderr).toMatch(/url: must not contain a user name or password/);
    const otherTeam = await gtc(['events', 'endpoints', 'add', 'https://crm.example/h', '--tenant', 'acme', '--events', '*', '--team', 'nope']);
    expect(otherTeam.code).toBe(2);
    expect(otherTeam.stderr).toMatch(/team: no team 'nope'/);
    for (const args of [
      ['events', 'endpoints', 'add', '--tenant', 'acme', '--events', '*'], // no url
      ['events', 'endpoints', 'add', 'https://crm.example/h', '--tenant', 'acme'], // no --events
      ['events', 'endpoints', 'add', 'https://crm.example/h', '--tenant', 'acme', '--events', ' , '],
      ['events', 'endpoints', 'add', 'https://crm.example/h', '--events', '*'], // no --tenant
      ['events', 'endpoints', 'remove', '--tenant', 'acme'],
      ['events', 'deliveries', '--tenant', 'acme'],
      ['events', 'deliveries', endpointId, '--tenant', 'acme', '--limit', '101'],
      ['events', 'deliveries', endpointId, '--tenant', 'acme', '--limit', 'ten'],
      ['events', 'deliveries', endpointId, '--tenant', 'acme', '--state', 'lost'],
      ['events', 'deliveries', endpointId, '--tenant', 'acme', '--cursor', 'bm9wZQ'],
      ['events', 'nope'],
    ]) {
      const r = await gtc(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
    }
    expect(await counts()).toEqual(before);
  });

  it('deliveries lists each event with its state, attempts and last error, newest first, page by page', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const ping = await api('POST', `/v1/tenants/acme/event-endpoints/${endpointId}/test`);
      expect(ping.status).toBe(202);
      ids.push(ping.json.id);
    }
    // The dispatcher tried the first one and gave up.
    const first = await prisma.eventDelivery.findFirstOrThrow({ where: { endpointId, eventId: eventRowId(ids[0])! } });
    const at = new Date();
    await prisma.eventDelivery.update({
      where: { id: first.id },
      data: {
        state: 'failed',
        attempts: 1,
        failedAt: at,
        lastAttemptAt: at,
        lastStatus: 503,
        lastError: 'HTTP 503',
        attemptLog: [{ at: at.toISOString(), status_code: 503, latency_ms: 42, error: 'HTTP 503' }],
      },
    });

    const r = await gtc(['events', 'deliveries', endpointId, '--tenant', 'acme']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+TYPE\s+STATE\s+ATTEMPT_COUNT\s+LAST_STATUS\s+LAST_ERROR\s+CREATED_AT$/);
    expect(lines[1]).toMatch(new RegExp(`^${ids[1]}\\s+ping\\s+pending\\s+0\\s+-\\s+-\\s`));
    expect(lines[2]).toMatch(new RegExp(`^${ids[0]}\\s+ping\\s+failed\\s+1\\s+503\\s+HTTP 503\\s`));

    const json = JSON.parse((await gtc(['events', 'deliveries', endpointId, '--tenant', 'acme', '--state', 'failed', '--json'])).stdout);
    expect(json.data).toHaveLength(1);
    expect(json.data[0]).toMatchObject({ id: ids[0], state: 'failed', attempts: [{ status_code: 503, latency_ms: 42, error: 'HTTP 503' }] });

    const page1 = await gtc(['events', 'deliveries', endpointId, '--tenant', 'acme', '--limit', '1']);
    expect(page1.stdout).toContain(ids[1]);
    const cursor = /\(more: --cursor (\S+)\)/.exec(page1.stdout)![1];
    const page2 = await gtc(['events', 'deliveries', endpointId, '--tenant', 'acme', '--limit', '1', '--cursor', cursor]);
    expect(page2.code, page2.stderr).toBe(0);
    expect(page2.stdout).toContain(ids[0]);
    expect(page2.stdout).not.toContain('(more:');

    const unknown = await gtc(['events', 'deliveries', '00000000-0000-4000-8000-000000000000', '--tenant', 'acme']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/404.*not found/);
  });

  it('a tenant key sees only its tenant: another tenant’s endpoints are not found (exit 1)', async () => {
    const list = await gtc(['events', 'endpoints', 'list', '--tenant', 'acme'], { GTC_ADMIN_KEY: globexKey });
    expect(list.code).toBe(1);
    expect(list.stderr).toMatch(/404/);
    const remove = await gtc(['events', 'endpoints', 'remove', endpointId, '--tenant', 'globex'], { GTC_ADMIN_KEY: globexKey });
    expect(remove.code).toBe(1);
    expect(remove.stderr).toMatch(/404/);
    const deliveries = await gtc(['events', 'deliveries', endpointId, '--tenant', 'globex'], { GTC_ADMIN_KEY: globexKey });
    expect(deliveries.code).toBe(1);
    expect(await prisma.eventEndpoint.count({ where: { id: endpointId } })).toBe(1);
    const own = await gtc(['events', 'endpoints', 'list', '--tenant', 'globex', '--json'], { GTC_ADMIN_KEY: globexKey });
    expect(own.code, own.stderr).toBe(0);
    expect(JSON.parse(own.stdout).data).toEqual([]);
  });

  it('endpoints remove deletes the endpoint with its deliveries; a second remove is not found (exit 1)', async () => {
    const r = await gtc(['events', 'endpoints', 'remove', endpointId, '--tenant', 'acme']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`endpoint ${endpointId} removed`);
    expect(await prisma.eventEndpoint.count({ where: { id: endpointId } })).toBe(0);
    expect(await prisma.eventDelivery.count({ where: { endpointId } })).toBe(0);
    const again = await gtc(['events', 'endpoints', 'remove', endpointId, '--tenant', 'acme']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/404/);
  });

  it('--help exits 0 on every events command', async () => {
    for (const cmd of [['events'], ['events', 'endpoints'], ['events', 'endpoints', 'add'], ['events', 'endpoints', 'list'], ['events', 'endpoints', 'remove'], ['events', 'deliveries']]) {
      const r = await gtc([...cmd, '--help']);
      expect(r.code, cmd.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/Usage: gtc/);
    }
  });
});
