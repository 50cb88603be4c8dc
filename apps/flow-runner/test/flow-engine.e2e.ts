import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type AppConfig, loadConfig } from '@gtc/config';
import type { FlowEngineService as Engine } from '../src/flow-engine.service';
import type { EngineTask } from '../src/engine.worker';

// The engine threads of the built flow-runner (dist: the worker thread runs engine.worker.js beside it). Tasks queued
// while the threads work go together in one message; a task that fails fails alone, and a thread that ends mid-batch
// loses no task: its batch is tried again task by task.
const require = createRequire(import.meta.url);
const { FlowEngineService } = require(resolve(__dirname, '../dist/flow-engine.service.js')) as { FlowEngineService: new (config: AppConfig) => Engine };
/** An engine with FLOW_ENGINE_THREADS threads (default 1). */
const engineWith = (threads?: number) => new FlowEngineService(loadConfig(threads ? { FLOW_ENGINE_THREADS: String(threads) } : {}));

/** A task the engine answers at once: a match with no event matches nothing. */
const noEvent = (): EngineTask => ({ kind: 'match', flows: [], context: {} as never, vars: {} });
/** A task the engine throws on: a flow to start that is not there. */
const broken = (): EngineTask => ({ kind: 'start', flow: null as never, context: {} as never, vars: {} });

let engine: Engine | undefined;
afterEach(async () => {
  await engine?.onModuleDestroy();
  engine = undefined;
});

/** The engine's threads, to watch batches form and to end one mid-batch. */
type Threads = { worker: { terminate(): Promise<number>; postMessage(tasks: unknown[]): void }; busy?: { batch: unknown[] } }[];
const threadsOf = (e: Engine) => (e as unknown as { threads: Threads }).threads;
/** From now on, the number of tasks in each message posted to the engine's threads. */
function batchesPosted(e: Engine): number[] {
  const sizes: number[] = [];
  for (const { worker } of threadsOf(e)) {
    const post = worker.postMessage.bind(worker);
    worker.postMessage = (tasks) => {
      sizes.push(tasks.length);
      post(tasks);
    };
  }
  return sizes;
}

describe('flow engine threads', () => {
  it('answers queued tasks in batches, and a task that throws fails alone', async () => {
    engine = engineWith();
    const tasks = Array.from({ length: 60 }, (_, i) => (i === 17 ? broken() : noEvent()));
    const runs = tasks.map((t) => engine!.run(t));
    expect(threadsOf(engine)).toHaveLength(1);
    const sizes = batchesPosted(engine);
    const outcomes = await Promise.allSettled(runs);
    expect(outcomes.filter((o) => o.status === 'fulfilled').map((o) => (o as PromiseFulfilledResult<unknown>).value)).toEqual(
      Array.from({ length: 59 }, () => ({ noMatch: true })),
    );
    expect(outcomes[17].status).toBe('rejected');
    // The thread was still loading while all 60 queued: it got them in two messages, the first 32 and the rest.
    expect(sizes).toEqual([32, 28]);
  });

  it('loses no task when a thread ends in the middle of a batch: each is run again on its own', async () => {
    engine = engineWith(2);
    // Both threads loaded first, then enough queued for batches, and one thread ended while it works on one.
    await Promise.all([engine.run(noEvent()), engine.run(noEvent())]);
    expect(threadsOf(engine)).toHaveLength(2);
    const runs = Array.from({ length: 2000 }, () => engine!.run(noEvent()));
    // The first two go alone (each to an idle thread); the rest queue and go in batches as those answer. Watched on
    // a timer, not per turn of the event loop: on a loaded machine the first answers can take longer than many
    // turns, and 2,000 tasks keep batches forming long after they come.
    let busy: Threads[number] | undefined;
    for (let i = 0; i < 10_000 && !busy; i++) {
      busy = threadsOf(engine).find((t) => (t.busy?.batch.length ?? 0) > 1);
      if (!busy) await new Promise((r) => setTimeout(r, 1));
    }
    expect(busy?.busy?.batch.length).toBeGreaterThan(1);
    await busy!.worker.terminate();
    const outcomes = await Promise.allSettled(runs);
    expect(outcomes.map((o) => o.status)).toEqual(Array.from({ length: 2000 }, () => 'fulfilled'));
  });

  it('loads the step engine alone in a thread: no flow loader, YAML parser, flow schemas or HTTP client', () => {
    // Each engine thread is a V8 heap of its own: what its module loads stays resident there (pnpm bench e2e).
    const loaded: string[] = JSON.parse(
      execFileSync(process.execPath, ['-e', `require(${JSON.stringify(resolve(__dirname, '../dist/engine.worker.js'))}); console.log(JSON.stringify(Object.keys(require.cache)))`], { encoding: 'utf8' }),
    );
    expect(loaded.some((f) => f.endsWith('libs/flows/dist/flow.engine.js'))).toBe(true);
    expect(loaded.some((f) => f.endsWith('libs/flows/dist/trigger.matcher.js'))).toBe(true);
    expect(loaded.filter((f) => /\/node_modules\/(yaml|undici)\/|libs\/flows\/dist\/(flow\.loader|flow\.schema|flow\.validator)\.js|graph-api\.client\.js/.test(f))).toEqual([]);
  });
});
