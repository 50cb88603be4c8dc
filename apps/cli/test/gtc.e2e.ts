// e2e: the built `gtc` CLI (apps/cli/dist/main.js) against the built admin API and a Postgres database of its own.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient, PrismaClient } from '@gtc/db';
import { freePort, ownDatabase, runGtc, ServiceProcess, startService, testEnv } from '@gtc/testing';

const ADMIN_KEY = 'cli-e2e-admin-key-0123456789';
const APP_SECRET = 'cli-app-secret-123';

/** The provider page's answers.json, exactly, plus an app secret. */
const PAGE_ANSWERS = {
  'messaging-whatsapp': {
    enabled: true,
    public_base_url: 'https://your-domain.ngrok-free.app',
    phone_number_id: '123456789012345',
    access_token: 'EAAxxxxx...',
    verify_token: 'your-verify-token',
    business_account_id: '987654321098765',
    app_secret: APP_SECRET,
  },
};

const ON_BUTTON = `name: handle_button
version: "1.0"
nodes:
  - id: route_button
    type: branch
    config:
      conditions:
        - expression: "button.id == 'help'"
          next: show_help
        - expression: "button.id == 'status'"
          next: check_status
        - expression: "button.id == 'human'"
          next: escalate
      default: unknown
  - id: show_help
    type: reply
    config:
      message: "Here's how I can help..."
triggers:
  - type: interactive
    target: route_button
`;

let admin: ServiceProcess;
let sim: ServiceProcess;
let prisma: PrismaClient;
let work: string;
let dropDb: () => Promise<void>;

/** Runs gtc with the admin API's URL and key in the environment. */
function gtc(args: string[], env: Record<string, string> = {}) {
  return runGtc(args, work, { GTC_ADMIN_URL: admin.url, GTC_ADMIN_KEY: ADMIN_KEY, ...env });
}

function writeAnswers(name: string, section: Record<string, unknown>): string {
  const path = join(work, name);
  writeFileSync(path, JSON.stringify({ 'messaging-whatsapp': section }, null, 2));
  return path;
}

async function state() {
  return {
    tenants: await prisma.tenant.findMany({ orderBy: { slug: 'asc' }, select: { slug: true, updatedAt: true } }),
    teams: await prisma.team.findMany({ orderBy: { slug: 'asc' }, select: { slug: true, updatedAt: true } }),
    providers: await prisma.whatsAppProvider.findMany({ orderBy: { id: 'asc' }, select: { id: true, updatedAt: true, accessTokenEnc: true, appSecretEnc: true } }),
    flows: await prisma.flow.findMany({ orderBy: [{ name: 'asc' }, { revision: 'asc' }], select: { id: true, name: true, revision: true, active: true } }),
  };
}

beforeAll(async () => {
  const env = testEnv();
  const db = await ownDatabase('cli_e2e');
  dropDb = db.drop;
  // The admin API checks with the Graph API (graph-sim here) that a provider's token owns its number.
  sim = await startService('graph-sim', { REDIS_URL: env.redisUrl, REDIS_PREFIX: `${env.redisPrefix}-cli-e2e-sim` });
  for (const phone_number_id of [PAGE_ANSWERS['messaging-whatsapp'].phone_number_id, '555000111222', '555000333444']) {
    const reg = await fetch(`${sim.url}/sim/phone-numbers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ phone_number_id, access_token: PAGE_ANSWERS['messaging-whatsapp'].access_token, app_secret: APP_SECRET, webhook_url: 'http://127.0.0.1:9/none' }),
    });
    expect(reg.status).toBe(200);
  }
  admin = await startService('admin', {
    DATABASE_URL: db.url,
    REDIS_URL: env.redisUrl,
    REDIS_PREFIX: `${env.redisPrefix}-cli-e2e`,
    ADMIN_API_KEY: ADMIN_KEY,
    GRAPH_API_BASE_URL: sim.url,
  });
  prisma = createPrismaClient(db.url, { max: 2 });
  work = mkdtempSync(join(tmpdir(), 'gtc-cli-'));
});

afterAll(async () => {
  await prisma?.$disconnect();
  await admin?.stop();
  await sim?.stop();
  await dropDb?.();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('gtc setup', () => {
  it('refuses a missing phone_number_id by name, exit 1, nothing created', async () => {
    const rest: Record<string, unknown> = { ...PAGE_ANSWERS['messaging-whatsapp'] };
    delete rest.phone_number_id;
    const answers = writeAnswers('missing.json', rest);
    const r = await gtc(['setup', '--answers', answers, './missing-bundle']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/messaging-whatsapp\.phone_number_id: required: the WhatsApp phone number id/);
    expect(await prisma.tenant.count()).toBe(0);
  });

  it('names every invalid option with what is expected', async () => {
    const answers = writeAnswers('invalid.json', { ...PAGE_ANSWERS['messaging-whatsapp'], enabled: 'yes', public_base_url: 'ftp://x', tier: '9' });
    const r = await gtc(['setup', '--answers', answers, './x']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/messaging-whatsapp\.enabled: expected true or false/);
    expect(r.stderr).toMatch(/messaging-whatsapp\.public_base_url: expected a public http\(s\) URL/);
    expect(r.stderr).toMatch(/messaging-whatsapp\.tier: expected "1", "2", "3" or "unlimited"/);
    expect(await prisma.tenant.count()).toBe(0);
  });

  it('an invalid flow in the bundle: every error as file:line:col, exit 1, nothing changed', async () => {
    const bundle = join(work, 'bad-bundle');
    mkdirSync(join(bundle, 'flows'), { recursive: true });
    writeFileSync(join(bundle, 'flows', 'on_button.ygtc'), ON_BUTTON);
    writeFileSync(join(bundle, 'flows', 'welcome.ygtc'), 'name: welcome\nversion: "1.0"\nnodes:\n  - id: hi\n    type: reply\n    config:\n      message: "Hi"\n');
    writeFileSync(join(work, 'answers.json'), JSON.stringify(PAGE_ANSWERS, null, 2));
    const r = await gtc(['setup', '--answers', 'answers.json', './bad-bundle']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/flows\/on_button\.ygtc:\d+:\d+ .*check_status/);
    expect(r.stderr).toMatch(/flows\/on_button\.ygtc:\d+:\d+ .*escalate/);
    expect(r.stderr).toMatch(/flows\/on_button\.ygtc:\d+:\d+ .*unknown/);
    expect(r.stderr).toMatch(/nothing was changed/);
    expect(await prisma.tenant.count()).toBe(0);
    expect(await prisma.flow.count()).toBe(0);
  });

  it('with the page’s answers.json creates tenant, team, provider and the starter flow, and prints the callback URL', async () => {
    writeFileSync(join(work, 'answers.json'), JSON.stringify(PAGE_ANSWERS, null, 2));
    const r = await gtc(['setup', '--answers', 'answers.json', './my-bundle']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Callback URL: https://your-domain.ngrok-free.app/webhook/whatsapp/default/default');
    expect(r.stdout).toContain('Verify token: your-verify-token');
    expect(existsSync(join(work, 'my-bundle', 'flows', 'welcome.ygtc'))).toBe(true);

    const tenant = await prisma.tenant.findUniqueOrThrow({ where: { slug: 'default' } });
    const team = await prisma.team.findFirstOrThrow({ where: { tenantId: tenant.id, slug: 'default' } });
    const provider = await prisma.whatsAppProvider.findUniqueOrThrow({ where: { teamId: team.id } });
    expect(provider).toMatchObject({
      enabled: true,
      publicBaseUrl: 'https://your-domain.ngrok-free.app',
      phoneNumberId: '123456789012345',
      verifyToken: 'your-verify-token',
      businessAccountId: '987654321098765',
      apiVersion: 'v18.0',
      tier: '1',
      throughputMps: 80,
      ordering: 'delivered',
    });
    expect(provider.accessTokenEnc).not.toContain('EAAxxxxx');
    expect(provider.appSecretEnc).toBeTruthy();
    const flows = await prisma.flow.findMany({ where: { teamId: team.id } });
    expect(flows.map((f) => [f.name, f.revision, f.active])).toEqual([['welcome', 1, true]]);
  });

  it('a rerun changes nothing', async () => {
    const before = await state();
    const r = await gtc(['setup', '--answers', 'answers.json', './my-bundle']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Nothing changed/);
    expect(r.stdout).toContain('Callback URL: https://your-domain.ngrok-free.app/webhook/whatsapp/default/default');
    expect(await state()).toEqual(before);
  });

  it('a changed flow becomes a new revision; tenant and team come from flags or the bundle file', async () => {
    const welcome = join(work, 'my-bundle', 'flows', 'welcome.ygtc');
    writeFileSync(welcome, readFileSync(welcome, 'utf8').replace('How can I help you today?', 'What can we do for you?'));
    const r = await gtc(['setup', '--answers', 'answers.json', './my-bundle']);
    expect(r.code, r.stderr).toBe(0);
    expect((await prisma.flow.findMany({ orderBy: { revision: 'asc' } })).map((f) => [f.revision, f.active])).toEqual([
      [1, false],
      [2, true],
    ]);

    const other = join(work, 'acme-bundle');
    mkdirSync(join(other, 'flows'), { recursive: true });
    writeFileSync(join(other, 'bundle.json'), JSON.stringify({ tenant: 'acme', team: 'support' }));
    writeFileSync(join(other, 'flows', 'welcome.ygtc'), readFileSync(welcome, 'utf8'));
    const answers = writeAnswers('acme.json', { ...PAGE_ANSWERS['messaging-whatsapp'], phone_number_id: '555000111222', tier: 'unlimited' });
    const fromFile = await gtc(['setup', '--answers', answers, './acme-bundle']);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(fromFile.stdout).toContain('/webhook/whatsapp/acme/support');
    const flagged = await gtc(['setup', '--answers', answers, '--tenant', 'acme', '--team', 'sales', './acme-bundle']);
    expect(flagged.code).toBe(1); // the number is already connected to acme/support
    expect(flagged.stderr).toMatch(/already connected/);
  });
});

describe('gtc setup without an app secret', () => {
  it('says loudly that webhooks will be refused and how to add the secret; GTC_APP_SECRET or --app-secret adds it', async () => {
    const bundle = join(work, 'nosecret-bundle');
    mkdirSync(join(bundle, 'flows'), { recursive: true });
    writeFileSync(join(bundle, 'bundle.json'), JSON.stringify({ tenant: 'nosecret', team: 'support' }));
    const page: Record<string, unknown> = { ...PAGE_ANSWERS['messaging-whatsapp'], phone_number_id: '555000333444' };
    delete page.app_secret;
    const answers = writeAnswers('nosecret.json', page);
    const secretOf = async () => {
      const team = await prisma.team.findFirstOrThrow({ where: { slug: 'support', tenant: { slug: 'nosecret' } } });
      return (await prisma.whatsAppProvider.findUniqueOrThrow({ where: { teamId: team.id } })).appSecretEnc;
    };

    const bare = await gtc(['setup', '--answers', answers, './nosecret-bundle']);
    expect(bare.code, bare.stderr).toBe(0);
    expect(bare.stdout).toContain('Signatures: not configured');
    expect(bare.stderr).toContain('WARNING: no app secret is configured: ingress refuses every webhook from Meta (401)');
    for (const way of ['--app-secret <secret>', 'GTC_APP_SECRET=<secret>', '"app_secret" in the messaging-whatsapp section']) expect(bare.stderr).toContain(way);
    expect(await secretOf()).toBeNull();
    // gtc status names it too (and fails: this provider's webhooks cannot get through).
    const status = await gtc(['status', '--json', '--tenant', 'nosecret', '--team', 'support']);
    expect(status.code).toBe(1);
    expect(JSON.parse(status.stdout).provider).toEqual({ tenant: 'nosecret', team: 'support', signatures: 'not configured' });
    expect(status.stderr).toContain('no app secret');

    const fromEnv = await gtc(['setup', '--answers', answers, './nosecret-bundle'], { GTC_APP_SECRET: APP_SECRET });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    expect(fromEnv.stdout).toContain('Signatures: checked with the app secret');
    expect(fromEnv.stderr).not.toContain('WARNING');
    expect(await secretOf()).toBeTruthy();

    // The flag wins over the environment: the stored secret changes to the flag's.
    const before = await secretOf();
    const flagged = await gtc(['setup', '--answers', answers, '--app-secret', 'another-app-secret', './nosecret-bundle'], { GTC_APP_SECRET: APP_SECRET });
    expect(flagged.code, flagged.stderr).toBe(0);
    expect(await secretOf()).not.toBe(before);
  });
});

describe('gtc commands', () => {
  it('flows validate: file:line:col for a bad file (exit 1), ok for a good one (exit 0)', async () => {
    writeFileSync(join(work, 'on_button.ygtc'), ON_BUTTON);
    const bad = await gtc(['flows', 'validate', 'on_button.ygtc']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^on_button\.ygtc:\d+:\d+ .*check_status/m);
    const good = await gtc(['flows', 'validate', 'my-bundle/flows/welcome.ygtc']);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toMatch(/ok \(flow welcome/);
  });

  it('flows schema prints the JSON Schema editors use (the committed libs/flows/schema/ygtc.schema.json)', async () => {
    const res = await gtc(['flows', 'schema']);
    expect(res.code, res.stderr).toBe(0);
    const committed = JSON.parse(readFileSync(resolve(__dirname, '../../../libs/flows/schema/ygtc.schema.json'), 'utf8'));
    expect(JSON.parse(res.stdout)).toEqual(committed);
    expect(committed.required).toEqual(expect.arrayContaining(['name', 'version', 'nodes']));
  });

  it('usage errors exit 2; --help exits 0 on every command', async () => {
    expect((await gtc(['no-such-command'])).code).toBe(2);
    expect((await gtc(['setup', './b'])).code).toBe(2); // --answers is required
    expect((await gtc(['flows', 'validate'])).code).toBe(2);
    expect((await gtc([])).code).toBe(2);
    for (const cmd of [[], ['setup'], ['flows'], ['flows', 'validate'], ['flows', 'list'], ['status'], ['tenants', 'list'], ['messages', 'list']]) {
      const r = await gtc([...cmd, '--help']);
      expect(r.code, cmd.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/Usage: gtc/);
    }
  });

  it('lists tenants, flows and messages; clear errors for a wrong key or an unreachable admin API', async () => {
    const tenants = await gtc(['tenants', 'list']);
    expect(tenants.code).toBe(0);
    expect(tenants.stdout).toMatch(/^acme\s/m);
    expect(tenants.stdout).toMatch(/^default\s/m);
    const flows = await gtc(['flows', 'list', '--tenant', 'default', '--team', 'default']);
    expect(flows.stdout).toMatch(/welcome\s+1\.0\s+2\s+2\s+2/);
    const messages = await gtc(['messages', 'list', '--tenant', 'default', '--json']);
    expect(messages.code).toBe(0);
    expect(JSON.parse(messages.stdout)).toEqual({ data: [], next_cursor: null });

    const wrongKey = await gtc(['tenants', 'list'], { GTC_ADMIN_KEY: 'wrong-key-wrong-key' });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/refused the API key/);
    const port = await freePort();
    const down = await gtc(['tenants', 'list', '--json'], { GTC_ADMIN_URL: `http://127.0.0.1:${port}` });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`cannot reach the admin API at http://127.0.0.1:${port}`);
  });

  it('completion: bash (and zsh through it) completes commands, subcommands and options from the command tree; fish too; another shell exits 2', async () => {
    const script = await gtc(['completion', 'bash']);
    expect(script.code).toBe(0);
    const complete = (words: string[]) => {
      const r = spawnSync('bash', ['-c', `${script.stdout}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _gtc; echo "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
      return r.stdout.trim().split(' ');
    };
    expect(complete(['gtc', 'ev'])).toEqual(['events']);
    expect(complete(['gtc', 'events', 'endpoints', ''])).toEqual(['add', 'list', 'remove', '--help']);
    expect(complete(['gtc', 'status', '--t'])).toEqual(['--tenant', '--team']);
    expect(complete(['gtc', '--admin-url', 'http://x', 'messages', 'list', '--cur'])).toEqual(['--cursor']);
    expect((await gtc(['completion', 'zsh'])).stdout).toMatch(/^autoload -U \+X bashcompinit && bashcompinit\n/);
    expect((await gtc(['completion', 'fish'])).stdout).toContain("complete -c gtc -n '__fish_seen_subcommand_from endpoints' -a add");
    const bad = await gtc(['completion', 'tcsh']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('expected bash, zsh or fish');
  });

  it('pages every list: the --cursor its "(more: --cursor …)" hint names exists and gives the next page', async () => {
    for (const cmd of [['tenants', 'list'], ['teams'], ['contacts'], ['messages', 'list'], ['api-keys', 'list'], ['events', 'deliveries']]) {
      const help = await gtc([...cmd, '--help']);
      expect(help.stdout, cmd.join(' ')).toContain('--cursor <c>');
    }
    const created = await fetch(`${admin.url}/v1/tenants/default/teams`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ slug: 'second', name: 'Second' }),
    });
    expect(created.status).toBe(201);
    const page1 = JSON.parse((await gtc(['teams', '--tenant', 'default', '--limit', '1', '--json'])).stdout) as { data: { slug: string }[]; next_cursor: string | null };
    expect(page1.data).toHaveLength(1);
    expect(page1.next_cursor).toBeTruthy();
    const shown = await gtc(['teams', '--tenant', 'default', '--limit', '1']);
    expect(shown.stdout).toContain(`(more: --cursor ${page1.next_cursor})`);
    const next = await gtc(['teams', '--tenant', 'default', '--limit', '1', '--cursor', page1.next_cursor!, '--json']);
    expect(next.code, next.stderr).toBe(0);
    const page2 = JSON.parse(next.stdout) as { data: { slug: string }[]; next_cursor: string | null };
    expect(page2.data).toHaveLength(1);
    expect(page2.next_cursor).toBeNull();
    expect([page1.data[0].slug, page2.data[0].slug].sort()).toEqual(['default', 'second']);
  });

  it('follows the port variables: ADMIN_PORT for the admin API, <SERVICE>_PORT for status', async () => {
    const adminPort = new URL(admin.url).port;
    const listed = await gtc(['tenants', 'list', '--json'], { GTC_ADMIN_URL: '', ADMIN_PORT: adminPort });
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).data.map((t: { slug: string }) => t.slug)).toContain('default');
    const unused = String(await freePort());
    const status = await gtc(['status', '--json'], { GTC_ADMIN_URL: '', ADMIN_PORT: adminPort, GRAPH_SIM_PORT: new URL(sim.url).port, INGRESS_PORT: unused });
    const rows = JSON.parse(status.stdout) as Array<{ service: string; url: string; status: string }>;
    expect(rows.find((r) => r.service === 'admin')).toMatchObject({ url: `http://localhost:${adminPort}`, status: 'ok' });
    expect(rows.find((r) => r.service === 'graph-sim')).toMatchObject({ url: `http://localhost:${new URL(sim.url).port}`, status: 'ok' });
    expect(rows.find((r) => r.service === 'ingress')).toMatchObject({ url: `http://localhost:${unused}`, status: 'down' });
  });

  it('status: health of every service; exit 1 when one is down', async () => {
    const port = await freePort();
    const down = `http://127.0.0.1:${port}`;
    const r = await gtc(['status', '--json', '--ingress-url', down, '--graph-sim-url', down, '--flow-runner-url', down, '--sender-url', down, '--event-dispatcher-url', down]);
    expect(r.code).toBe(1);
    const rows = JSON.parse(r.stdout) as Array<{ service: string; status: string }>;
    expect(rows.map((x) => x.service)).toEqual(['ingress', 'admin', 'graph-sim', 'flow-runner', 'sender', 'event-dispatcher']);
    expect(rows.find((x) => x.service === 'admin')!.status).toBe('ok');
    expect(rows.filter((x) => x.status === 'down')).toHaveLength(5);
  });
});
