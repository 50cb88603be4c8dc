// Browser tests of the operator console against the real stack: graph-sim (Meta), ingress, flow-runner, sender and
// admin (which serves the built console at /console), on a database of their own. Chromium is Debian's
// (/usr/bin/chromium), driven by playwright-core. Run after `pnpm build` (the console is a build of apps/console).
// Every test saves a screenshot under test-results/console/.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@gtc/config';
import { createPrismaClient, PrismaClient, SecretBox } from '@gtc/db';
import {
  createTestProvider,
  ownDatabase,
  ServiceProcess,
  Stack,
  startService,
  startStack,
  testEnv,
  type TestProvider,
} from '@gtc/testing';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../../..');
const DIST = resolve(HERE, '../dist');
const SHOTS = resolve(ROOT, 'test-results/console');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ADMIN_KEY = 'console-e2e-admin-key-0123456789abcdef';
const KEY_SLOT = 'gtc.console.key';
const ANA = '4915100000001';
const BRUNO = '4915100000002';
const BRUNO_BSUID = 'DE.13491208655302741918';
const CARLA = '4915100000003';
const LONG = '4915199990000';
const EVA = '4915100000005';
const FINN = '4915100000006';
/** The WhatsApp Business Account graph-sim gives a number registered without one. */
const GRAPH_SIM_WABA = '102290129340398';

const HELLO_FLOW = `name: hello
version: "1.0"
nodes:
  - id: greet
    type: reply
    config:
      message: "Welcome to gtc!"
    next: ask
  - id: ask
    type: reply
    config:
      interactive:
        type: button
        body:
          text: "What would you like to do?"
        action:
          buttons:
            - type: reply
              reply:
                id: "help"
                title: "Get Help"
            - type: reply
              reply:
                id: "human"
                title: "Talk to Human"
  - id: route
    type: branch
    config:
      conditions:
        - expression: "button.id == 'help'"
          next: help
        - expression: "button.id == 'human'"
          next: human
      default: greet
  - id: help
    type: reply
    config:
      message: "Here is how I can help."
  - id: human
    type: handoff
    config:
      reason: "asked for a person"
triggers:
  - type: message
    keyword: [hi, hello]
    target: greet
  - type: interactive
    target: route
`;

// `next: nowhere` names no node: line 9, column 17 of this file (the value of `next`).
const BROKEN_FLOW = `name: broken
version: "1.0"
nodes:
  - id: route
    type: branch
    config:
      conditions:
        - expression: "button.id == 'help'"
          next: nowhere
      default: route
triggers:
  - type: interactive
    target: route
`;

let stack: Stack;
let admin: ServiceProcess;
let prisma: PrismaClient;
let dropDb: () => Promise<void>;
let browser: Browser;
let A: TestProvider;
let B: TestProvider;
let sales: TestProvider;
let tenantKey: string;
let tenantKeyId: string;

async function api<T = any>(
  method: string,
  path: string,
  body?: unknown,
  key = ADMIN_KEY,
): Promise<{ status: number; json: T }> {
  const res = await fetch(`${admin.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T };
}

/** The simulated user writes to the number (graph-sim sends ingress a signed webhook, as Meta would). */
async function userWrites(
  p: TestProvider,
  from: string,
  name: string,
  text: string,
  extra: object = {},
): Promise<void> {
  await stack.sim('POST', '/sim/inbound', { phone_number_id: p.phoneNumberId, from, name, text, ...extra });
}

async function contactOf(tenant: string, waId: string): Promise<any> {
  const r = await api('GET', `/v1/tenants/${tenant}/contacts?wa_id=${waId}`);
  return r.json.data[0];
}

/** Polls until `check` holds (expect.poll only works inside a test). */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${stack.logTail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: resolve(SHOTS, `${name}.png`), fullPage: false });
}

/** A browser context of 1280×800 (or the given size) whose tab already holds the key, as after signing in. */
async function signedIn(
  key = ADMIN_KEY,
  viewport = { width: 1280, height: 800 },
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport });
  await context.addInitScript(
    ([slot, k]) => sessionStorage.getItem(slot) ?? sessionStorage.setItem(slot, k),
    [KEY_SLOT, key] as const,
  );
  const page = await context.newPage();
  return { context, page };
}

/** A second team (`sales`) of tenant A with its own number, written as the fixtures write one. */
async function addTeam(p: TestProvider, slug: string): Promise<TestProvider> {
  const box = new SecretBox(loadConfig({}).secretsKey);
  const phoneNumberId = String(100000000000000 + Math.floor(Math.random() * 899999999999999));
  const accessToken = `EAA${randomBytes(12).toString('hex')}`;
  const appSecret = randomBytes(16).toString('hex');
  const verifyToken = randomUUID();
  const team = await prisma.team.create({ data: { tenantId: p.tenantId, slug, name: 'Sales' } });
  const provider = await prisma.whatsAppProvider.create({
    data: {
      tenantId: p.tenantId,
      teamId: team.id,
      publicBaseUrl: 'http://127.0.0.1',
      phoneNumberId,
      accessTokenEnc: box.encrypt(accessToken),
      appSecretEnc: box.encrypt(appSecret),
      verifyToken,
      businessAccountId: GRAPH_SIM_WABA,
    },
  });
  return {
    ...p,
    teamId: team.id,
    providerId: provider.id,
    teamSlug: slug,
    phoneNumberId,
    accessToken,
    appSecret,
    verifyToken,
  };
}

/** 5,000 messages (2,500 each way, alternating, one second apart) with one contact, written straight as rows. */
async function longConversation(p: TestProvider): Promise<string> {
  const [{ id }] = await prisma.$queryRawUnsafe<{ id: string }[]>(
    `INSERT INTO contacts (tenant_id, provider_id, wa_id, profile_name, last_inbound_at, next_seq, updated_at)
     VALUES ($1::uuid, $2::uuid, $3, 'Long Talk', now() AT TIME ZONE 'UTC', 2501, now() AT TIME ZONE 'UTC') RETURNING id`,
    p.tenantId,
    p.providerId,
    LONG,
  );
  await prisma.$executeRawUnsafe(
    `INSERT INTO inbound_messages (tenant_id, provider_id, contact_id, wamid, type, payload, sent_at, received_at, state, processed_at)
     SELECT $1::uuid, $2::uuid, $3::uuid, 'wamid.long.in.' || i, 'text',
            jsonb_build_object('wamid', 'wamid.long.in.' || i, 'from', $4::text, 'type', 'text', 'rawType', 'text', 'known', true,
                               'timestamp', 0, 'text', 'long message ' || lpad((2 * i - 1)::text, 4, '0')),
            t, t, 'processed', t
     FROM generate_series(1, 2500) AS i, LATERAL (SELECT (now() AT TIME ZONE 'UTC') - make_interval(secs => 6000 - (2 * i - 1))) AS x(t)`,
    p.tenantId,
    p.providerId,
    id,
    LONG,
  );
  await prisma.$executeRawUnsafe(
    `INSERT INTO outbound_messages (tenant_id, provider_id, contact_id, seq, type, body, state, wamid, created_at, sent_at, delivered_at, read_at, updated_at)
     SELECT $1::uuid, $2::uuid, $3::uuid, i, 'text',
            jsonb_build_object('messaging_product', 'whatsapp', 'recipient_type', 'individual', 'to', $4::text, 'type', 'text',
                               'text', jsonb_build_object('body', 'long message ' || lpad((2 * i)::text, 4, '0'))),
            'read', 'wamid.long.out.' || i, t, t, t, t, t
     FROM generate_series(1, 2500) AS i, LATERAL (SELECT (now() AT TIME ZONE 'UTC') - make_interval(secs => 6000 - 2 * i)) AS x(t)`,
    p.tenantId,
    p.providerId,
    id,
    LONG,
  );
  return id;
}

beforeAll(async () => {
  if (!existsSync(resolve(DIST, 'index.html')))
    throw new Error(`the console is not built (${DIST}): run pnpm build`);
  if (!existsSync(CHROMIUM))
    throw new Error(
      `no Chromium at ${CHROMIUM}: apt-get install chromium (.ci/run does), or set CHROMIUM_PATH`,
    );
  mkdirSync(SHOTS, { recursive: true });
  const env = testEnv();
  const db = await ownDatabase('console_e2e');
  dropDb = db.drop;
  prisma = createPrismaClient(db.url);
  stack = await startStack({
    databaseUrl: db.url,
    redisUrl: env.redisUrl,
    redisPrefix: `${env.redisPrefix}-console`,
  });
  admin = await startService('admin', { ...stack.env, ADMIN_API_KEY: ADMIN_KEY });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });

  A = await createTestProvider(prisma);
  B = await createTestProvider(prisma);
  sales = await addTeam(A, 'sales');
  await Promise.all([stack.register(A), stack.register(B), stack.register(sales)]);
  const up = await api('POST', `/v1/tenants/${A.tenantSlug}/teams/${A.teamSlug}/flows`, {
    file_name: 'hello.ygtc',
    source: HELLO_FLOW,
  });
  expect(up.status, JSON.stringify(up.json)).toBe(201);
  const k = await api('POST', `/v1/tenants/${A.tenantSlug}/api-keys`, { name: 'console e2e' });
  expect(k.status).toBe(201);
  tenantKey = k.json.key;
  tenantKeyId = k.json.id;

  // Two conversations of tenant A, one of tenant B.
  await userWrites(A, ANA, 'Ana Test', 'hi');
  await userWrites(A, BRUNO, 'Bruno Other', 'hello', { user_id: BRUNO_BSUID });
  await userWrites(B, '4915100000009', 'Bea Elsewhere', 'hi');
  await until(
    async () =>
      (await api('GET', `/v1/tenants/${A.tenantSlug}/messages?direction=outbound&state=read`)).json.data
        .length === 4,
    'the four replies read',
  );
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await admin?.kill();
  await stack?.stop();
  await prisma?.$disconnect();
  await dropDb?.();
});

describe('operator console', () => {
  it('signs in with an admin key (keyboard only), picks the tenant and finds a contact by search', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${admin.url}/console/`);
    // The key field has the focus; Enter signs in.
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('key');
    await page.keyboard.type(ADMIN_KEY);
    await page.keyboard.press('Enter');
    await page.getByRole('link', { name: new RegExp(A.tenantSlug) }).click();
    await page.waitForURL(`**/console/${A.tenantSlug}/conversations`);
    // The key is in this tab's session storage, and nowhere in a cookie or the URL.
    expect(await page.evaluate((slot) => sessionStorage.getItem(slot), KEY_SLOT)).toBe(ADMIN_KEY);
    expect(await context.cookies()).toEqual([]);
    expect(page.url()).not.toContain(ADMIN_KEY);

    await page.getByRole('link', { name: /Bruno Other/ }).waitFor();
    await page.getByLabel('Search contacts').fill('Ana');
    await page.getByRole('link', { name: /Bruno Other/ }).waitFor({ state: 'detached' });
    await page.getByRole('link', { name: /Ana Test/ }).click();
    await page.getByRole('heading', { name: 'Ana Test' }).waitFor();
    const conversation = page.locator('.messages');
    await conversation.locator('article.bubble.in', { hasText: 'hi' }).waitFor();
    await conversation.locator('article.bubble.out', { hasText: 'Welcome to gtc!' }).waitFor();
    await conversation
      .locator('article.bubble.out', { hasText: 'What would you like to do?' })
      .getByText('Talk to Human')
      .waitFor();
    // The search by number finds the same contact.
    await page.getByLabel('Search contacts').fill('');
    await page.getByRole('link', { name: /Bruno Other/ }).waitFor();
    await page.getByLabel('Search contacts').fill(ANA.slice(-6));
    await page.getByRole('link', { name: /Bruno Other/ }).waitFor({ state: 'detached' });
    await page.getByRole('link', { name: /Ana Test/ }).waitFor();
    // And by BSUID.
    await page.getByLabel('Search contacts').fill(BRUNO_BSUID.slice(0, 10));
    await page.getByRole('link', { name: /Ana Test/ }).waitFor({ state: 'detached' });
    await page
      .getByRole('link', { name: new RegExp(`Bruno Other.*${BRUNO_BSUID.replace('.', '\\.')}`) })
      .waitFor();
    await page.getByLabel('Search contacts').fill('Ana');
    await page.getByRole('link', { name: /Ana Test/ }).waitFor();
    await shot(page, 'sign-in-and-search');
    await context.close();
  });

  it("shows a reply's status turning to read live, without reloading", async () => {
    // Carla's phone is off: her replies get `sent` only, until she comes back.
    await stack.sim('POST', '/sim/config', { offline: [CARLA] });
    await userWrites(A, CARLA, 'Carla Live', 'hi');
    await expect
      .poll(async () => (await contactOf(A.tenantSlug, CARLA))?.id, { timeout: 20_000 })
      .toBeTruthy();
    const carla = await contactOf(A.tenantSlug, CARLA);
    await expect
      .poll(
        async () =>
          (
            await api(
              'GET',
              `/v1/tenants/${A.tenantSlug}/messages?direction=outbound&contact=${carla.id}&state=sent`,
            )
          ).json.data.length,
        { timeout: 20_000 },
      )
      .toBe(1);

    const { context, page } = await signedIn();
    let navigations = 0;
    page.on('framenavigated', (f) => f === page.mainFrame() && navigations++);
    await page.goto(`${admin.url}/console/${A.tenantSlug}/conversations/${carla.id}`);
    const reply = page.locator('article.bubble.out', { hasText: 'Welcome to gtc!' });
    await reply.locator('.state', { hasText: 'sent' }).waitFor();
    await page.getByText('live', { exact: true }).waitFor();
    const before = navigations;

    await stack.sim('POST', '/sim/config', { offline: [] });
    await reply.locator('.state', { hasText: 'read' }).waitFor({ timeout: 20_000 });
    expect(await reply.getAttribute('data-state')).toBe('read');
    await reply.locator('.timeline', { hasText: 'delivered' }).waitFor();
    expect(navigations).toBe(before);
    await shot(page, 'status-turns-read-live');
    await context.close();
  });

  it('sends a message from the console and follows its status', async () => {
    const ana = await contactOf(A.tenantSlug, ANA);
    const { context, page } = await signedIn();
    await page.goto(`${admin.url}/console/${A.tenantSlug}/conversations/${ana.id}`);
    await page.getByText('live', { exact: true }).waitFor();
    const text = `Hello Ana, an operator here (${randomBytes(3).toString('hex')})`;
    await page.getByLabel('Message', { exact: true }).fill(text);
    await page.getByRole('button', { name: 'Send' }).click();
    const sent = page.locator('article.bubble.out', { hasText: text });
    await sent.waitFor();
    await sent.locator('.state', { hasText: 'read' }).waitFor({ timeout: 20_000 });
    // The user's phone got it.
    await expect
      .poll(async () =>
        (await stack.sim<any[]>('GET', `/sim/messages?to=${ANA}`)).some((m) => m.body?.text?.body === text),
      )
      .toBe(true);
    await shot(page, 'send-message');
    await context.close();
  });

  it('shows a handoff as it starts, releases it, and opts the contact out and in', async () => {
    const ana = await contactOf(A.tenantSlug, ANA);
    const { context, page } = await signedIn();
    await page.goto(`${admin.url}/console/${A.tenantSlug}/conversations/${ana.id}`);
    await page.getByText('live', { exact: true }).waitFor();
    const state = page.locator('.contact-state');
    await state.getByText('flow: idle').waitFor();
    // Ana presses "Talk to Human": the flow hands her over, and the page hears it on the live stream.
    await stack.sim('POST', '/sim/inbound', {
      phone_number_id: A.phoneNumberId,
      from: ANA,
      name: 'Ana Test',
      button_reply: { id: 'human', title: 'Talk to Human' },
    });
    await state.getByText('handoff: an operator has the conversation').waitFor({ timeout: 20_000 });
    await page.locator('article.bubble.in', { hasText: 'Talk to Human' }).waitFor();
    await shot(page, 'handoff-live');

    await state.getByRole('button', { name: 'Release handoff' }).click();
    await state.getByText('handoff: an operator has the conversation').waitFor({ state: 'detached' });
    expect((await contactOf(A.tenantSlug, ANA)).session.status).not.toBe('handoff');

    await state.getByRole('button', { name: 'Opt out' }).click();
    await state.locator('.badge', { hasText: /^opted out/ }).waitFor();
    expect(await page.getByLabel('Message', { exact: true }).isDisabled()).toBe(true);
    expect((await contactOf(A.tenantSlug, ANA)).opted_out).toBe(true);
    await state.getByRole('button', { name: 'Opt in' }).click();
    await state.getByRole('button', { name: 'Opt out' }).waitFor();
    expect(await page.getByLabel('Message', { exact: true }).isDisabled()).toBe(false);
    expect((await contactOf(A.tenantSlug, ANA)).opted_out).toBe(false);
    await context.close();
  });

  it('uploads a broken flow and shows its error at file:line:col', async () => {
    const { context, page } = await signedIn();
    await page.goto(`${admin.url}/console/${A.tenantSlug}/conversations`);
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Flows' }).click();
    await page.getByRole('heading', { name: 'Upload or paste a flow' }).waitFor();
    // The same source, checked by the API, gives the expected position.
    const check = await api('POST', `/v1/tenants/${A.tenantSlug}/teams/${A.teamSlug}/flows/validate`, {
      file_name: 'broken.ygtc',
      source: BROKEN_FLOW,
    });
    expect(check.status).toBe(400);
    const first = check.json.error.details[0];
    const where = `${first.file}:${first.line}:${first.column}`;
    expect(where).toBe('broken.ygtc:9:17');

    await page.getByLabel('File name').fill('broken.ygtc');
    await page.getByLabel('Flow source').fill(BROKEN_FLOW);
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.locator('.issues.error').getByText(where, { exact: true }).waitFor();
    await page.getByRole('alert').filter({ hasText: 'not stored' }).waitFor();
    // The outcome is brought into view and takes the focus.
    await expect
      .poll(() => page.evaluate(() => document.activeElement?.classList.contains('results')))
      .toBe(true);
    // Nothing was stored.
    expect(
      (await api('GET', `/v1/tenants/${A.tenantSlug}/teams/${A.teamSlug}/flows`)).json.data.map(
        (f: any) => f.name,
      ),
    ).toEqual(['hello']);
    await shot(page, 'broken-flow-error');
    await context.close();
  });

  it("opens a flow's graph: nodes, branch conditions on edges, triggers as entry points", async () => {
    const { context, page } = await signedIn();
    await page.goto(`${admin.url}/console/${A.tenantSlug}/flows`);
    await page.getByRole('link', { name: 'hello' }).click();
    const graph = page.locator('svg.flow-graph');
    await graph.waitFor();
    for (const id of ['greet', 'ask', 'route', 'help', 'human'])
      await graph.locator(`g.node[data-node-id="${id}"]`).waitFor();
    expect(await graph.locator('g.node-trigger').count()).toBe(2);
    await graph.locator('.edge-condition', { hasText: "button.id == 'help'" }).waitFor();
    await graph.locator('.edge-default', { hasText: 'default' }).waitFor();
    await page.getByText('revision 1', { exact: false }).first().waitFor();
    await shot(page, 'flow-graph');
    await context.close();
  });

  it('shows a paused number with its reason, a failed message with its reason, and resumes the number', async () => {
    // A free-form message to someone who never wrote fails (the 24-hour window is closed).
    const refused = await api('POST', `/v1/tenants/${A.tenantSlug}/messages`, {
      team: 'sales',
      to: '4915100000078',
      content: { message: 'Hello stranger' },
    });
    expect(refused.status).toBe(201);
    await expect
      .poll(
        async () =>
          (await api('GET', `/v1/tenants/${A.tenantSlug}/messages/${refused.json.message.id}`)).json.state,
        { timeout: 20_000 },
      )
      .toBe('failed');
    // Dora writes to the sales number, then Meta refuses the number's token (190) for the answer: the sender pauses the
    // number and keeps the message queued.
    await userWrites(sales, '4915100000077', 'Dora Sales', 'prices?');
    await expect
      .poll(async () => (await contactOf(A.tenantSlug, '4915100000077'))?.window_open, { timeout: 20_000 })
      .toBe(true);
    await stack.sim('POST', '/sim/config', {
      send_errors: [
        {
          code: 190,
          message: 'Error validating access token: Session has expired',
          count: 1,
          phone_number_id: sales.phoneNumberId,
        },
      ],
    });
    const sent = await api('POST', `/v1/tenants/${A.tenantSlug}/messages`, {
      team: 'sales',
      to: '4915100000077',
      content: { message: 'Our offer' },
    });
    expect(sent.status).toBe(201);
    await expect
      .poll(async () => (await api('GET', `/v1/tenants/${A.tenantSlug}/teams/sales/provider`)).json.paused, {
        timeout: 20_000,
      })
      .toBe(true);

    const { context, page } = await signedIn();
    await page.goto(`${admin.url}/console/${A.tenantSlug}/numbers`);
    const card = page.locator('section.number', { has: page.getByRole('heading', { name: /Sales/ }) });
    await card.locator('.badge', { hasText: /^paused$/ }).waitFor();
    await card.getByText(/Reason: .*Session has expired/).waitFor();
    await card.getByText(/Meta error 190/).waitFor();
    await card
      .locator('details.failed')
      .getByText(/window is closed/)
      .waitFor();
    // Its usage: the tier over the moving 24 h, the queue (the message held by the pause), the minutes chart.
    await card.getByText(/^Tier 1: \d+ of [\d,.]+ in the last 24 h$/).waitFor();
    await card.locator('.counts div', { hasText: 'queued' }).locator('dd', { hasText: /^1$/ }).waitFor();
    await card
      .locator('.counts div', { hasText: 'failed (24 h)' })
      .locator('dd', { hasText: /^1$/ })
      .waitFor();
    expect(await card.locator('figure.chart svg rect.bar-sent').count()).toBe(15);
    // The other number sends.
    await page
      .locator('section.number', { has: page.getByRole('heading', { name: /Support/ }) })
      .locator('.badge', { hasText: /^sending$/ })
      .waitFor();
    await shot(page, 'paused-number');

    await card.getByRole('button', { name: 'Resume sending' }).click();
    await card.locator('.badge', { hasText: /^sending$/ }).waitFor();
    await expect
      .poll(async () => (await api('GET', `/v1/tenants/${A.tenantSlug}/teams/sales/provider`)).json.paused)
      .toBe(false);
    await context.close();
  });

  it("renders each kind of message as WhatsApp shows it, and a failed one with Meta's error", async () => {
    // Eva sends a photo, a place and a list choice; Finn's phone refuses what we send (graph-sim: failed, 131026).
    await stack.sim('POST', '/sim/config', { fail: { recipients: [FINN] } });
    const from = (body: object) =>
      stack.sim('POST', '/sim/inbound', {
        phone_number_id: sales.phoneNumberId,
        from: EVA,
        name: 'Eva Kinds',
        ...body,
      });
    await from({ image: { caption: 'Photo of the receipt', mime_type: 'image/png' } });
    await from({
      location: { latitude: 52.52, longitude: 13.405, name: 'Office', address: 'Alexanderplatz 1' },
    });
    await from({ list_reply: { id: 'billing', title: 'Billing', description: 'Payment and invoices' } });
    await userWrites(sales, FINN, 'Finn Fail', 'hello?');
    await expect
      .poll(async () => (await contactOf(A.tenantSlug, EVA))?.window_open, { timeout: 20_000 })
      .toBe(true);
    await expect
      .poll(async () => (await contactOf(A.tenantSlug, FINN))?.window_open, { timeout: 20_000 })
      .toBe(true);
    expect((await api('POST', `/v1/tenants/${A.tenantSlug}/teams/sales/templates/sync`)).status).toBe(200);

    const send = async (to: string, content: object) => {
      const r = await api('POST', `/v1/tenants/${A.tenantSlug}/messages`, { team: 'sales', to, content });
      expect(r.status, JSON.stringify(r.json)).toBe(201);
    };
    await send(EVA, {
      interactive: {
        type: 'list',
        header: { type: 'text', text: 'Support Menu' },
        body: { text: 'Please select an option:' },
        action: {
          button: 'View Options',
          sections: [
            {
              title: 'Support',
              rows: [{ id: 'billing', title: 'Billing', description: 'Payment and invoices' }],
            },
          ],
        },
      },
    });
    await send(EVA, {
      media: {
        type: 'document',
        link: 'https://example.com/invoice.pdf',
        filename: 'invoice.pdf',
        caption: 'Your invoice',
      },
    });
    await send(EVA, {
      location: { latitude: 48.8584, longitude: 2.2945, name: 'Our shop', address: 'Champ de Mars' },
    });
    await send(EVA, {
      template: {
        name: 'order_confirmation',
        language: 'en',
        components: [
          {
            type: 'body',
            parameters: [
              { type: 'text', text: 'Eva' },
              { type: 'text', text: 'A-1042' },
            ],
          },
        ],
      },
    });
    await send(FINN, { message: 'Your parcel is on its way' });

    // A tall window, so that the screenshot holds the whole conversation.
    const { context, page } = await signedIn(ADMIN_KEY, { width: 1280, height: 1500 });
    const eva = await contactOf(A.tenantSlug, EVA);
    await page.goto(`${admin.url}/console/${A.tenantSlug}/conversations/${eva.id}`);
    const list = page.locator('.messages');
    // The photo, fetched with the key into a blob URL.
    const photo = list.locator('article.bubble.in img[alt="Photo of the receipt"]');
    await photo.waitFor();
    expect(await photo.getAttribute('src')).toMatch(/^blob:/);
    await expect.poll(() => photo.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
    await list
      .locator('article.bubble.in', { hasText: 'Office' })
      .getByRole('link', { name: '52.52000, 13.40500' })
      .waitFor();
    await list.locator('article.bubble.in', { hasText: 'Billing' }).waitFor();
    const menu = list.locator('article.bubble.out', { hasText: 'Please select an option:' });
    await menu.getByText('Support Menu').waitFor();
    await menu.getByText('View Options').click();
    await menu.getByText('Payment and invoices').waitFor();
    await list
      .locator('article.bubble.out', { hasText: 'Your invoice' })
      .getByRole('link', { name: 'invoice.pdf' })
      .waitFor();
    await list
      .locator('article.bubble.out', { hasText: 'Our shop' })
      .getByRole('link', { name: '48.85840, 2.29450' })
      .waitFor();
    const template = list.locator('article.bubble.out', {
      hasText: 'Hi Eva, your order A-1042 is confirmed.',
    });
    await template.locator('.state', { hasText: 'read' }).waitFor({ timeout: 20_000 });
    await shot(page, 'message-kinds');

    const finn = await contactOf(A.tenantSlug, FINN);
    await page.goto(`${admin.url}/console/${A.tenantSlug}/conversations/${finn.id}`);
    const failed = page.locator('article.bubble.out', { hasText: 'Your parcel is on its way' });
    await failed.locator('.state', { hasText: 'failed' }).waitFor({ timeout: 20_000 });
    await failed.locator('.msg-error', { hasText: '131026' }).waitFor();
    await stack.sim('POST', '/sim/config', { fail: { recipients: [] } });
    await shot(page, 'failed-with-meta-error');
    await context.close();
  });

  it("a tenant key sees its own tenant only: another tenant's pages are not found", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${admin.url}/console/`);
    await page.getByLabel('API key').fill(tenantKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // GET /v1/tenants is refused to a tenant key: the form asks for the tenant.
    await page.getByRole('alert').filter({ hasText: 'tenant key' }).waitFor();
    await page.getByLabel(/Tenant/).fill(A.tenantSlug);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`**/console/${A.tenantSlug}/conversations`);
    await page.getByRole('link', { name: /Ana Test/ }).waitFor();

    // Another tenant: its pages, its contact's conversation.
    const bea = (await api('GET', `/v1/tenants/${B.tenantSlug}/contacts`)).json.data[0];
    for (const path of [
      `/console/${B.tenantSlug}/conversations`,
      `/console/${B.tenantSlug}/numbers`,
      `/console/${B.tenantSlug}/conversations/${bea.id}`,
    ]) {
      await page.goto(`${admin.url}${path}`);
      await page.getByRole('heading', { name: 'Not found' }).waitFor();
      expect(await page.getByText('Bea Elsewhere').count()).toBe(0);
    }
    // Its contact under this tenant's own pages is not found either (the API answers 404).
    await page.goto(`${admin.url}/console/${A.tenantSlug}/conversations/${bea.id}`);
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
    await page.goto(`${admin.url}/console/${B.tenantSlug}/conversations`);
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
    await shot(page, 'tenant-key-other-tenant-not-found');

    // Sign out: the key leaves the tab.
    await page.goto(`${admin.url}/console/${A.tenantSlug}/conversations`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(await page.evaluate((slot) => sessionStorage.getItem(slot), KEY_SLOT)).toBeNull();

    // A key revoked while the page is open: the next answer is a 401, and the page returns to sign-in.
    await page.getByLabel('API key').fill(tenantKey);
    await page.getByLabel(/Tenant/).fill(A.tenantSlug);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: /Ana Test/ }).waitFor();
    expect((await api('DELETE', `/v1/tenants/${A.tenantSlug}/api-keys/${tenantKeyId}`)).status).toBeLessThan(
      300,
    );
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Numbers' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(new URL(page.url()).searchParams.get('next')).toBe(`/${A.tenantSlug}/numbers`);
    expect(await page.evaluate((slot) => sessionStorage.getItem(slot), KEY_SLOT)).toBeNull();
    await context.close();
  });

  it('renders a conversation of 5,000 messages virtualized and loads older pages on scrolling up', async () => {
    const id = await longConversation(A);
    const { context, page } = await signedIn();
    // Older pages (with a cursor) are held until the test has seen what is at the top, then let through.
    const held: Array<{ continue: () => Promise<void> }> = [];
    await page.route(
      (url) => url.pathname.endsWith('/conversation') && url.searchParams.has('cursor'),
      (route) => void held.push(route),
    );
    await page.goto(`${admin.url}/console/${A.tenantSlug}/conversations/${id}`);
    const list = page.locator('.messages');
    await list.locator('article', { hasText: 'long message 5000' }).waitFor();
    const inDom = () => list.locator('article[data-message-id]').count();
    expect(await inDom()).toBeLessThan(100);
    // Scroll to the top again and again: each time an older page (50 messages) comes, the message that was at the
    // top stays in view (the list does not jump), and the page still holds only the rows around the view.
    const loaded = async () => Number(await list.getAttribute('data-loaded'));
    while ((await loaded()) < 5000) {
      const before = await loaded();
      await list.evaluate((el) => el.scrollTo({ top: 0 }));
      await expect.poll(() => held.length).toBe(1);
      const top = await list.locator('article').first().getAttribute('data-message-id');
      await held.shift()!.continue();
      await page.waitForFunction(
        ([n]) => Number(document.querySelector('.messages')!.getAttribute('data-loaded')) > n,
        [before] as const,
      );
      const kept = list.locator(`article[data-message-id="${top}"]`);
      await kept.waitFor();
      const box = (await kept.boundingBox())!;
      const view = (await list.boundingBox())!;
      expect(box.y + box.height).toBeGreaterThan(view.y);
      expect(box.y).toBeLessThan(view.y + view.height);
      expect(await inDom()).toBeLessThan(100);
    }
    await list.evaluate((el) => el.scrollTo({ top: 0 }));
    await list.locator('article', { hasText: 'long message 0001' }).waitFor();
    await page.getByText('Start of the conversation').waitFor();
    expect(await inDom()).toBeLessThan(100);
    await shot(page, 'long-conversation-top');
    await context.close();
  });

  it('lists event endpoints and their deliveries', async () => {
    const ep = await api('POST', `/v1/tenants/${A.tenantSlug}/event-endpoints`, {
      url: 'https://crm.example.com/gtc',
      events: ['*'],
      description: 'CRM',
    });
    expect(ep.status).toBe(201);
    expect(
      (await api('POST', `/v1/tenants/${A.tenantSlug}/event-endpoints/${ep.json.id}/test`)).status,
    ).toBeLessThan(300);
    const { context, page } = await signedIn();
    await page.goto(`${admin.url}/console/${A.tenantSlug}/events`);
    await page.getByRole('link', { name: 'https://crm.example.com/gtc' }).click();
    await page.getByRole('heading', { name: 'Deliveries' }).waitFor();
    await page.locator('tr', { hasText: 'ping' }).first().waitFor();
    // The secret is shown by the API once, at creation; never here.
    expect(await page.content()).not.toContain(ep.json.secret);
    await shot(page, 'event-deliveries');
    await context.close();
  });

  it('first load is at most 250 KB of compressed JavaScript; the graph layout is not part of it', async () => {
    const html = readFileSync(resolve(DIST, 'index.html'), 'utf8');
    const scripts = [
      ...html.matchAll(/<script[^>]+src="([^"]+\.js)"/g),
      ...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="([^"]+\.js)"/g),
    ].map((m) => m[1]);
    expect(scripts.length).toBeGreaterThan(0);
    const sizes = scripts.map(
      (s) => gzipSync(readFileSync(resolve(DIST, s.replace(/^\/console\//, '')))).length,
    );
    const total = sizes.reduce((a, b) => a + b, 0);
    console.log(
      `first load: ${scripts.length} scripts, ${(total / 1024).toFixed(1)} KB gzip (${scripts.map((s, i) => `${s.split('/').pop()} ${(sizes[i] / 1024).toFixed(1)} KB`).join(', ')})`,
    );
    expect(total).toBeLessThanOrEqual(250 * 1024);
    for (const s of scripts)
      expect(readFileSync(resolve(DIST, s.replace(/^\/console\//, '')), 'utf8')).not.toContain('dagre');

    // What a browser really downloads on the first visit to the sign-in page.
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const loaded: string[] = [];
    page.on('response', (r) => r.url().endsWith('.js') && loaded.push(r.url()));
    await page.goto(`${admin.url}/console/`);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(loaded.map((u) => new URL(u).pathname).sort()).toEqual([...scripts].sort());
    await shot(page, 'first-load-sign-in');
    await context.close();
  });

  it('serves hashed assets with a year-long immutable cache and index.html with no-cache', async () => {
    const index = await fetch(`${admin.url}/console/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const html = await index.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const a of assets) {
      const res = await fetch(`${admin.url}${a}`);
      expect(res.status, a).toBe(200);
      expect(res.headers.get('cache-control'), a).toBe('public, max-age=31536000, immutable');
    }
    // Any console path is the page (it routes itself), never cached.
    const deep = await fetch(`${admin.url}/console/${A.tenantSlug}/flows/support/hello`);
    expect(deep.status).toBe(200);
    expect(deep.headers.get('cache-control')).toBe('no-cache');
    const { context, page } = await signedIn();
    await page.goto(`${admin.url}/console/${A.tenantSlug}/flows/support/hello`);
    await page.locator('svg.flow-graph').waitFor();
    await shot(page, 'deep-link-served');
    await context.close();
  });

  it('renders the conversation in a phone-sized window without horizontal scrolling', async () => {
    const ana = await contactOf(A.tenantSlug, ANA);
    const { context, page } = await signedIn(ADMIN_KEY, { width: 390, height: 844 });
    await page.goto(`${admin.url}/console/${A.tenantSlug}/conversations`);
    await page.getByRole('link', { name: /Ana Test/ }).click();
    await page.locator('article.bubble.out', { hasText: 'Welcome to gtc!' }).waitFor();
    await page.getByRole('link', { name: '← Contacts' }).waitFor();
    const overflow = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
      list: (() => {
        const el = document.querySelector('.messages')!;
        return el.scrollWidth - el.clientWidth;
      })(),
    }));
    expect(overflow).toEqual({ page: 0, list: 0 });
    await page.getByLabel('Message', { exact: true }).waitFor();
    expect(page.url()).toContain(ana.id);
    await shot(page, 'phone-conversation');
    await context.close();
  });
});
