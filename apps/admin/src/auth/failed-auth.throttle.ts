import { Injectable } from '@nestjs/common';
import rateLimit from '@fastify/rate-limit';
import { AppConfig } from '@gtc/config';
import { RedisService } from '@gtc/queue';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../common/api-error';

type Check = ReturnType<FastifyInstance['createRateLimit']>;

/**
 * Throttles failed authentication per client address with @fastify/rate-limit, its counters in Redis so the limit
 * holds across admin replicas. Only failures count: a request with a valid key never touches the counter. Past
 * AUTH_FAILURE_LIMIT failures in AUTH_FAILURE_WINDOW_MS, a client's unauthenticated requests get 429 with
 * Retry-After instead of 401. If Redis is away the check is skipped (fail open): keys stay 256-bit random.
 */
@Injectable()
export class FailedAuthThrottle {
  private check?: Check;

  constructor(
    private readonly config: AppConfig,
    private readonly redis: RedisService,
  ) {}

  /** Registers the rate-limit plugin (not as a global hook: it is consulted only on failed authentication). */
  async install(fastify: FastifyInstance): Promise<void> {
    await fastify.register(rateLimit, {
      global: false,
      redis: this.redis.client,
      nameSpace: `${this.redis.prefix}:auth-failures:`,
      skipOnError: true,
      max: this.config.env.AUTH_FAILURE_LIMIT,
      timeWindow: this.config.env.AUTH_FAILURE_WINDOW_MS,
      // The TCP peer, or the first X-Forwarded-For hop when behind a proxy (Fastify's trustProxy).
      keyGenerator: (req) => req.ip,
    });
    this.check = fastify.createRateLimit();
  }

  /**
   * Counts one failed authentication of the request's client and returns the error to answer: 401 with `message`,
   * or 429 with Retry-After once the client is over its limit.
   */
  async failure(req: FastifyRequest, reply: FastifyReply, message: string): Promise<ApiError> {
    const result = await this.check?.(req).catch(() => undefined);
    if (result && !result.isAllowed && result.isExceeded) {
      void reply.header('retry-after', String(Math.max(1, result.ttlInSeconds)));
      return new ApiError(429, 'too_many_requests', `too many failed authentications from this address: retry in ${result.ttlInSeconds} s`);
    }
    return new ApiError(401, 'unauthorized', message);
  }
}
