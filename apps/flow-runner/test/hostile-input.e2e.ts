import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient } from '@gtc/db';
import { compilePattern, MAX_PATTERN_INPUT, MAX_REGEX_PROGRAM } from '@gtc/flows';
import { createTestProvider, inboundWebhook, installFlows, postWebhook, ServiceProcess, startService, testEnv, TestProvider } from '@gtc/testing';

// Issue 12 item 3: a tenant's catastrophic-for-backtracking patterns (as triggers and in matches()) fed hostile
// texts must not stall the shared flow-runner: /health/live keeps answering and another tenant is answered.
const { databaseUrl, redisUrl, redisPrefix } = testEnv();
const env = { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, REDIS_PREFIX: `${redisPrefix}-hostile` };
const prisma = createPrismaClient(databaseUrl);
let ingress: ServiceProcess;
let runner: ServiceProcess;
let a: TestProvider;
let b: TestProvider;

const PATTERNS = ['\\d+\\d+\\d+\\d+x', '.*.*.*=', '[a-z]*[a-z]*[a-z]*!'];
const q = (s: string) => JSON.stringify(s);
const HOSTILE_FLOW = [
  'name: hostile',
  'version: "1"',
  'nodes:',
  '  - id: check',
  '    type: branch',
  '    config:',
  '      conditions:',
  ...PATTERNS.flatMap((p) => [`        - expression: ${q(`message.text.matches(${q(p)})`)}`, '          next: matched']),
  '      default: unmatched',
  '  - id: matched',
  '    type: reply',
  '    config:',
  '      message: "pattern matched"',
  '  - id: unmatched',
  '    type: reply',
  '    config:',
  '      message: "no pattern matched"',
  'triggers:',
  ...PATTERNS.flatMap((p) => ['  - type: message', `    regex: ${q(p)}`, '    target: check']),
  '  - type: any',
  '    target: check',
  '',
].join('\n');

/** Texts that take a backtracking engine minutes or more on the patterns above (3,000 characters and the 4096 cap). */
const HOSTILE_TEXTS = ['1'.repeat(3000), 'a'.repeat(3000), `${'1'.repeat(2000)}${'a'.repeat(1000)}`, 'a'.repeat(4096), '9'.repeat(4096)];

async function say(p: TestProvider, from: string, text: string): Promise<string> {
  const { body, wamid } = inboundWebhook(p, from, { text });
  expect(await postWebhook(ingress.url, p, body)).toBe(200);
  return wamid;
}

/** Inbound rows of the provider not yet processed. */
const pending = (p: TestProvider) => prisma.inboundMessage.count({ where: { providerId: p.providerId, state: 'pending' } });

/** Starts probing GET /health/live in a thread of its own; `stop()` resolves to the latencies (ms, null = not 200). */
function probeLiveness(): { stop: () => Promise<Array<number | null>> } {
  const worker = new Worker(resolve(__dirname, 'live-prober.mjs'), { workerData: { url: `${runner.url}/health/live` } });
  const result = new Promise<Array<number | null>>((res, rej) => {
    worker.once('message', res);
    worker.once('error', rej);
  });
  return {
    stop: async () => {
      worker.postMessage('stop');
      const latencies = await result;
      await worker.terminate();
      return latencies;
    },
  };
}

beforeAll(async () => {
  a = await createTestProvider(prisma);
  b = await createTestProvider(prisma);
  await installFlows(prisma, a, { 'hostile.ygtc': HOSTILE_FLOW });
  await installFlows(prisma, b);
  ingress = await startService('ingress', env);
  runner = await startService('flow-runner', env);
});
afterAll(async () => {
  await Promise.all([ingress, runner].map((s) => s?.kill()));
  await prisma.$disconnect();
});

describe('hostile input against catastrophic patterns', () => {
  it('is processed on RE2 within counted bounds, /health/live answers throughout, and another tenant is answered', async () => {
    // The bound is counted, not timed: every pattern runs on RE2 (time linear in the input) with a compiled program
    // of at most MAX_REGEX_PROGRAM instructions, over at most MAX_PATTERN_INPUT characters of the text.
    for (const p of PATTERNS) {
      for (const caseInsensitive of [true, false]) {
        const compiled = compilePattern(p, caseInsensitive);
        expect(compiled.ok, p).toBe(true);
        if (compiled.ok) expect(compiled.re.programSize(), p).toBeLessThanOrEqual(MAX_REGEX_PROGRAM);
      }
    }
    expect(Math.max(...HOSTILE_TEXTS.map((t) => t.length))).toBeLessThanOrEqual(MAX_PATTERN_INPUT);

    // Warm-up: the first message of each kind loads code paths; it is not what the issue is about.
    const warm = await say(a, '491700000000', 'warm up');
    await expect.poll(() => pending(a), { timeout: 15_000 }).toBe(0);

    // Liveness is probed one request after another (in a thread of its own, so that this test's work never delays
    // a probe) from before the hostile texts arrive until they are all processed.
    const prober = probeLiveness();

    // Tenant A: hostile texts from several contacts (different contacts run in parallel), 20 messages in all.
    const hostile: string[] = [];
    for (let i = 0; i < 20; i++) hostile.push(await say(a, `4917000000${10 + (i % 4)}`, HOSTILE_TEXTS[i % HOSTILE_TEXTS.length]));
    // Tenant B: an ordinary greeting, sent while A's texts are being processed.
    const greeting = await say(b, '491800000001', 'hi');
    await expect.poll(() => pending(a), { timeout: 60_000, interval: 50 }).toBe(0);
    const latencies = await prober.stop();

    // Every hostile message was processed (not failed) and answered by the flow: matches() was evaluated on it.
    const rows = await prisma.inboundMessage.findMany({ where: { providerId: a.providerId, wamid: { in: [warm, ...hostile] } } });
    expect(rows).toHaveLength(21);
    expect(rows.map((r) => r.state)).toEqual(rows.map(() => 'processed'));
    const out = await prisma.outboundMessage.findMany({ where: { causeId: { in: rows.map((r) => r.id) } } });
    const bodies = out.map((o) => (o.body as { text?: { body?: string } }).text?.body);
    expect(bodies).toHaveLength(21);
    expect(new Set(bodies)).toEqual(new Set(['no pattern matched']));

    // Tenant B was answered: its reply rows were written.
    await expect
      .poll(async () => {
        const row = await prisma.inboundMessage.findFirst({ where: { providerId: b.providerId, wamid: greeting } });
        return row ? prisma.outboundMessage.count({ where: { causeId: row.id } }) : 0;
      }, { timeout: 15_000 })
      .toBeGreaterThan(0);

    // Liveness was probed one request after another throughout A's processing: every probe was answered 200.
    const shown = `probe latencies (ms): ${latencies.map((l) => l?.toFixed(1)).join(', ')}`;
    expect(latencies.length).toBeGreaterThan(5);
    expect(latencies.every((l) => l !== null), shown).toBe(true);
  });
});
