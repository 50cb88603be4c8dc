// Fuzz of the admin API generated from its own OpenAPI document: every operation, every path, query, header and
// body parameter, hostile values (NUL, lone surrogates, int4 overflow, huge strings, wrong types, __proto__,
// constructor, "..", deep nesting, arrays for objects), with the admin key and a tenant key. Nothing may answer
// 5xx, the service stays healthy, and (checked on a sample) a refused request writes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient, PrismaClient } from '@gtc/db';
import { ownDatabase, ServiceProcess, startService, testEnv } from '@gtc/testing';

const ADMIN_KEY = 'openapi-fuzz-admin-key-0123456789';
const USER = '4915112345678';
const FLOW = `name: support
version: "1.0"
nodes:
  - id: greet
    type: reply
    config:
      message: "Hello {{name}}!"
triggers:
  - type: message
    target: greet
`;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  enum?: Json[];
  default?: Json;
  minimum?: number;
  anyOf?: Schema[];
  oneOf?: Schema[];
  items?: Schema;
}
interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  schema?: Schema;
}
interface Operation {
  method: string;
  path: string;
  parameters: Parameter[];
  body?: { contentTypes: string[]; schema: Schema };
}
/** One fuzz request. */
interface Case {
  what: string;
  path: Record<string, string>;
  query: Record<string, string | string[]>;
  headers: Record<string, string>;
  body?: { raw: string; contentType: string };
}

/** A deep JSON text (objects or arrays nested `depth` times). */
const nested = (depth: number, open: string, close: string) => open.repeat(depth) + '1' + close.repeat(depth);

/** Hostile text values, as JavaScript strings (sent percent-encoded byte by byte in URLs). */
const HOSTILE_TEXT = [
  'a\u0000b',
  '\u0000',
  'x\ud800',
  '\udfffx',
  '..',
  '../../..',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  '{{constructor}}',
  '{{__proto__.x}}',
  "' OR 1=1 --",
  '\u202e\u200b',
  '😀'.repeat(300),
  'x'.repeat(100_000),
  '',
  ' ',
  '2147483648',
  '-1',
  '9'.repeat(40),
  '1e400',
  'NaN',
  'null',
  'true',
];
/** Raw percent-encoded URL values whose bytes are not UTF-8 or decode to NUL. */
const HOSTILE_ENCODED = ['%00', '%C0%80', '%ED%A0%80', '%FF%FE', '%E0%80', '%2e%2e', '%2F..%2F'];
/** Hostile JSON values for body fields. */
const HOSTILE_JSON: Json[] = [
  ...HOSTILE_TEXT,
  2147483648,
  -1,
  0,
  -2147483649,
  2 ** 53 + 2, // beyond the integers a double holds exactly
  1e308,
  1.5,
  true,
  false,
  null,
  [],
  ['a\u0000'],
  [1, 'x', null, {}],
  {},
  JSON.parse('{"__proto__": {"admin": true}}') as Json,
  { constructor: { prototype: { admin: true } } },
  { 'k\u0000': 'v' },
  { a: 'x\ud800' },
  Array.from({ length: 5000 }, (_, i) => i),
];
/** Hostile raw JSON bodies (the whole body). */
const HOSTILE_BODIES = [
  nested(10_000, '{"a":', '}'),
  nested(10_000, '[', ']'),
  '[]',
  '"text"',
  'null',
  '42',
  '{"__proto__": {"admin": true}}',
  '{"constructor": {"prototype": {"x": 1}}}',
  '{',
  '\u0000',
];

/** Percent-encodes every UTF-8 byte of a string (lone surrogates become U+FFFD, as any client would send). */
const encode = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

/** A value valid for a schema, preferring known-valid values by field name. */
function valid(schema: Schema | undefined, name: string, known: Record<string, Json>): Json | undefined {
  if (name in known) return known[name];
  if (!schema) return 'x';
  if (schema.default !== undefined) return schema.default;
  if (schema.enum?.length) return schema.enum[0];
  const alt = schema.anyOf?.[0] ?? schema.oneOf?.[0];
  if (alt) return valid(alt, name, known);
  switch (schema.type) {
    case 'boolean':
      return true;
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'array':
      return [];
    case 'object': {
      const out: Record<string, Json> = {};
      for (const key of schema.required ?? []) {
        const v = valid(schema.properties?.[key], key, known);
        if (v !== undefined) out[key] = v;
      }
      return out;
    }
    default:
      return 'x';
  }
}

/** Every operation of the document with its parameters and JSON/text body schema. */
function operations(doc: { paths: Record<string, Record<string, { parameters?: Parameter[]; requestBody?: { content: Record<string, { schema: Schema }> } }>> }): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const content = op.requestBody?.content ?? {};
      const types = Object.keys(content);
      const schema = content['application/json']?.schema ?? Object.values(content)[0]?.schema;
      out.push({ method: method.toUpperCase(), path, parameters: op.parameters ?? [], body: types.length ? { contentTypes: types, schema: schema ?? {} } : undefined });
    }
  }
  return out;
}

/** The fuzz cases of one operation: one hostile value at a time, everything else valid. */
function cases(op: Operation, base: { path: Record<string, string>; query: Record<string, string>; body: Json | undefined }): Case[] {
  const out: Case[] = [];
  const json = (v: Json | undefined) => (v === undefined ? undefined : { raw: JSON.stringify(v), contentType: 'application/json' });
  const plain = (): Case => ({ what: '', path: { ...base.path }, query: { ...base.query }, headers: {}, body: json(base.body) });
  for (const p of op.parameters) {
    const values = p.in === 'header' ? HOSTILE_TEXT.filter((v) => /^[\x20-\x7e]*$/.test(v)) : [...HOSTILE_TEXT.map(encode), ...HOSTILE_ENCODED];
    for (const v of values) {
      const c = plain();
      c.what = `${p.in} ${p.name}=${v.slice(0, 40)}`;
      if (p.in === 'path') c.path[p.name] = v;
      else if (p.in === 'query') c.query[p.name] = v;
      else c.headers[p.name] = v;
      out.push(c);
    }
    if (p.in === 'query') {
      const c = plain();
      c.what = `query ${p.name} given twice`;
      c.query[p.name] = ['1', encode('a\u0000')];
      out.push(c);
    }
  }
  if (op.body) {
    const props = Object.keys(op.body.schema.properties ?? {});
    const baseObject = (base.body && typeof base.body === 'object' && !Array.isArray(base.body) ? base.body : {}) as Record<string, Json>;
    for (const key of props) {
      for (const v of HOSTILE_JSON) {
        const c = plain();
        c.what = `body ${key}=${JSON.stringify(v)?.slice(0, 40)}`;
        c.body = json({ ...baseObject, [key]: v });
        out.push(c);
      }
      const c = plain();
      c.what = `body ${key} nested 5000 deep`;
      const rest = JSON.stringify({ ...baseObject, [key]: 0 }).replace(`"${key}":0`, `"${key}":${nested(5000, '{"a":', '}')}`);
      c.body = { raw: rest, contentType: 'application/json' };
      out.push(c);
    }
    for (const raw of HOSTILE_BODIES) {
      const c = plain();
      c.what = `whole body ${raw.slice(0, 30)}`;
      c.body = { raw, contentType: 'application/json' };
      out.push(c);
    }
    const unknown = plain();
    unknown.what = 'body with unknown fields';
    unknown.body = json({ ...baseObject, unknown_field: 1, ...(JSON.parse('{"__proto__": 1}') as Record<string, Json>) });
    out.push(unknown);
    const array = plain();
    array.what = 'array where an object is expected';
    array.body = json([baseObject]);
    out.push(array);
    if (op.body.contentTypes.some((t) => t.includes('yaml'))) {
      for (const v of HOSTILE_TEXT) {
        const c = plain();
        c.what = `text/yaml body ${v.slice(0, 30)}`;
        c.body = { raw: v, contentType: 'text/yaml' };
        out.push(c);
      }
    }
  }
  return out;
}

let admin: ServiceProcess;
let sim: ServiceProcess;
let prisma: PrismaClient;
let dropDb: () => Promise<void>;
let seeds = 0;

async function request(method: string, path: string, opts: { key?: string; body?: { raw: string; contentType: string }; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  if (opts.body) headers['content-type'] = opts.body.contentType;
  const res = await fetch(`${admin.url}${path}`, { method, headers, body: opts.body?.raw });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

const adminJson = async (method: string, path: string, body?: unknown) => {
  const res = await request(method, path, { key: ADMIN_KEY, body: body === undefined ? undefined : { raw: JSON.stringify(body), contentType: 'application/json' } });
  expect(res.status, `${method} ${path}: ${res.text.slice(0, 300)}`).toBeLessThan(300);
  return res.json;
};

/** A tenant with a team, a provider (its number registered with graph-sim), a flow, a contact, a message and keys. */
async function seed() {
  const n = ++seeds;
  const tenant = `fz${n}`;
  const phone = String(300000000000 + n);
  const token = `EAAfuzz${n}token`;
  const reg = await fetch(`${sim.url}/sim/phone-numbers`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ phone_number_id: phone, access_token: token, app_secret: 'fuzz-secret', webhook_url: 'http://127.0.0.1:9/none', waba_id: '987654321098765' }),
  });
  expect(reg.status).toBe(200);
  await adminJson('POST', '/v1/tenants', { slug: tenant });
  await adminJson('POST', `/v1/tenants/${tenant}/teams`, { slug: 'support' });
  await adminJson('PUT', `/v1/tenants/${tenant}/teams/support/provider`, {
    enabled: true,
    public_base_url: 'https://fuzz.example',
    phone_number_id: phone,
    access_token: token,
    verify_token: 'v',
    business_account_id: '987654321098765',
  });
  await adminJson('POST', `/v1/tenants/${tenant}/teams/support/flows`, { source: FLOW });
  const sent = await adminJson('POST', `/v1/tenants/${tenant}/messages`, { team: 'support', to: USER, content: { message: 'hi' } });
  const tenantKey = (await adminJson('POST', `/v1/tenants/${tenant}/api-keys`, { name: 'fuzz' })).key as string;
  const spareKey = (await adminJson('POST', `/v1/tenants/${tenant}/api-keys`, { name: 'spare' })).id as string;
  return { tenant, phone, token, tenantKey, contactId: sent.message.contact_id as string, messageId: sent.message.id as string, spareKey };
}

/** Counts and last update times of every table a request could write, to compare before and after. */
async function snapshot() {
  const latest = async (table: 'tenant' | 'team' | 'whatsAppProvider' | 'contact' | 'session') =>
    ((await (prisma[table] as any).aggregate({ _max: { updatedAt: true }, _count: { _all: true } })) as { _max: { updatedAt: Date | null }; _count: { _all: number } });
  return {
    tenants: await latest('tenant'),
    teams: await latest('team'),
    providers: await latest('whatsAppProvider'),
    contacts: await latest('contact'),
    sessions: await latest('session'),
    flows: await prisma.flow.findMany({ select: { id: true, active: true }, orderBy: { id: 'asc' } }),
    inbound: await prisma.inboundMessage.count(),
    outbound: await prisma.outboundMessage.count(),
    keys: await prisma.apiKey.findMany({ select: { id: true, revokedAt: true }, orderBy: { id: 'asc' } }),
  };
}

beforeAll(async () => {
  const env = testEnv();
  const db = await ownDatabase('openapi_fuzz');
  dropDb = db.drop;
  sim = await startService('graph-sim', { REDIS_URL: env.redisUrl, REDIS_PREFIX: `${env.redisPrefix}-openapi-fuzz-sim` });
  admin = await startService('admin', {
    DATABASE_URL: db.url,
    REDIS_URL: env.redisUrl,
    REDIS_PREFIX: `${env.redisPrefix}-openapi-fuzz`,
    ADMIN_API_KEY: ADMIN_KEY,
    GRAPH_API_BASE_URL: sim.url,
  });
  prisma = createPrismaClient(db.url, { max: 2 });
});

afterAll(async () => {
  await prisma?.$disconnect();
  await admin?.stop();
  await sim?.stop();
  await dropDb?.();
});

describe('admin API fuzzed from its OpenAPI document', () => {
  it('documents the parameters of every route that reads them', async () => {
    const doc = (await request('GET', '/docs/json')).json;
    const ops = operations(doc);
    const params = (method: string, path: string) => ops.find((o) => o.method === method && o.path === path)?.parameters.map((p) => `${p.in}:${p.name}`) ?? [];
    expect(params('GET', '/v1/tenants/{tenant}/contacts')).toEqual(expect.arrayContaining(['path:tenant', 'query:q', 'query:name', 'query:wa_id', 'query:user_id', 'query:team', 'query:limit', 'query:cursor']));
    expect(params('GET', '/v1/tenants/{tenant}/messages')).toEqual(expect.arrayContaining(['query:team', 'query:state', 'query:since', 'query:direction']));
    expect(params('GET', '/v1/tenants/{tenant}/teams/{team}/flows/{name}')).toEqual(expect.arrayContaining(['path:tenant', 'path:team', 'path:name', 'query:revision']));
    expect(params('POST', '/v1/tenants/{tenant}/messages')).toContain('header:Idempotency-Key');
    for (const op of ops.filter((o) => ['POST', 'PUT', 'PATCH'].includes(o.method) && o.body)) {
      expect(Object.keys(op.body!.schema.properties ?? {}).length, `${op.method} ${op.path} body schema`).toBeGreaterThan(0);
    }
  });

  it('answers every hostile request below 500, stays healthy, and writes nothing when it refuses (sampled)', async () => {
    const doc = (await request('GET', '/docs/json')).json;
    const ops = operations(doc);
    expect(ops.length).toBeGreaterThan(30);
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    let sent = 0;
    let sampled = 0;
    for (const op of ops) {
      let ctx = await seed();
      const baseOf = (c: typeof ctx) => {
        const id = op.path.includes('/contacts/') ? c.contactId : op.path.includes('/messages/') ? c.messageId : c.spareKey;
        const pathValues: Record<string, string> = { tenant: c.tenant, team: 'support', name: 'support', id };
        const known: Record<string, Json> = {
          to: USER,
          team: 'support',
          flow: 'support',
          source: FLOW,
          content: { message: 'hello' },
          phone_number_id: c.phone,
          access_token: c.token,
          public_base_url: 'https://fuzz.example',
          verify_token: 'v',
          enabled: true,
          slug: `new-${seeds}`,
        };
        const path: Record<string, string> = {};
        const query: Record<string, string> = {};
        for (const p of op.parameters) {
          if (p.in === 'path') path[p.name] = encodeURIComponent(pathValues[p.name] ?? 'x');
        }
        return { path, query, body: op.body ? valid(op.body.schema, '', known) : undefined };
      };
      let list = cases(op, baseOf(ctx));
      for (let i = 0; i < list.length; i++) {
        const c = list[i];
        for (const key of [ADMIN_KEY, ctx.tenantKey]) {
          const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => c.path[name] ?? 'x');
          const search = Object.entries(c.query)
            .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${encodeURIComponent(k)}=${x}`))
            .join('&');
          const sample = sent % 25 === 0;
          const before = sample ? await snapshot() : undefined;
          const res = await request(op.method, `${path}${search ? `?${search}` : ''}`, { key, body: c.body, headers: c.headers });
          sent++;
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          const label = `${op.method} ${op.path} [${key === ADMIN_KEY ? 'admin' : 'tenant'} key] ${c.what} → ${res.status} ${res.text.slice(0, 160)}`;
          if (res.status >= 500) failures.push(label);
          // Node's HTTP parser (431) and Fastify's router (bad percent-encoding, over-long parameter) answer before the
          // application and in their own shape; everything the application answers is in the API's error shape.
          const beforeApp = res.status === 431 || ['FST_ERR_BAD_URL', 'FST_ERR_MAX_PARAM_LENGTH'].includes(res.json?.code);
          if (res.status >= 400 && !beforeApp && typeof res.json?.error?.code !== 'string') failures.push(`not in the error shape: ${label}`);
          if (before && res.status >= 400) {
            sampled++;
            const after = await snapshot();
            if (JSON.stringify(after) !== JSON.stringify(before)) failures.push(`wrote although refused: ${label}`);
          }
          // A hostile value that happened to be valid changed the seed (renamed, deleted, revoked): start afresh.
          if (res.status < 300 && op.method !== 'GET') {
            ctx = await seed();
            list = cases(op, baseOf(ctx));
          }
        }
      }
    }
    expect(failures, failures.slice(0, 20).join('\n')).toEqual([]);
    expect(admin.running).toBe(true);
    expect((await request('GET', '/health/live')).status).toBe(200);
    expect((await request('GET', '/v1/tenants/fz1', { key: ADMIN_KEY })).status).toBeLessThan(500);
    // The run covered refusals of every kind and a meaningful sample of writes checks.
    expect([...statuses.keys()]).toEqual(expect.arrayContaining([400, 403, 404]));
    expect(sent).toBeGreaterThan(3000);
    expect(sampled).toBeGreaterThan(50);
    console.log(`openapi fuzz: ${ops.length} operations, ${sent} requests, ${seeds} seeds, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
  }, 30 * 60_000);
});
