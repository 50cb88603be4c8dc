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
    }
    return q as unknown as Queue<JobPayloads[N]>;
  }

  /** Enqueues jobs in one round trip; ids are deterministic so re-enqueueing a live job is a no-op. */
  async addBulk<N extends QueueName>(
    name: N,
    jobs: { id: string; data: JobPayloads[N]; opts?: JobsOptions }[],
  ): Promise<void> {
    if (!jobs.length) return;
    const q = this.queue(name) as unknown as Queue;
    await q.addBulk(jobs.map((j) => ({ name, data: j.data, opts: { ...j.opts, jobId: j.id } })));
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
  }
}
