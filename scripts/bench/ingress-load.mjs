// The ingress benchmark's load tool in a process of its own (BENCH_INPUT: { url, phoneNumberId, appSecret,
// durationS, overallRate? }): autocannon, 50 connections, no pipelining, unique signed webhook payloads. Prints
// autocannon's summary figures as one JSON line.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import autocannon from 'autocannon';

const require = createRequire(import.meta.url);
const { signPayload } = require(resolve(import.meta.dirname, '../../libs/whatsapp/dist/index.js'));
const { url, phoneNumberId, appSecret, durationS, overallRate } = JSON.parse(process.env.BENCH_INPUT);

let n = 0;
function setupRequest(req) {
  const id = `wamid.bench.${process.pid}.${Date.now().toString(36)}.${++n}`;
  const from = String(15550000000 + (n % 5000));
  const body = JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: 'WABA', changes: [{ field: 'messages', value: {
      messaging_product: 'whatsapp',
      metadata: { display_phone_number: '15550000000', phone_number_id: phoneNumberId },
      contacts: [{ profile: { name: 'Bench' }, wa_id: from }],
      messages: [{ from, id, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: 'hello bench' } }],
    } }] }],
  });
  return { ...req, body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signPayload(body, appSecret) } };
}

const r = await autocannon({ url, connections: 50, pipelining: 1, duration: durationS, method: 'POST', requests: [{ method: 'POST', setupRequest }], ...(overallRate ? { overallRate } : {}) });
process.stdout.write(JSON.stringify({
  requests_per_s: Math.round(r.requests.average),
  p50_ms: r.latency.p50,
  p99_ms: r.latency.p99,
  non_2xx: r.non2xx,
  errors: r.errors,
  total: r.requests.total,
}) + '\n');
