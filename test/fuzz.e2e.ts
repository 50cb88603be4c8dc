import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient } from '@gtc/db';
import { createTestProvider, inboundWebhook, ServiceProcess, startService, testEnv, TestProvider } from '@gtc/testing';
import { signPayload } from '@gtc/whatsapp';

// Bad input: malformed, truncated, oversized, wrongly signed and deeply nested bodies get a 4xx, never a 5xx,
// never crash a service, and never write a row.
const { databaseUrl, redisUrl, redisPrefix } = testEnv();
const env = { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, REDIS_PREFIX: `${redisPrefix}-fuzz` };
const prisma = createPrismaClient(databaseUrl);
let ingress: ServiceProcess;
let admin: ServiceProcess;
let p: TestProvider;

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function rng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function nested(depth: number, open: string, close: string, inner = '1'): string {
  return open.repeat(depth) + inner + close.repeat(depth);
}

/** Bodies that are not valid webhooks, each with how it is signed. */
function badWebhooks(seed: number, count: number): { body: Buffer; signed: boolean }[] {
  const r = rng(seed);
  const valid = Buffer.from(inboundWebhook(p, '4915000000001', { text: 'fuzz' }).body);
  const out: { body: Buffer; signed: boolean }[] = [];
  for (let i = 0; i < count; i++) {
    const kind = Math.floor(r() * 8);
    let body: Buffer;
    if (kind === 0) body = valid.subarray(0, Math.floor(r() * valid.length)); // truncated
    else if (kind === 1) body = Buffer.from(Array.from({ length: Math.floor(r() * 2000) }, () => Math.floor(r() * 256))); // random bytes
    else if (kind === 2) body = Buffer.from(nested(5_000 + Math.floor(r() * 50_000), '[', ']')); // deeply nested arrays
    else if (kind === 3) body = Buffer.from(nested(5_000 + Math.floor(r() * 50_000), '{"a":', '}')); // deeply nested objects
    else if (kind === 4) {
      const v = JSON.parse(valid.toString());
      const targets = [() => (v.entry = 'x'), () => (v.entry = [null, 1, 'x']), () => (v.entry[0].changes = [{ value: 5 }]), () => (v.object = 42), () => (v.entry[0].changes[0].value.messages = [{ id: 5 }])];
      targets[Math.floor(r() * targets.length)]();
      body = Buffer.from(JSON.stringify(v)); // well-formed JSON, wrong shapes
    } else if (kind === 5) body = Buffer.from(JSON.stringify({ object: 'whatsapp_business_account', entry: Array.from({ length: 5_000 }, () => ({ id: 'x', changes: [] })) }));
    else if (kind === 6) body = valid; // valid body, wrong signature below
    else body = Buffer.concat([valid, Buffer.from('garbage')]);
    out.push({ body, signed: kind !== 6 && r() < 0.8 });
  }
  return out;
}

async function counts() {
  return Promise.all([
    prisma.inboundMessage.count({ where: { providerId: p.providerId } }),
    prisma.statusEvent.count({ where: { providerId: p.providerId } }),
    prisma.webhookEvent.count({ where: { providerId: p.providerId } }),
    prisma.contact.count({ where: { providerId: p.providerId } }),
  ]);
}

beforeAll(async () => {
  p = await createTestProvider(prisma);
  ingress = await startService('ingress', env);
  admin = await startService('admin', env);
});
afterAll(async () => {
  await Promise.all([ingress?.kill(), admin?.kill()]);
  await prisma.$disconnect();
});

describe('fuzzed bad input', () => {
  it('webhooks: no 5xx, no crash, no row for anything rejected', async () => {
    const before = await counts();
    const codes = new Map<number, number>();
    let accepted = 0;
    for (const { body, signed } of badWebhooks(20261121, 300)) {
      const res = await fetch(`${ingress.url}/webhook/whatsapp/${p.tenantSlug}/${p.teamSlug}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': signed ? signPayload(body, p.appSecret) : 'sha256=00' },
        body,
      });
      await res.arrayBuffer();
      codes.set(res.status, (codes.get(res.status) ?? 0) + 1);
      expect(res.status, `status ${res.status} for ${body.subarray(0, 80).toString()}`).toBeLessThan(500);
      if (res.status === 200) accepted++;
    }
    expect(ingress.running).toBe(true);
    // Well-formed JSON with wrong shapes is acknowledged (kept as raw webhook events) but creates no message.
    const after = await counts();
    expect(after[0]).toBe(before[0]);
    expect(after[3]).toBe(before[3]);
    expect(accepted).toBeGreaterThan(0);
    expect([...codes.keys()].sort()).toEqual(expect.arrayContaining([400, 401]));
  });

  it('admin API: no 5xx, no crash, no tenant or team created by invalid payloads', async () => {
    const r = rng(7);
    const bodies = [
      ...Array.from({ length: 60 }, () => JSON.stringify({ slug: Array.from({ length: Math.floor(r() * 80) }, () => String.fromCharCode(Math.floor(r() * 0xffff))).join(''), name: r() < 0.5 ? 5 : null })),
      nested(20_000, '{"a":', '}'),
      nested(20_000, '[', ']'),
      '{"slug": "x", "name": "y"',
      '\u0000\u0001\u0002',
      JSON.stringify({ slug: 'a'.repeat(10_000) }),
      JSON.stringify({ slug: 'valid-slug', extra: { $where: '1' }, __proto__: { admin: true } }),
    ];
    // What these payloads could have created: tenants with their slugs, teams of this file's tenant (other test
    // files create tenants meanwhile, so the count of all tenants proves nothing).
    const slugs = new Set(['x', 'valid-slug']);
    for (const body of bodies) {
      try {
        const slug = (JSON.parse(body) as { slug?: unknown })?.slug;
        if (typeof slug === 'string') slugs.add(slug);
      } catch {
        // not JSON: no slug to look for
      }
    }
    const created = () => Promise.all([prisma.tenant.count({ where: { slug: { in: [...slugs] } } }), prisma.team.count({ where: { tenantId: p.tenantId } })]);
    const before = await created();
    for (const body of bodies) {
      for (const path of ['/v1/tenants', `/v1/tenants/${p.tenantSlug}/teams`, `/v1/tenants/${p.tenantSlug}/teams/${p.teamSlug}/provider`]) {
        const res = await fetch(`${admin.url}${path}`, {
          method: path.endsWith('provider') ? 'PUT' : 'POST',
          headers: { authorization: 'Bearer dev-admin-key-change-me-before-production', 'content-type': 'application/json' },
          body,
        });
        const text = await res.text();
        expect(res.status, `${path} ${body.slice(0, 60)} → ${text.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
      }
    }
    expect(admin.running).toBe(true);
    expect(await created()).toEqual(before);
  });
});
