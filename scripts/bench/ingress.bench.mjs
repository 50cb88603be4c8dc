// Ingress benchmark: a bare node:http server answering 200 vs the real ingress (signature check, durable
// dedup, enqueue), same load tool and settings: unique signed payloads, 50 connections, no pipelining. The load
// tool (ingress-load.mjs) and the bare server (bare-server.mjs) each run in a process of their own, so that neither
// shares a core's event loop with the other and the baseline is not capped by the load tool. The real run also counts
// what each webhook cost (counters.mjs): CPU by process (ingress, its Postgres backends, Redis, the load tool),
// Postgres transactions and WAL records, Redis commands, jobs.
// Then a flood of statuses (status_flood): 256 connections, as graph-sim delivers, each webhook carrying 100 statuses of
// messages another app sent from the number (no job follows them): statuses written per second, and what each cost,
// ingress's peak RSS among it, with the default body budget and flush size.
import { createCounters } from './counters.mjs';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
/** The status flood: connections at once (graph-sim's webhook concurrency) and statuses per webhook. */
const FLOOD = { connections: 256, statuses: 100 };

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
    },
    targets: { ratio_min: 0.3, p99_ms_max_at_1000_rps: 50 },
  };
}
