import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPgPool, createPrismaClient, EVENT_ATTEMPT_LOG_MAX, EventAttemptLogEntry, EventInput, publicEventId, recordEvents } from '@gtc/db';
import { createTestProvider, ServiceProcess, testEnv, TestProvider } from '@gtc/testing';
import { createEndpoint, Receiver, startDispatcher, TestEndpoint } from './dispatcher.harness';

// The event dispatcher as a process against real Postgres and real HTTP receivers on 127.0.0.1.
const { databaseUrl } = testEnv();
const prisma = createPrismaClient(databaseUrl);
const pool = createPgPool(databaseUrl);
const base = { DATABASE_URL: databaseUrl, EVENT_ALLOW_PRIVATE_NETWORKS: 'true', EVENT_TIMEOUT_MS: '2000', EVENT_RETRY_SCHEDULE_MS: '200,400,800,1600,3200' };

let tenant: TestProvider;
const started: ServiceProcess[] = [];
const receivers: Receiver[] = [];
const endpoints: string[] = [];

async function dispatcher(env: Record<string, string> = {}): Promise<ServiceProcess> {
  const d = await startDispatcher({ ...base, ...env });
  started.push(d);
  return d;
}

async function receiver(answer?: ConstructorParameters<typeof Receiver>[0], delayMs = 0): Promise<Receiver> {
  const r = await new Receiver(answer, delayMs).start();
  receivers.push(r);
  return r;
}

async function endpoint(r: Receiver | string, opts: { tenantId?: string; previousSecret?: boolean } = {}): Promise<TestEndpoint> {
  const e = await createEndpoint(prisma, opts.tenantId ?? tenant.tenantId, typeof r === 'string' ? r : `${r.url}/hook/${endpoints.length}`, opts);
  endpoints.push(e.id);
  return e;
}

/** Records `perContact` events for each contact, interleaved (c1#0, c2#0, …, c1#1, …), one statement each. */
async function record(contacts: (string | null)[], perContact: number, tenantId = tenant.tenantId): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < perContact; i++) {
    for (const contact of contacts) {
      const ev: EventInput = { tenantId, teamId: null, type: 'message.received', contactId: contact, data: { contact: { id: contact }, n: i } };
      await recordEvents(pool, [ev]);
    }
  }
  const rows = await prisma.event.findMany({ where: { tenantId }, orderBy: { createdAt: 'asc' }, select: { id: true } });
  ids.push(...rows.map((r) => publicEventId(r.id)));
  return ids;
}

/** Deliveries of an endpoint by state. */
async function states(endpointId: string): Promise<Record<string, number>> {
  const rows = await prisma.eventDelivery.groupBy({ by: ['state'], where: { endpointId }, _count: true });
  return Object.fromEntries(rows.map((r) => [r.state, r._count]));
}

/** Every attempt logged in an endpoint's deliveries (their `attempt_log`), in seq order, each oldest first. */
async function attemptsOf(endpointId: string): Promise<EventAttemptLogEntry[]> {
  const rows = await prisma.eventDelivery.findMany({ where: { endpointId }, orderBy: { seq: 'asc' }, select: { attemptLog: true } });
  return rows.flatMap((r) => r.attemptLog as unknown as EventAttemptLogEntry[]);
}

/** Per contact, the `n` of each request in arrival order. */
function sequences(got: Receiver['got']): Map<string | null, number[]> {
  const by = new Map<string | null, number[]>();
  for (const r of [...got].sort((a, b) => a.n - b.n)) {
    const c = r.json.data.contact.id as string | null;
    by.set(c, [...(by.get(c) ?? []), r.json.data.n]);
  }
  return by;
}

beforeAll(async () => {
  tenant = await createTestProvider(prisma);
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((d) => d.kill()));
  await Promise.all(receivers.splice(0).map((r) => r.stop()));
  // Each test's endpoints go (their deliveries with them), so the next test's dispatcher sees only its own.
  await prisma.eventEndpoint.deleteMany({ where: { id: { in: endpoints.splice(0) } } });
  await prisma.event.deleteMany({ where: { tenantId: tenant.tenantId } });
});

afterAll(async () => {
  await prisma.$disconnect();
  await pool.end();
});

describe('event-dispatcher', () => {
  it('delivers each event signed as Standard Webhooks (both secrets while a rotated-out one is valid), body as the contract says', async () => {
    const r = await receiver();
    const plain = await endpoint(r);
    const rotated = await endpoint(r, { previousSecret: true });
    await dispatcher();
    const contact = randomUUID();
    const ids = await record([contact, null], 2);
    await expect.poll(() => r.acknowledged.length, { timeout: 30_000 }).toBe(8);
    await expect.poll(async () => [await states(plain.id), await states(rotated.id)]).toEqual([{ delivered: 4 }, { delivered: 4 }]);

    for (const got of r.got) {
      const headers = got.headers as Record<string, string>;
      expect(headers['content-type']).toBe('application/json');
      expect(headers['webhook-id']).toBe(got.json.id);
      const sigs = headers['webhook-signature'].split(' ');
      const body = got.json;
      expect(Object.keys(body)).toEqual(['id', 'type', 'created_at', 'tenant', 'team', 'data']);
      expect(body).toMatchObject({ type: 'message.received', tenant: tenant.tenantSlug, team: null });
      expect(new Date(body.created_at).toISOString()).toBe(body.created_at);
      expect(ids).toContain(body.id);
      // One signature per valid secret; each verifies with its own secret through the standardwebhooks library.
      const own = got.path === new URL(plain.url).pathname ? plain : rotated;
      expect(sigs).toHaveLength(own === rotated ? 2 : 1);
      expect(new Webhook(own.secret).verify(got.body, headers)).toEqual(body);
      if (own.previousSecret) expect(new Webhook(own.previousSecret).verify(got.body, headers)).toEqual(body);
      expect(() => new Webhook(own === rotated ? plain.secret : rotated.secret).verify(got.body, headers)).toThrow();
    }
    // Each endpoint got each event once.
    for (const e of [plain, rotated]) {
      expect(await states(e.id)).toEqual({ delivered: 4 });
      const attempts = await attemptsOf(e.id);
      expect(attempts.map((a) => a.status_code)).toEqual([200, 200, 200, 200]);
      expect(attempts.every((a) => a.error === null && a.latency_ms >= 0)).toBe(true);
    }
    expect(new Set(r.got.map((g) => `${g.json.id}`)).size).toBe(4);
  });

  it('a receiver that fails the first attempts and recovers gets everything once acknowledged, in order per contact; other contacts are not held back', async () => {
    const slow = randomUUID();
    const others = [randomUUID(), randomUUID(), randomUUID()];
    // The first contact's first event fails four times, then everything is accepted.
    let failures = 0;
    const r = await receiver((req) => (req.json.data.contact.id === slow && req.json.data.n === 0 && failures++ < 4 ? 500 : 200));
    const e = await endpoint(r);
    await dispatcher();
    await record([slow, ...others, null], 5);
    await expect.poll(() => r.acknowledged.length, { timeout: 30_000 }).toBe(25);
    await expect.poll(() => states(e.id)).toEqual({ delivered: 25 });

    // Every event acknowledged exactly once, each contact's in the order recorded.
    expect(new Set(r.acknowledged.map((a) => a.json.id)).size).toBe(25);
    for (const [contact, ns] of sequences(r.acknowledged)) expect(ns, String(contact)).toEqual([0, 1, 2, 3, 4]);
    // Nothing of the failing contact went before its first event was acknowledged.
    const slowGot = r.got.filter((g) => g.json.data.contact.id === slow).map((g) => [g.json.data.n, g.status]);
    expect(slowGot).toEqual([[0, 500], [0, 500], [0, 500], [0, 500], [0, 200], [1, 200], [2, 200], [3, 200], [4, 200]]);
    // The other contacts were all acknowledged before the failing contact's first event was.
    const slowFirstOk = r.acknowledged.find((a) => a.json.data.contact.id === slow)!.n;
    expect(r.acknowledged.filter((a) => a.json.data.contact.id !== slow).every((a) => a.n < slowFirstOk)).toBe(true);
    expect(await states(e.id)).toEqual({ delivered: 25 });
    expect((await attemptsOf(e.id)).filter((a) => a.status_code === 500 && a.error?.startsWith('HTTP 500'))).toHaveLength(4);
    expect((await prisma.eventEndpoint.findUniqueOrThrow({ where: { id: e.id } })).failingSince).toBeNull();
  });

  it('leaves a contact\'s later deliveries untouched (not locked, not rewritten) while its first is in flight, then sends them in order', async () => {
    const held = randomUUID();
    const other = randomUUID();
    let hung = 0;
    // The first event of `held` hangs until the timeout once (in flight all that time), then everything is accepted.
    const r = await receiver((req) => (req.json.data.contact.id === held && req.json.data.n === 0 && !hung++ ? 'hang' : 200));
    const e = await endpoint(r);
    await dispatcher({ EVENT_TIMEOUT_MS: '6000' });
    const got = (contact: string) => r.got.filter((g) => g.json.data.contact.id === contact);
    const versions = async () =>
      (
        await pool.query<{ seq: string; v: string }>(
          `SELECT seq::text, xmin::text || ':' || ctid::text AS v FROM event_deliveries WHERE endpoint_id = $1 AND contact_id = $2 ORDER BY seq`,
          [e.id, held],
        )
      ).rows;
    await record([held, other], 5);
    await expect.poll(() => got(held).length, { timeout: 30_000 }).toBe(1);
    const before = await versions();
    // The other contact's events go meanwhile (claims run, and wakes), and the held contact's four later ones are
    // not touched: the same row version (xmin, ctid) as when they were recorded.
    await expect.poll(() => got(other).filter((g) => g.status === 200).length, { timeout: 30_000 }).toBe(5);
    await new Promise((res) => setTimeout(res, 1_500));
    const during = await versions();
    expect(got(held)).toHaveLength(1);
    expect(during).toHaveLength(5);
    expect(during.slice(1)).toEqual(before.slice(1));
    // After the timeout and one retry, the first is acknowledged, then the rest in order.
    await expect.poll(() => got(held).filter((g) => g.status === 200).length, { timeout: 30_000 }).toBe(5);
    expect(got(held).map((g) => [g.json.data.n, g.status])).toEqual([[0, 0], [0, 200], [1, 200], [2, 200], [3, 200], [4, 200]]);
    for (const [contact, ns] of sequences(r.acknowledged)) expect(ns, String(contact)).toEqual([0, 1, 2, 3, 4]);
    await expect.poll(() => states(e.id)).toEqual({ delivered: 10 });
  });

  it('a receiver that is down (hanging until the timeout, or refusing connections) never delays another endpoint or tenant', async () => {
    const other = await createTestProvider(prisma);
    const hanging = await receiver(() => 'hang');
    const healthy = await receiver();
    const stuck = await endpoint(hanging);
    const refused = await endpoint(`http://127.0.0.1:1/hook`);
    const ok = await endpoint(healthy, { tenantId: other.tenantId });
    await dispatcher({ EVENT_TIMEOUT_MS: '30000' });
    const contacts = Array.from({ length: 10 }, () => randomUUID());
    await record(contacts, 2);
    await expect.poll(() => hanging.got.length, { timeout: 30_000 }).toBe(4);
    await record(contacts, 3, other.tenantId);
    // The healthy endpoint of the other tenant gets all of its events while the hanging one holds its four slots.
    await expect.poll(() => healthy.acknowledged.length, { timeout: 30_000 }).toBe(30);
    await expect.poll(() => states(ok.id)).toEqual({ delivered: 30 });
    expect(hanging.got).toHaveLength(4);
    expect((await states(stuck.id)).delivered).toBeUndefined();
    // The refusing one failed its attempts with the error, and is failing since then.
    await expect.poll(async () => (await attemptsOf(refused.id)).filter((a) => a.error?.includes('ECONNREFUSED')).length).toBeGreaterThan(0);
    expect((await prisma.eventEndpoint.findUniqueOrThrow({ where: { id: refused.id } })).failingSince).not.toBeNull();
    await prisma.eventDelivery.deleteMany({ where: { endpoint: { tenantId: other.tenantId } } });
    await prisma.eventEndpoint.delete({ where: { id: ok.id } });
  });

  it('listens again after its LISTEN connection is cut (health back to ok, new events delivered)', async () => {
    const r = await receiver();
    await endpoint(r);
    const d = await dispatcher();
    const listener = async () =>
      (await pool.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN gtc_events'`)).rows.map((x) => x.pid);
    await expect.poll(listener).toHaveLength(1);
    const [before] = await listener();
    await pool.query('SELECT pg_terminate_backend($1)', [before]);
    await expect.poll(async () => { const now = await listener(); return now.length === 1 && !now.includes(before); }, { timeout: 30_000 }).toBe(true);
    await expect.poll(async () => (await fetch(`${d.url}/health`)).status, { timeout: 30_000 }).toBe(200);
    await record([randomUUID()], 3);
    await expect.poll(() => r.acknowledged.length, { timeout: 30_000 }).toBe(3);
    expect(d.logs.join('\n')).toContain('listening connection lost');
  });

  it('kill -9 of the dispatcher mid-run loses and reorders nothing', async () => {
    // Answers take a little while, so that the kill finds attempts in flight.
    const r = await receiver(() => 200, 15);
    const e = await endpoint(r);
    const contacts = Array.from({ length: 8 }, () => randomUUID());
    await record(contacts, 25);
    const first = await dispatcher();
    await expect.poll(() => r.acknowledged.length, { timeout: 30_000, interval: 5 }).toBeGreaterThanOrEqual(40);
    await first.kill();
    const before = r.got.length;
    await Promise.all([dispatcher(), dispatcher()]);
    await expect.poll(async () => (await states(e.id)).delivered, { timeout: 60_000 }).toBe(200);
    expect(r.got.length).toBeGreaterThan(before);

    // Every event acknowledged (at least once); per contact, what arrived never goes back to an earlier event.
    expect(new Set(r.acknowledged.map((a) => a.json.id)).size).toBe(200);
    for (const [contact, ns] of sequences(r.got)) {
      expect(ns.every((n, i) => i === 0 || n >= ns[i - 1]), `${contact}: ${ns.join(',')}`).toBe(true);
      expect([...new Set(ns)], String(contact)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    }
  });

  it('refuses private addresses by default (an attempt failed with the reason), and delivers to them with EVENT_ALLOW_PRIVATE_NETWORKS', async () => {
    const r = await receiver();
    const port = new URL(r.url).port;
    const targets = [`http://127.0.0.1:${port}/a`, `http://localhost:${port}/b`, `http://[::ffff:127.0.0.1]:${port}/c`, `http://169.254.169.254/latest/meta-data`, `http://10.1.2.3:${port}/d`];
    const eps = await Promise.all(targets.map((t) => endpoint(t)));
    await dispatcher({ EVENT_ALLOW_PRIVATE_NETWORKS: 'false', EVENT_RETRY_SCHEDULE_MS: '1000,1000,1000,1000,1000,1000,1000,1000,1000,1000' });
    await record([randomUUID()], 1);
    const errorOf = async (id: string) => (await attemptsOf(id))[0]?.error;
    await expect.poll(async () => (await Promise.all(eps.map((e) => errorOf(e.id)))).every(Boolean), { timeout: 30_000 }).toBe(true);
    const errors = await Promise.all(eps.map((e) => errorOf(e.id)));
    expect(errors[0]).toMatch(/^refused: 127\.0\.0\.1 .*loopback/);
    expect(errors[1]).toMatch(/^refused: localhost resolves to .*loopback/);
    expect(errors[2]).toMatch(/^refused: .*loopback/);
    expect(errors[3]).toMatch(/^refused: 169\.254\.169\.254 .*linkLocal/);
    expect(errors[4]).toMatch(/^refused: 10\.1\.2\.3 .*private/);
    expect(r.got).toHaveLength(0);
    for (const e of eps) expect(await states(e.id)).toEqual({ pending: 1 });

    // The same deliveries go out once private networks are allowed (due again after their first retry wait).
    await started.splice(0).reduce((p, d) => p.then(() => d.kill()), Promise.resolve());
    await dispatcher({ EVENT_ALLOW_PRIVATE_NETWORKS: 'true' });
    await expect.poll(() => r.acknowledged.map((a) => a.path).sort(), { timeout: 30_000 }).toEqual(['/a', '/b', '/c']);
  });

  it('a 410 disables the endpoint (its other deliveries are not attempted); an endpoint failing for EVENT_DISABLE_AFTER_MS is disabled too', async () => {
    const gone = await receiver(() => 410);
    const failing = await receiver(() => 503);
    const healthy = await receiver();
    const g = await endpoint(gone);
    const f = await endpoint(failing);
    await prisma.eventEndpoint.update({ where: { id: f.id }, data: { failingSince: new Date(Date.now() - 4 * 24 * 3_600_000) } });
    await dispatcher();
    const contact = randomUUID();
    await record([contact, randomUUID()], 3);
    await expect.poll(async () => (await prisma.eventEndpoint.findUniqueOrThrow({ where: { id: g.id } })).enabled, { timeout: 30_000 }).toBe(false);
    await expect.poll(async () => (await prisma.eventEndpoint.findUniqueOrThrow({ where: { id: f.id } })).enabled, { timeout: 30_000 }).toBe(false);
    const [ge, fe] = await Promise.all([g, f].map((e) => prisma.eventEndpoint.findUniqueOrThrow({ where: { id: e.id } })));
    expect(ge.disabledAt).not.toBeNull();
    expect(ge.disabledReason).toContain('410');
    expect(fe.disabledAt).not.toBeNull();
    expect(fe.disabledReason).toMatch(/every delivery failed since .* HTTP 503/);

    // Later work gets done (a new endpoint's event delivered) while the disabled endpoints get nothing more.
    const goneRequests = gone.got.length;
    const failingRequests = failing.got.length;
    const h = await endpoint(healthy);
    await record([contact], 1);
    await expect.poll(() => healthy.acknowledged.length, { timeout: 30_000 }).toBe(1);
    await expect.poll(async () => (await states(h.id)).delivered).toBe(1);
    expect(gone.got.length).toBe(goneRequests);
    expect(failing.got.length).toBe(failingRequests);
    expect(goneRequests).toBeLessThanOrEqual(4);
    expect((await states(g.id)).pending).toBe(6);
    expect((await attemptsOf(g.id)).filter((a) => a.status_code === 410)).toHaveLength(goneRequests);
  });

  it(`keeps the last ${EVENT_ATTEMPT_LOG_MAX} attempts in a delivery's log, and counts every one`, async () => {
    const r = await receiver();
    const e = await endpoint(r);
    await record([randomUUID()], 1);
    // A delivery retried by hand many times: its log is full.
    const old = Array.from({ length: EVENT_ATTEMPT_LOG_MAX }, (_, i) => ({ at: new Date(Date.now() - 60_000 + i).toISOString(), status_code: 500, latency_ms: i, error: `HTTP 500 #${i}` }));
    await prisma.eventDelivery.updateMany({ where: { endpointId: e.id }, data: { attempts: 30, attemptLog: old } });
    await dispatcher();
    await expect.poll(() => states(e.id), { timeout: 30_000 }).toEqual({ delivered: 1 });
    const d = await prisma.eventDelivery.findFirstOrThrow({ where: { endpointId: e.id } });
    expect(d.attempts).toBe(31);
    const log = d.attemptLog as unknown as EventAttemptLogEntry[];
    expect(log).toHaveLength(EVENT_ATTEMPT_LOG_MAX);
    expect(log.slice(0, -1)).toEqual(old.slice(1));
    expect(log[log.length - 1]).toMatchObject({ at: d.lastAttemptAt!.toISOString(), status_code: 200, error: null });
  });

  it('follows EVENT_RETRY_SCHEDULE_MS and ends in failed; the contact\'s next event goes after it', async () => {
    const contact = randomUUID();
    const r = await receiver((req) => (req.json.data.n === 0 ? 500 : 200));
    const e = await endpoint(r);
    await dispatcher({ EVENT_RETRY_SCHEDULE_MS: '300,900' });
    await record([contact], 2);
    await expect.poll(() => r.acknowledged.length, { timeout: 30_000 }).toBe(1);
    await expect.poll(() => states(e.id)).toEqual({ failed: 1, delivered: 1 });
    expect(r.got.map((g) => [g.json.data.n, g.status])).toEqual([[0, 500], [0, 500], [0, 500], [1, 200]]);
    const first = await prisma.eventDelivery.findFirstOrThrow({ where: { endpointId: e.id, state: 'failed' } });
    expect(first.attempts).toBe(3);
    expect(first.failedAt).not.toBeNull();
    expect(first.lastStatus).toBe(500);
    const log = first.attemptLog as unknown as EventAttemptLogEntry[];
    expect(log.map((a) => a.status_code)).toEqual([500, 500, 500]);
    // The last entry is the attempt last_attempt_at records.
    expect(log[2].at).toBe(first.lastAttemptAt!.toISOString());
    const at = log.map((a) => Date.parse(a.at));
    // The waits between attempts are the schedule's (±10% jitter).
    expect(at[1] - at[0]).toBeGreaterThanOrEqual(270);
    expect(at[2] - at[1]).toBeGreaterThanOrEqual(810);
    expect(await states(e.id)).toEqual({ failed: 1, delivered: 1 });
  });

  it('leaves a busy endpoint\'s due deliveries as they are while it is full (no put-off, no rewrite), and delivers them all', async () => {
    // Answers in 100 ms with 2 slots: the dispatcher holds a few and has the rest due while the endpoint is full.
    const r = await receiver(undefined, 100);
    const e = await endpoint(r);
    await dispatcher({ EVENT_ENDPOINT_CONCURRENCY: '2' });
    // A first event teaches the dispatcher the endpoint's latency; then 60 come at once.
    await record([randomUUID()], 1);
    await expect.poll(() => r.acknowledged.length).toBe(1);
    await recordEvents(pool, Array.from({ length: 60 }, (_, n) => ({ tenantId: tenant.tenantId, teamId: null, type: 'message.received' as const, contactId: randomUUID(), data: { n } })));
    const due = async () => (await prisma.eventDelivery.findMany({ where: { endpointId: e.id }, orderBy: { seq: 'asc' }, select: { nextAttemptAt: true } })).map((d) => d.nextAttemptAt.toISOString());
    const before = await due();
    await expect.poll(() => r.acknowledged.length, { timeout: 30_000 }).toBe(61);
    await expect.poll(() => states(e.id)).toEqual({ delivered: 61 });
    // None was put off: each went once, at the due time it was written with.
    expect(await due()).toEqual(before);
    expect(new Set(r.acknowledged.map((a) => a.json.id)).size).toBe(61);
  });

  it('claims a trickle of events once each: a claim whose scan saw every due row is not followed by an empty one', async () => {
    const r = await receiver();
    await endpoint(r);
    const d = await dispatcher();
    const claims = async () => {
      const text = await (await fetch(`${d.url}/metrics`)).text();
      return [...text.matchAll(/^gtc_event_claims_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    };
    const before = await claims();
    // One event at a time, each recorded after the one before was acknowledged (a NOTIFY and a claim each).
    const contacts = Array.from({ length: 10 }, () => randomUUID());
    for (const [i, c] of contacts.entries()) {
      await record([c], 1);
      await expect.poll(() => r.acknowledged.length).toBe(i + 1);
    }
    // One claim leased each event; a second one right after it, finding nothing, was spared.
    expect(await claims() - before).toBeLessThanOrEqual(contacts.length + 2);
    // All plain SQL: Prisma's query compiler (tens of MB of native memory) was never loaded.
    expect((await (await fetch(`${d.url}/health`)).json()).info.prisma_client).toBe('unused');
  });
});
