#!/usr/bin/env node
// `pnpm bench`: runs the benchmarks against local Postgres/Redis and services from their build; prints a short
// table (stderr) and the figures as JSON (stdout, and bench-results/latest.json).
// Select with BENCH=ingress,sender,e2e,events (default: all). BENCH_DURATION_S sets the length of each ingress run.
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { benchEnvironment, root } from './bench/harness.mjs';
import { ingressBench } from './bench/ingress.bench.mjs';
import { senderBench } from './bench/sender.bench.mjs';
import { e2eBench } from './bench/e2e.bench.mjs';
import { eventsBench } from './bench/events.bench.mjs';

const selected = (process.env.BENCH ?? 'ingress,sender,e2e,events').split(',');
const env = await benchEnvironment();
const results = { machine: { cores: (await import('node:os')).cpus().length, node: process.version }, at: new Date().toISOString() };
try {
  if (selected.includes('ingress')) results.ingress = await ingressBench(env);
  if (selected.includes('sender')) results.sender = await senderBench(env);
  if (selected.includes('e2e')) results.e2e = await e2eBench(env);
  if (selected.includes('events')) results.events = await eventsBench(env);
} finally {
  await env.close();
}

/** Table lines for one run's cost per answered message (the JSON has every figure). */
function costRows(label, k) {
  const top = (o, n) => Object.entries(o).slice(0, n).map(([name, v]) => `${name} ${v}`).join(', ');
  const jobs = Object.entries(k.jobs.by_queue).map(([q, v]) => `${q} ${v}`).join(', ');
  return [
    [label, `CPU ${k.cpu_ms.total} ms`, `box ${k.cpu_ms.box} ms`, top(k.cpu_ms.by_process, 8)],
    [label, `${k.pg_xacts} pg xacts`, `${k.wal_records} WAL records`, `other databases' xacts in the window: ${k.noise.pg_xacts_other_databases}`],
    [label, `${k.redis_commands.total} Redis cmds`, `${k.jobs.total} jobs`, `${top(k.redis_commands.by_command, 6)}; jobs: ${jobs}`],
    [label, `${k.http.total} HTTP requests`, '', top(k.http.by_endpoint, 5)],
    [label, 'peak RSS (MB)', '', top(k.rss_peak_mb, 8)],
    [label, 'peak own RSS (MB)', 'RssAnon', top(k.rss_anon_peak_mb, 8)],
    ...(k.wal_by_table ? [[label, 'WAL records by table', '', top(k.wal_by_table, 6)]] : []),
    ...(k.wal_by_record ? [[label, 'WAL records by kind', '', top(k.wal_by_record, 4)]] : []),
  ];
}

const rows = [];
if (results.ingress) {
  const i = results.ingress;
  rows.push(['ingress: bare node:http', `${i.bare.requests_per_s} req/s`, `p50 ${i.bare.p50_ms} ms`, `p99 ${i.bare.p99_ms} ms`]);
  rows.push(['ingress: real', `${i.ingress.requests_per_s} req/s`, `p50 ${i.ingress.p50_ms} ms`, `p99 ${i.ingress.p99_ms} ms`]);
  rows.push(['ingress: ratio real/bare', String(i.ratio), 'target ≥ 0.30', '']);
  rows.push(...costRows('ingress: per webhook', i.cost_per_webhook));
  rows.push(['ingress: at 1,000 req/s', `${i.at_1000_rps.requests_per_s} req/s`, `p50 ${i.at_1000_rps.p50_ms} ms`, `p99 ${i.at_1000_rps.p99_ms} ms (target ≤ 50)`]);
  const f = i.status_flood;
  rows.push([`ingress: status flood (${f.connections} conns, ${f.statuses_per_webhook}/webhook)`, `${f.statuses_per_s} statuses/s`, `p99 ${f.p99_ms} ms`, `non-2xx ${f.non_2xx}, errors ${f.errors}`]);
  rows.push(...costRows('ingress: status flood, per status', f.cost_per_status));
  const rest = f.at_rest_per_second;
  rows.push(['ingress: at rest after the flood, a second', `CPU ${rest.cpu_ms.total} ms`, `${rest.pg_xacts} pg xacts`, Object.entries(rest.cpu_ms.by_process).map(([k, v]) => `${k} ${v}`).join(', ')]);
}
if (results.sender) {
  const s = results.sender;
  rows.push(['sender: 1 process, no limit', `${s.one_sender.messages_per_s} msg/s`, `${s.one_sender.messages} msgs`, '']);
  rows.push(['sender: 3 processes, no limit', `${s.three_senders.messages_per_s} msg/s`, `${s.three_senders.messages} msgs`, '']);
  rows.push(['sender: limit 50/s', `${s.limit.achieved_mps} msg/s`, `accuracy ${s.limit.accuracy}`, `worst second ${s.limit.worst_1s_window}`]);
}
if (results.e2e) {
  for (const key of ['one_replica', 'two_replicas'].filter((k) => results.e2e[k])) {
    const { replicas, capacity: c, latency: l } = results.e2e[key];
    rows.push([`e2e: ${replicas} replica(s), capacity (offered ${c.offered_per_s}/s)`, `${c.answered_per_s} answered/s`, `${c.answered}/${c.inbound} answered`, `target ≥ 400/s${c.kept_up ? '; kept up with the offer: capacity ≥ this' : ''}`]);
    rows.push([`e2e: ${replicas} replica(s), latency at ${l.offered_per_s}/s`, `p50 ${l.latency_ms.p50} ms`, `p95 ${l.latency_ms.p95} ms`, `p99 ${l.latency_ms.p99} ms (target ≤ 250)`]);
    const st = l.latency_stages_ms;
    rows.push([`e2e: ${replicas} replica(s), latency stages p50/p95/p99 ms`, `flow ${st.flow.p50}/${st.flow.p95}/${st.flow.p99}`, `queue ${st.queue.p50}/${st.queue.p95}/${st.queue.p99}`, `send ${st.send.p50}/${st.send.p95}/${st.send.p99}`]);
    for (const [run, r] of [['capacity', c], ['latency', l]]) {
      const w = r.sender_waits_per_answered;
      rows.push([`e2e: ${replicas} replica(s), ${run}, sender waits per answered`, `ordering ${w.ordering_waits}`, `limit ${w.limit_waits}`, `retries ${w.retries}; graph-sim webhook backlog peak ${r.graph_sim_webhook_backlog_peak}`]);
    }
    for (const [run, r] of [['capacity', c], ['latency', l]]) rows.push(...costRows(`e2e: ${replicas} replica(s), ${run}, per answered`, r.cost_per_answered));
  }
}
if (results.events) {
  const e = results.events;
  rows.push([`events: 1 dispatcher, ${e.endpoints} endpoints`, `${e.events_per_s} events/s`, `${e.delivered}/${e.events} delivered`, `${e.attempts} attempts (target ≥ 1,000/s)`]);
  rows.push(...costRows('events: per event delivered', e.cost_per_event));
}
const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c].length)));
for (const r of rows) process.stderr.write(r.map((v, c) => v.padEnd(widths[c])).join('  ') + '\n');
mkdirSync(resolve(root, 'bench-results'), { recursive: true });
writeFileSync(resolve(root, 'bench-results/latest.json'), JSON.stringify(results, null, 2));
process.stdout.write(JSON.stringify(results) + '\n');
