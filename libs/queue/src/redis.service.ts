import { Injectable, OnModuleDestroy, Optional } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { HealthService } from '@gtc/observability';
import Redis, { RedisOptions } from 'ioredis';

/**
 * Redis connections of a service. Producers on the request path fail fast when Redis is down
 * (no offline queue); workers' blocking connections retry forever (maxRetriesPerRequest: null), as BullMQ asks.
 */
@Injectable()
export class RedisService implements OnModuleDestroy {
  /** Shared connection for producers, limits and gates. */
  readonly client: Redis;
  private readonly extra: Redis[] = [];

  constructor(
    private readonly config: AppConfig,
    @Optional() health?: HealthService,
  ) {
    this.client = this.connect({ enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    health?.register('redis', async () => {
      await this.client.ping();
    });
  }

  /** The key prefix of this stack (BullMQ prefix and our own keys). */
  get prefix(): string {
    return this.config.env.REDIS_PREFIX;
  }

  /** A new connection for a BullMQ worker (blocking commands need their own). */
  workerConnection(): Redis {
    return this.connect({ maxRetriesPerRequest: null });
  }

  private connect(options: RedisOptions): Redis {
    const redis = new Redis(this.config.env.REDIS_URL, {
      lazyConnect: false,
      connectTimeout: 5_000,
      retryStrategy: (times) => Math.min(times * 200, 2_000),
      ...options,
    });
    // Errors are reported through health checks and failing commands; an unhandled 'error' event would crash.
    redis.on('error', () => undefined);
    this.extra.push(redis);
    return redis;
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all(this.extra.map((r) => r.quit().catch(() => r.disconnect())));
  }
}
