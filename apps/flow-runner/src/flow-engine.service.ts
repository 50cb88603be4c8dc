import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { EngineAnswer, EngineTask } from './engine.worker';

/** Engine threads: two, for the two cores a flow-runner is sized for (one slow step does not hold every other). */
const THREADS = 2;
/**
 * Wall-clock budget of one step's engine work, in ms. Patterns and expressions are bounded (RE2, 4096-character
 * inputs, AST and value caps), so a step takes milliseconds; this is the last resort for anything that is not.
 */
export const ENGINE_STEP_TIMEOUT_MS = 2_000;
/** Heap of one engine thread, in MB: a value that grows past it ends that thread, not the flow-runner. */
const THREAD_HEAP_MB = 256;

interface Pending {
  task: EngineTask;
  resolve: (answer: EngineAnswer) => void;
  reject: (err: Error) => void;
}

interface Thread {
  worker: Worker;
  /** The engine has loaded in the thread (its budget must not include loading). */
  ready: boolean;
  busy?: Pending & { timer: NodeJS.Timeout };
}

/**
 * Runs the flow engine in worker threads, one task per thread at a time, each under ENGINE_STEP_TIMEOUT_MS: a
 * thread that overruns (or dies) is replaced and its step fails, while the event loop keeps serving /health,
 * the database and other tenants' steps.
 */
@Injectable()
export class FlowEngineService implements OnModuleDestroy {
  private readonly threads: Thread[] = [];
  private readonly queue: Pending[] = [];
  private closed = false;

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
    while (this.threads.length < THREADS) this.threads.push(this.spawn());
    for (const thread of this.threads) {
      if (thread.busy || !thread.ready) continue;
      const next = this.queue.shift();
      if (!next) return;
      const timer = setTimeout(() => this.fail(thread, new Error(`the step's flow work exceeded ${ENGINE_STEP_TIMEOUT_MS} ms and was stopped`)), ENGINE_STEP_TIMEOUT_MS);
      thread.busy = { ...next, timer };
      thread.worker.postMessage(next.task);
    }
  }

  private spawn(): Thread {
    const worker = new Worker(resolve(__dirname, 'engine.worker.js'), { resourceLimits: { maxOldGenerationSizeMb: THREAD_HEAP_MB } });
    const thread: Thread = { worker, ready: false };
    worker.on('message', (msg: { ready?: boolean; answer?: EngineAnswer; error?: string }) => {
      if (msg.ready) {
        thread.ready = true;
        this.dispatch();
        return;
      }
      const busy = thread.busy;
      if (!busy) return;
      clearTimeout(busy.timer);
      thread.busy = undefined;
      if (msg.answer) busy.resolve(msg.answer);
      else busy.reject(new Error(msg.error ?? 'the flow engine failed'));
      this.dispatch();
    });
    worker.on('error', (err) => this.fail(thread, err));
    worker.on('exit', () => this.fail(thread, new Error('the flow engine thread stopped')));
    worker.unref();
    return thread;
  }

  /** Fails the thread's task (if any), ends the thread and starts another for the queue. */
  private fail(thread: Thread, err: Error): void {
    const index = this.threads.indexOf(thread);
    if (index < 0) return;
    this.threads.splice(index, 1);
    if (thread.busy) {
      clearTimeout(thread.busy.timer);
      thread.busy.reject(err);
      thread.busy = undefined;
    }
    void thread.worker.terminate();
    this.dispatch();
  }
}
