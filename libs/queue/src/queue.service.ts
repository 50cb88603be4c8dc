import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { JobsOptions, Queue } from 'bullmq';
import { JobPayloads, QueueName } from './queue.contracts';
import { RedisService } from './redis.service';

/**
 * Completed jobs are kept briefly (so a duplicate enqueue of the same id is dropped). A job that keeps failing
 * (e.g. Postgres down) is retried with backoff, then removed: its row is still unfinished, so the reconciler
 * enqueues it again later.
 */
export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: { age: 600, count: 20_000 },
  removeOnFail: true,
};

/**
 * Options every worker uses. A worker that dies (kill -9) holds its jobs only until its lock expires: short
 * locks (renewed every lockDuration/2 while the process lives) and a frequent stall check bring them back fast.
 */
export const WORKER_OPTIONS = { lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 5 } as const;

/** Typed producers for every queue, sharing the service's fail-fast Redis connection. */
@Injectable()
export class QueueService implements OnModuleDestroy {
  private readonly queues = new Map<QueueName, Queue>();

  constructor(private readonly redis: RedisService) {}

  /** The BullMQ queue of that name. */
  queue<N extends QueueName>(name: N): Queue<JobPayloads[N]> {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.redis.client, prefix: this.redis.prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS });
      q.on('error', () => undefined);
      this.queues.set(name, q);
      // BullMQ keeps a failed initialisation (Redis went away while the queue was being set up) as a rejected
      // promise that every later call gets again. Forget such a queue: the next call builds a fresh one.
      const created = q;
      created.waitUntilReady().catch(() => {
        if (this.queues.get(name) === created) this.queues.delete(name);
        void created.close().catch(() => undefined);
      });
    }
    return q as unknown as Queue<JobPayloads[N]>;
  }

  /**
   * Enqueues jobs in one round trip; ids are deterministic so re-enqueueing a live job is a no-op.
   * Throws at once when Redis is not connected.
   */
  async addBulk<N extends QueueName>(
    name: N,
    jobs: { id: string; data: JobPayloads[N]; opts?: JobsOptions }[],
  ): Promise<void> {
    if (!jobs.length) return;
    // Fail fast while Redis is away (a queue set up now would wait for Redis); the reconcilers enqueue later.
    if (this.redis.client.status !== 'ready') throw new Error(`Redis is not connected (${this.redis.client.status})`);
    const q = this.queue(name) as unknown as Queue;
    await q.addBulk(jobs.map((j) => ({ name, data: j.data, opts: { ...j.opts, jobId: j.id } })));
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
  }
}
