// The ingress benchmark's load tool in a process of its own (BENCH_INPUT: { url, phoneNumberId, appSecret,
// durationS, overallRate?, connections?, statuses? }): autocannon, 50 connections unless told, no pipelining, unique
// signed webhook payloads: one inbound message each, or with `statuses`, that many statuses of messages this number
// sent from another app (unknown to gtc, without biz_opaque_callback_data). Prints autocannon's summary figures as one
// JSON line.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import autocannon from 'autocannon';

const require = createRequire(import.meta.url);
const { signPayload } = require(resolve(import.meta.dirname, '../../libs/whatsapp/dist/index.js'));
const { url, phoneNumberId, appSecret, durationS, overallRate, connections = 50, statuses } = JSON.parse(process.env.BENCH_INPUT);

let n = 0;
function setupRequest(req) {
  const id = `wamid.bench.${process.pid}.${Date.now().toString(36)}.${++n}`;
  const from = String(15550000000 + (n % 5000));
  if (statuses) return { ...req, ...signed(statusWebhook(id, from)) };
  const body = JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: 'WABA', changes: [{ field: 'messages', value: {
      messaging_product: 'whatsapp',
      metadata: { display_phone_number: '15550000000', phone_number_id: phoneNumberId },
      contacts: [{ profile: { name: 'Bench' }, wa_id: from }],
      messages: [{ from, id, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: 'hello bench' } }],
    } }] }],
  });
  return { ...req, ...signed(body) };
}

/** A request's body and headers, signed. */
function signed(body) {
  return { body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signPayload(body, appSecret) } };
}

/** A webhook of `statuses` delivered statuses, as Meta batches them, each with its conversation and pricing. */
function statusWebhook(id, to) {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const list = Array.from({ length: statuses }, (_, i) => ({
    id: `${id}.${i}`, status: 'delivered', timestamp, recipient_id: to,
    conversation: { id: `conversation.${id}`, origin: { type: 'service' } },
    pricing: { billable: false, pricing_model: 'PMP', category: 'service', type: 'free_customer_service' },
  }));
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: 'WABA', changes: [{ field: 'messages', value: {
      messaging_product: 'whatsapp',
      metadata: { display_phone_number: '15550000000', phone_number_id: phoneNumberId },
      statuses: list,
    } }] }],
  });
}

const r = await autocannon({ url, connections, pipelining: 1, duration: durationS, method: 'POST', requests: [{ method: 'POST', setupRequest }], ...(overallRate ? { overallRate } : {}) });
process.stdout.write(JSON.stringify({
  requests_per_s: Math.round(r.requests.average),
  p50_ms: r.latency.p50,
  p99_ms: r.latency.p99,
  non_2xx: r.non2xx,
  errors: r.errors,
  total: r.requests.total,
}) + '\n');
