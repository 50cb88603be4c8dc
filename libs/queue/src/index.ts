export * from './queue.contracts';
export * from './redis.service';
export * from './queue.service';
export * from './send-limiter';
export * from './outbound.producer';
export * from './worker.factory';
export * from './queue.module';
