import { Logger } from '@nestjs/common';
import { Processor, Worker } from 'bullmq';
import { JobPayloads, QueueName } from './queue.contracts';
import { WORKER_OPTIONS } from './queue.service';
import { RedisService } from './redis.service';

/** A BullMQ worker on one of our queues: its own blocking connection, our prefix and worker options, errors logged. */
export function createWorker<N extends QueueName>(
  redis: RedisService,
  name: N,
  processor: Processor<JobPayloads[N]>,
  concurrency: number,
  log: Logger,
): Worker<JobPayloads[N]> {
  const worker = new Worker<JobPayloads[N]>(name, processor, {
    connection: redis.workerConnection(),
    prefix: redis.prefix,
    concurrency,
    ...WORKER_OPTIONS,
  });
  worker.on('error', (err) => log.warn(`${name} worker: ${err.message}`));
  worker.on('failed', (job, err) => log.warn({ jobId: job?.id, err: err.message }, `${name} job failed; it will be retried`));
  return worker;
}
