import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { EngineAnswer, EngineOutcome, EngineTask } from './engine.worker';

/**
 * Wall-clock budget of one step's engine work, in ms. Patterns and expressions are bounded (RE2, 4096-character
 * inputs, AST and value caps), so a step takes milliseconds; this is the last resort for anything that is not.
 */
export const ENGINE_STEP_TIMEOUT_MS = 2_000;
/** Heap of one engine thread, in MB: a value that grows past it ends that thread, not the flow-runner. */
const THREAD_HEAP_MB = 256;
/**
 * Young generation of one engine thread, in MB. A step's work allocates little, and V8's default (16 MB a
 * semi-space) is resident in each thread: with 4, the flow-runner's peak RSS under pnpm bench e2e fell by ~20 MB.
 */
const THREAD_YOUNG_MB = 4;

/**
 * Most tasks one message to a thread carries. Under load, tasks queue while the threads work, and the next message
 * takes them together: one hand-off between threads per batch instead of per step (each hand-off wakes the other
 * thread, a costly system call on a VM; pnpm bench profiles showed it as a quarter of the flow-runner's CPU).
 */
const MAX_BATCH = 32;

interface Pending {
  task: EngineTask;
  resolve: (answer: EngineAnswer) => void;
  reject: (err: Error) => void;
  /** Run alone: its batch overran or ended its thread, so each of that batch's tasks is tried on its own. */
  solo?: boolean;
}

interface Thread {
  worker: Worker;
  /** The engine has loaded in the thread (its budget must not include loading). */
  ready: boolean;
  busy?: { batch: Pending[]; timer: NodeJS.Timeout };
}

/**
 * Runs the flow engine in worker threads, one batch of tasks per thread at a time, each batch under
 * ENGINE_STEP_TIMEOUT_MS: a thread that overruns (or dies) is replaced, and its tasks are tried again one by one, so
 * that only the guilty step fails, while the event loop keeps serving /health, the database and other tenants' steps.
 */
@Injectable()
export class FlowEngineService implements OnModuleDestroy {
  private readonly threads: Thread[] = [];
  private queue: Pending[] = [];
  private closed = false;
  /** FLOW_ENGINE_THREADS: how many threads run the engine. */
  private readonly size: number;

  constructor(config: AppConfig) {
    this.size = config.env.FLOW_ENGINE_THREADS;
  }

  /** Runs one step's engine work; rejects when it overruns its budget or its thread dies. */
  run(task: EngineTask): Promise<EngineAnswer> {
    return new Promise((resolve, reject) => {
      this.queue.push({ task, resolve, reject });
      this.dispatch();
    });
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    await Promise.all(this.threads.splice(0).map((t) => t.worker.terminate()));
  }

  private dispatch(): void {
    if (this.closed) return;
    while (this.threads.length < this.size) this.threads.push(this.spawn());
    for (const thread of this.threads) {
      if (thread.busy || !thread.ready || !this.queue.length) continue;
      // A solo task goes alone; otherwise the batch takes queued tasks up to the next solo one.
      let n = 1;
      if (!this.queue[0].solo) while (n < Math.min(MAX_BATCH, this.queue.length) && !this.queue[n].solo) n++;
      const batch = this.queue.splice(0, n);
      const timer = setTimeout(() => this.fail(thread, new Error(`the step's flow work exceeded ${ENGINE_STEP_TIMEOUT_MS} ms and was stopped`)), ENGINE_STEP_TIMEOUT_MS);
      thread.busy = { batch, timer };
      thread.worker.postMessage(batch.map((p) => p.task));
    }
  }

  private spawn(): Thread {
    const worker = new Worker(resolve(__dirname, 'engine.worker.js'), { resourceLimits: { maxOldGenerationSizeMb: THREAD_HEAP_MB, maxYoungGenerationSizeMb: THREAD_YOUNG_MB } });
    const thread: Thread = { worker, ready: false };
    worker.on('message', (msg: { ready: true } | EngineOutcome[]) => {
      if (!Array.isArray(msg)) {
        thread.ready = true;
        this.dispatch();
        return;
      }
      const busy = thread.busy;
      if (!busy) return;
      clearTimeout(busy.timer);
      thread.busy = undefined;
      busy.batch.forEach((p, i) => {
        const outcome = msg[i];
        if (outcome && 'answer' in outcome) p.resolve(outcome.answer);
        else p.reject(new Error(outcome?.error ?? 'the flow engine failed'));
      });
      this.dispatch();
    });
    worker.on('error', (err) => this.fail(thread, err));
    worker.on('exit', () => this.fail(thread, new Error('the flow engine thread stopped')));
    worker.unref();
    return thread;
  }

  /**
   * Ends the thread and starts another for the queue. Its task fails; a batch's tasks go back to the front of the
   * queue to be tried one by one (the engine is pure: running a step's work again changes nothing).
   */
  private fail(thread: Thread, err: Error): void {
    const index = this.threads.indexOf(thread);
    if (index < 0) return;
    this.threads.splice(index, 1);
    const busy = thread.busy;
    thread.busy = undefined;
    if (busy) {
      clearTimeout(busy.timer);
      if (busy.batch.length === 1) busy.batch[0].reject(err);
      else this.queue = [...busy.batch.map((p) => ({ ...p, solo: true })), ...this.queue];
    }
    void thread.worker.terminate();
    this.dispatch();
  }
}
