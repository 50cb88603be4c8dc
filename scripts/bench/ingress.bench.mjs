// Ingress benchmark: a bare node:http server answering 200 vs the real ingress (signature check, durable
// dedup, enqueue), same load tool and settings: unique signed payloads, 50 connections, no pipelining. The load
// tool (ingress-load.mjs) and the bare server (bare-server.mjs) each run in a process of their own, so that neither
// shares a core's event loop with the other and the baseline is not capped by the load tool. The real run also counts
// what each webhook cost (counters.mjs): CPU by process (ingress, its Postgres backends, Redis, the load tool),
// Postgres transactions and WAL records, Redis commands, jobs.
// Then a flood of statuses (status_flood): 256 connections, as graph-sim delivers, each webhook carrying 100 statuses of
// messages another app sent from the number (no job follows them): statuses written per second, and what each cost,
// ingress's peak RSS among it, with the default body budget and flush size; then what ingress and Postgres cost a second
// at rest with those statuses kept and 100,000 messages of the number's own sent (at_rest_per_second: the reconciler's
// passes).
import { createCounters } from './counters.mjs';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
/** The status flood: connections at once (graph-sim's webhook concurrency) and statuses per webhook. */
const FLOOD = { connections: 256, statuses: 100 };
/**
 * After the flood: messages the number sent itself, seconds until the flood's statuses are older than the reconciler's
 * minimum age (5 s), then seconds counted.
 */
const REST = { ownMessages: 100_000, waitS: 6, durationS: 10 };

/** Runs autocannon in its own process against `url`; resolves with its summary figures. */
async function run(env, url, p, extra = {}) {
  const load = env.script('load generator', 'ingress-load.mjs', { url, phoneNumberId: p.phoneNumberId, appSecret: p.appSecret, durationS: DURATION_S, ...extra });
  const result = await load.next();
  await load.stop();
  if (!result) throw new Error('the load generator stopped without its figures');
  return result;
}

/** Runs the ingress benchmark in the given environment. */
export async function ingressBench(env) {
  const p = await env.provider();
  const path = `/webhook/whatsapp/${p.tenantSlug}/${p.teamSlug}`;
  const bare = env.script('bare node:http', 'bare-server.mjs', {});
  const { port } = await bare.next();
  const bareResult = await run(env, `http://127.0.0.1:${port}${path}`, p);
  await bare.stop();

  const ingress = await env.start('ingress');
  await run(env, `${ingress.url}${path}`, p, { durationS: 2 }); // warm-up
  const counters = await createCounters(env);
  const before = await counters.snapshot();
  const real = await run(env, `${ingress.url}${path}`, p);
  const after = await counters.snapshot();
  await counters.close();
  const fixed = await run(env, `${ingress.url}${path}`, p, { overallRate: 1000 });
  const recorded = await env.prisma.inboundMessage.count({ where: { providerId: p.providerId } });

  const floodCounters = await createCounters(env);
  const floodBefore = await floodCounters.snapshot();
  const flood = await run(env, `${ingress.url}${path}`, p, FLOOD);
  const floodAfter = await floodCounters.snapshot();
  await floodCounters.close();
  const statuses = await env.prisma.statusEvent.count({ where: { providerId: p.providerId } });

  // At rest after the flood, its statuses kept unapplied (another app's), the number having sent REST.ownMessages of its
  // own (analyzed, as autovacuum would have): what ingress and Postgres cost a second (the reconciler's passes), once
  // those statuses are old enough for its sweep.
  await env.prisma.$executeRawUnsafe(
    `WITH c AS (INSERT INTO contacts (tenant_id, provider_id, wa_id, updated_at) VALUES ($1::uuid, $2::uuid, '15559990000', now()) RETURNING id)
     INSERT INTO outbound_messages (tenant_id, provider_id, contact_id, seq, type, body, state, wamid, sent_at, delivered_at, updated_at)
     SELECT $1::uuid, $2::uuid, c.id, g, 'text', '{}'::jsonb, 'delivered', 'wamid.own.' || g, now(), now(), now() FROM c, generate_series(1, ${REST.ownMessages}) g`,
    p.tenantId,
    p.providerId,
  );
  await env.prisma.$executeRawUnsafe('ANALYZE outbound_messages, status_events');
  await new Promise((r) => setTimeout(r, REST.waitS * 1000));
  const restCounters = await createCounters(env);
  const restBefore = await restCounters.snapshot();
  await new Promise((r) => setTimeout(r, REST.durationS * 1000));
  const restAfter = await restCounters.snapshot();
  await restCounters.close();
  await ingress.stop();
  return {
    bare: bareResult,
    ingress: real,
    ratio: Number((real.requests_per_s / bareResult.requests_per_s).toFixed(3)),
    cost_per_webhook: counters.cost(before, after, real.total, { webhooks: real.total }),
    at_1000_rps: fixed,
    recorded_rows: recorded,
    status_flood: {
      connections: FLOOD.connections,
      statuses_per_webhook: FLOOD.statuses,
      webhooks_per_s: flood.requests_per_s,
      statuses_per_s: Math.round(statuses / DURATION_S),
      p99_ms: flood.p99_ms,
      non_2xx: flood.non_2xx,
      errors: flood.errors,
      cost_per_status: floodCounters.cost(floodBefore, floodAfter, statuses, { webhooks: flood.total }),
      at_rest_per_second: restCounters.cost(restBefore, restAfter, REST.durationS, {}),
    },
    targets: { ratio_min: 0.3, p99_ms_max_at_1000_rps: 50 },
  };
}
