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

/**
 * Sorts job ids by what Redis really holds, and removes orphans, atomically (one call per batch).
 * KEYS: wait, paused, active, delayed, prioritized, completed, failed. ARGV[1]: the job key prefix; ARGV[2..]: ids.
 * Per id: 0 live (waiting, delayed, prioritized, or held by a worker's lock), 1 no job (free to add), 2 completed
 * or failed (left as is), 3 an orphan hash just removed (in no list, or in the active list with no lock): add again.
 * The lists are read once per call, and only when some id needs them (a list lookup per id would be O(n) each).
 */
const SORT_JOBS = `
local rcall = redis.call
local waiting, active
local function readLists()
  waiting, active = {}, {}
  for _, k in ipairs({ KEYS[1], KEYS[2] }) do
    for _, id in ipairs(rcall('LRANGE', k, 0, -1)) do waiting[id] = true end
  end
  for _, id in ipairs(rcall('LRANGE', KEYS[3], 0, -1)) do active[id] = true end
end
local out = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local key = ARGV[1] .. id
  local r = 0
  if rcall('EXISTS', key) == 0 then
    r = 1
  elseif rcall('EXISTS', key .. ':lock') == 1 or rcall('ZSCORE', KEYS[4], id) or rcall('ZSCORE', KEYS[5], id) then
    r = 0
  elseif rcall('ZSCORE', KEYS[6], id) or rcall('ZSCORE', KEYS[7], id) then
    r = 2
  else
    if not waiting then readLists() end
    if not waiting[id] then
      if active[id] then rcall('LREM', KEYS[3], 0, id) end
      rcall('DEL', key, key .. ':logs')
      r = 3
    end
  end
  out[#out + 1] = r
end
return out
`;

/**
 * Removes completed or failed jobs whose work Postgres says is not done, so they can be added again.
 * KEYS: completed, failed. ARGV[1]: the job key prefix; ARGV[2..]: ids. Per id: 3 removed, 1 gone meanwhile (free
 * to add too), 0 neither (live again, or held by a worker).
 */
const DROP_FINISHED = `
local rcall = redis.call
local out = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local key = ARGV[1] .. id
  local r = 0
  if rcall('EXISTS', key) == 0 then
    r = 1
  elseif rcall('EXISTS', key .. ':lock') == 0 and (rcall('ZSCORE', KEYS[1], id) or rcall('ZSCORE', KEYS[2], id)) then
    rcall('ZREM', KEYS[1], id)
    rcall('ZREM', KEYS[2], id)
    rcall('DEL', key, key .. ':logs')
    r = 3
  end
  out[#out + 1] = r
end
return out
`;

/**
 * Moves delayed jobs to the head of the wait list, next to be taken: a job woken early (its recipient's gate opened,
 * its number resumed) has already waited its turn, so it does not queue again behind every job added meanwhile
 * (BullMQ's promote puts it at the tail: under a backlog, a woken message then waited that backlog again, and the
 * recipient's following messages reached the gate before it and waited in turn). As BullMQ's promote does otherwise:
 * the paused list while the queue is paused, the workers' marker, the `waiting` event, the job's delay reset.
 * KEYS: delayed, wait, paused, meta, marker, events. ARGV[1]: the job key prefix; ARGV[2..]: ids, the first to be
 * taken first. Returns how many moved (an id no longer delayed, taken or gone meanwhile, is left as it is).
 */
const WAKE_DELAYED = `
local rcall = redis.call
local target, paused = KEYS[2], rcall('HEXISTS', KEYS[4], 'paused') == 1
if paused then target = KEYS[3] end
local moved = 0
for i = #ARGV, 2, -1 do
  local id = ARGV[i]
  if rcall('ZREM', KEYS[1], id) == 1 then
    rcall('RPUSH', target, id)
    rcall('HSET', ARGV[1] .. id, 'delay', 0)
    rcall('XADD', KEYS[6], '*', 'event', 'waiting', 'jobId', id, 'prev', 'delayed')
    moved = moved + 1
  end
end
if moved > 0 and not paused then rcall('ZADD', KEYS[5], 0, '0') end
return moved
`;

/** A job to enqueue: its deterministic id, payload and options. */
export interface JobSpec<N extends QueueName> {
  id: string;
  data: JobPayloads[N];
  opts?: JobsOptions;
}

/** What QueueService.ensureJobs did. */
export interface EnsureResult {
  /** Jobs added (no job had that id, or only an orphan or a finished job whose work is not done). */
  added: number;
  /** Of those, how many replaced a job hash that was left behind (orphan, or finished without the work done). */
  recreated: number;
}

/** Jobs woken in one call by wakeDelayed. */
const WAKE_CHUNK = 500;

type ScriptClient = Record<'gtcSortJobs' | 'gtcDropFinished', (...args: string[]) => Promise<number[]>> &
  Record<'gtcWakeDelayed', (...args: string[]) => Promise<number>>;

/** Typed producers for every queue, sharing the service's fail-fast Redis connection. */
@Injectable()
export class QueueService implements OnModuleDestroy {
  private readonly queues = new Map<QueueName, Queue>();

  constructor(private readonly redis: RedisService) {
    const client = redis.client as unknown as Partial<ScriptClient>;
    if (!client.gtcSortJobs) redis.client.defineCommand('gtcSortJobs', { numberOfKeys: 7, lua: SORT_JOBS });
    if (!client.gtcDropFinished) redis.client.defineCommand('gtcDropFinished', { numberOfKeys: 2, lua: DROP_FINISHED });
    if (!client.gtcWakeDelayed) redis.client.defineCommand('gtcWakeDelayed', { numberOfKeys: 6, lua: WAKE_DELAYED });
  }

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

  /**
   * Makes sure each job is really live, for rows Postgres says are unfinished (the reconcilers). With fixed ids,
   * BullMQ's add is a no-op whenever a hash of that id exists, even one no list points at any more (Redis lost
   * part of its keys): such an orphan, or an active job whose lock is gone, is removed and added again. A job
   * Redis says completed or failed is added again only if `stillUnfinished` (asked after Redis was read, so a
   * job that just finished its work is not redone) keeps it. Two or three round trips per batch, whatever its size.
   */
  async ensureJobs<N extends QueueName>(
    name: N,
    jobs: JobSpec<N>[],
    stillUnfinished: (finished: JobSpec<N>[]) => Promise<JobSpec<N>[]>,
  ): Promise<EnsureResult> {
    if (!jobs.length) return { added: 0, recreated: 0 };
    if (this.redis.client.status !== 'ready') throw new Error(`Redis is not connected (${this.redis.client.status})`);
    const q = this.queue(name);
    const k = q.keys;
    const scripts = this.redis.client as unknown as ScriptClient;
    const jobKey = q.toKey('');
    const ids = jobs.map((j) => j.id);
    const sorted = await scripts.gtcSortJobs(k.wait, k.paused, k.active, k.delayed, k.prioritized, k.completed, k.failed, jobKey, ...ids);
    const toAdd = jobs.filter((_, i) => sorted[i] === 1 || sorted[i] === 3);
    let recreated = sorted.filter((r) => r === 3).length;
    const finished = jobs.filter((_, i) => sorted[i] === 2);
    const redo = finished.length ? await stillUnfinished(finished) : [];
    if (redo.length) {
      const dropped = await scripts.gtcDropFinished(k.completed, k.failed, jobKey, ...redo.map((j) => j.id));
      toAdd.push(...redo.filter((_, i) => dropped[i] === 1 || dropped[i] === 3));
      recreated += dropped.filter((r) => r === 3).length;
    }
    await this.addBulk(name, toAdd);
    return { added: toAdd.length, recreated };
  }

  /**
   * Moves those of the given jobs that are delayed to the head of the wait list, next to be taken (WAKE_DELAYED): a
   * message whose recipient's gate opened, or whose number was resumed. Jobs in any other state, or gone, are left
   * alone. The first id is taken first. One round trip per WAKE_CHUNK jobs; returns how many moved.
   */
  async wakeDelayed<N extends QueueName>(name: N, ids: string[]): Promise<number> {
    if (!ids.length) return 0;
    const q = this.queue(name);
    const k = q.keys;
    const scripts = this.redis.client as unknown as ScriptClient;
    let moved = 0;
    // The last chunk first: each call puts its jobs ahead of those already at the head.
    for (let i = Math.floor((ids.length - 1) / WAKE_CHUNK) * WAKE_CHUNK; i >= 0; i -= WAKE_CHUNK) {
      moved += await scripts.gtcWakeDelayed(k.delayed, k.wait, k.paused, k.meta, k.marker, k.events, q.toKey(''), ...ids.slice(i, i + WAKE_CHUNK));
    }
    return moved;
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
  }
}
