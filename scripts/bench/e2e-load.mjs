// The end-to-end load generator, run in a process of its own (BENCH_INPUT: { graphSimUrl, phoneNumberId, rate,
// durationS, users }): an open loop of `rate` simulated users' messages per second through graph-sim's
// POST /sim/inbound/batch, one request every 100 ms. Prints { started_at, sent, seconds, requests } when done, then
// idles until stopped, so that its CPU time can still be read from /proc at the end of the counted window.
import { setInterval } from 'node:timers';

const { graphSimUrl, phoneNumberId, rate, durationS, users } = JSON.parse(process.env.BENCH_INPUT);
const started = Date.now();
let sent = 0;
let requests = 0;
for (let tick = 0; tick < durationS * 10; tick++) {
  const batch = Array.from({ length: Math.max(1, Math.round(rate / 10)) }, () => ({ phone_number_id: phoneNumberId, from: String(4916000000000 + (sent++ % users)), text: 'ping' }));
  const res = await fetch(`${graphSimUrl}/sim/inbound/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch) });
  requests++;
  if (res.status !== 202) throw new Error(`graph-sim answered ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
  const wait = started + (tick + 1) * 100 - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
process.stdout.write(JSON.stringify({ started_at: started, sent, seconds: (Date.now() - started) / 1000, requests }) + '\n');
process.on('SIGTERM', () => process.exit(0));
setInterval(() => {}, 60_000);
