// e2e: `gtc setup` changes nothing unless all of it applies, and reports what the server said (never a socket error).
import { createServer, IncomingMessage, Server } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient, PrismaClient } from '@gtc/db';
import { ownDatabase, runGtc, ServiceProcess, startService, testEnv } from '@gtc/testing';

const ADMIN_KEY = 'cli-atomic-admin-key-0123456789abcdef';
const PHONE = '555000111222333';
const TOKEN = 'EAAatomicTOKEN123';
const WELCOME = `name: welcome
version: "1.0"
nodes:
  - id: hello
    type: reply
    config:
      message: "Hello"
triggers:
  - type: message
    target: hello
`;

let admin: ServiceProcess;
let sim: ServiceProcess;
let prisma: PrismaClient;
let work: string;
let dropDb: () => Promise<void>;

function gtc(args: string[], adminUrl: string) {
  return runGtc(args, work, { GTC_ADMIN_URL: adminUrl, GTC_ADMIN_KEY: ADMIN_KEY });
}

function bundle(name: string, flowSource = WELCOME): string {
  mkdirSync(join(work, name, 'flows'), { recursive: true });
  writeFileSync(join(work, name, 'flows', 'welcome.ygtc'), flowSource);
  return `./${name}`;
}

function answers(name: string): string {
  const path = join(work, name);
  writeFileSync(
    path,
    JSON.stringify({
      'messaging-whatsapp': {
        enabled: true,
        public_base_url: 'https://example.com',
        phone_number_id: PHONE,
        access_token: TOKEN,
        verify_token: 'verify-me',
        business_account_id: '987654321098765',
        app_secret: 'atomic-app-secret',
      },
    }),
  );
  return path;
}

beforeAll(async () => {
  const env = testEnv();
  const db = await ownDatabase('cli_atomic');
  dropDb = db.drop;
  sim = await startService('graph-sim', { REDIS_URL: env.redisUrl, REDIS_PREFIX: `${env.redisPrefix}-cli-atomic-sim` });
  await fetch(`${sim.url}/sim/phone-numbers`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ phone_number_id: PHONE, access_token: TOKEN, app_secret: 'atomic-app-secret', webhook_url: 'http://127.0.0.1:9/none', waba_id: '987654321098765' }),
  });
  admin = await startService('admin', {
    DATABASE_URL: db.url,
    REDIS_URL: env.redisUrl,
    REDIS_PREFIX: `${env.redisPrefix}-cli-atomic`,
    ADMIN_API_KEY: ADMIN_KEY,
    GRAPH_API_BASE_URL: sim.url,
  });
  prisma = createPrismaClient(db.url, { max: 2 });
  work = mkdtempSync(join(tmpdir(), 'gtc-cli-atomic-'));
});

afterAll(async () => {
  await prisma?.$disconnect();
  await admin?.stop();
  await sim?.stop();
  await dropDb?.();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('gtc setup, all or nothing', () => {
  it('removes the tenant and team it created when the provider is refused, and says what the server answered', async () => {
    const first = await gtc(['setup', '--answers', answers('a.json'), '--tenant', 'first', bundle('first')], admin.url);
    expect(first.code, first.stderr).toBe(0);
    // The same number for another tenant is refused by the server after tenant and team would have been created.
    const second = await gtc(['setup', '--answers', answers('b.json'), '--tenant', 'second', bundle('second')], admin.url);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/the admin API answered 409 to PUT \/v1\/tenants\/second\/teams\/[a-z]+\/provider/);
    expect(second.stderr).toMatch(/nothing was changed/);
    expect(await prisma.tenant.findMany({ select: { slug: true } })).toEqual([{ slug: 'first' }]);
    expect(await prisma.team.count()).toBe(1);
    expect(await prisma.flow.count()).toBe(1);
  });

  it('reports a 413 the server answered before reading the whole body, not a broken pipe, and undoes its writes', async () => {
    // A stand-in admin API that accepts tenant, team and provider but refuses the flow upload at once and closes.
    const seen: string[] = [];
    const fake: Server = createServer((req: IncomingMessage, res) => {
      seen.push(`${req.method} ${req.url}`);
      const json = (status: number, body: unknown, close = false) => {
        res.writeHead(status, { 'content-type': 'application/json', ...(close ? { connection: 'close' } : {}) });
        res.end(JSON.stringify(body));
        if (close) req.socket.destroy();
      };
      if (req.method === 'GET') return json(404, { error: { code: 'not_found', message: 'not found' } });
      if (req.method === 'POST' && req.url!.endsWith('/flows')) {
        return json(413, { error: { code: 'payload_too_large', message: 'Request body is too large' } }, true);
      }
      req.resume();
      req.on('end', () => {
        if (req.method === 'PUT') return json(200, { webhook_url: 'https://example.com/x', verify_token: 'v', changed: true });
        json(req.method === 'DELETE' ? 204 : 201, {});
      });
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (fake.address() as { port: number }).port;
      // A valid flow large enough that the server's early answer meets a body still being written.
      const big = `${WELCOME}${'# padding line of a large but valid flow file\n'.repeat(9_000)}`;
      const r = await gtc(['setup', '--answers', answers('c.json'), '--tenant', 'third', bundle('third', big)], `http://127.0.0.1:${port}`);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/the admin API answered 413 to POST \/v1\/tenants\/third\/teams\/[a-z]+\/flows: Request body is too large/);
      expect(r.stderr).not.toMatch(/EPIPE|ECONNRESET|cannot reach/);
      expect(seen.at(-1)).toBe('DELETE /v1/tenants/third');
    } finally {
      fake.close();
    }
  });
});
