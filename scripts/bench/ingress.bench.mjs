// Ingress benchmark: a bare node:http server answering 200 vs the real ingress (signature check, durable
// dedup, enqueue), same load tool and settings: unique signed payloads, 50 connections, no pipelining.
import { createServer } from 'node:http';
import { once } from 'node:events';
import autocannon from 'autocannon';
import { whatsapp } from './harness.mjs';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);

function payloads(p) {
  let n = 0;
  return (req) => {
    const id = `wamid.bench.${process.pid}.${Date.now().toString(36)}.${++n}`;
    const from = String(15550000000 + (n % 5000));
    const body = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [{ id: 'WABA', changes: [{ field: 'messages', value: {
        messaging_product: 'whatsapp',
        metadata: { display_phone_number: '15550000000', phone_number_id: p.phoneNumberId },
        contacts: [{ profile: { name: 'Bench' }, wa_id: from }],
        messages: [{ from, id, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: 'hello bench' } }],
      } }] }],
    });
    return { ...req, body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': whatsapp.signPayload(body, p.appSecret) } };
  };
}

function run(url, setupRequest, extra = {}) {
  return new Promise((resolve, reject) => {
    autocannon(
      { url, connections: 50, pipelining: 1, duration: DURATION_S, method: 'POST', requests: [{ method: 'POST', setupRequest }], ...extra },
      (err, r) => (err ? reject(err) : resolve(r)),
    );
  });
}

const summary = (r) => ({
  requests_per_s: Math.round(r.requests.average),
  p50_ms: r.latency.p50,
  p99_ms: r.latency.p99,
  non_2xx: r.non2xx,
  errors: r.errors,
  total: r.requests.total,
});

/** Runs the ingress benchmark in the given environment. */
export async function ingressBench(env) {
  const bare = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200).end('{"received":true}'));
  }).listen(0, '127.0.0.1');
  await once(bare, 'listening');
  const p = await env.provider();
  const path = `/webhook/whatsapp/${p.tenantSlug}/${p.teamSlug}`;
  const bareResult = summary(await run(`http://127.0.0.1:${bare.address().port}${path}`, payloads(p)));
  bare.close();

  const ingress = await env.start('ingress');
  await run(`${ingress.url}${path}`, payloads(p), { duration: 2 }); // warm-up
  const real = summary(await run(`${ingress.url}${path}`, payloads(p)));
  const fixed = summary(await run(`${ingress.url}${path}`, payloads(p), { overallRate: 1000 }));
  const recorded = await env.prisma.inboundMessage.count({ where: { providerId: p.providerId } });
  await ingress.stop();
  return {
    bare: bareResult,
    ingress: real,
    ratio: Number((real.requests_per_s / bareResult.requests_per_s).toFixed(3)),
    at_1000_rps: fixed,
    recorded_rows: recorded,
    targets: { ratio_min: 0.25, p99_ms_max_at_1000_rps: 50 },
  };
}
