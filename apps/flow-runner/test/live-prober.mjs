// Probes GET <url> one request after another in a thread of its own (so the test's own work never delays a probe)
// until told to stop; then posts the latencies in ms (null for an answer other than 200).
import { parentPort, workerData } from 'node:worker_threads';

let stop = false;
parentPort.once('message', () => (stop = true));
const latencies = [];
await (await fetch(workerData.url)).text(); // the thread's first request sets up fetch and the connection: not timed
while (!stop) {
  const started = performance.now();
  const res = await fetch(workerData.url);
  await res.text();
  latencies.push(res.status === 200 ? performance.now() - started : null);
  await new Promise((r) => setImmediate(r));
}
parentPort.postMessage(latencies);
