import { FactoryProvider, Injectable } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { jobIds, QueueName } from './queue.contracts';
import { QueueService } from './queue.service';
import { LimiterSettings, NumberLimits, SendLimiter, SlotRequest } from './send-limiter';
import { RedisService } from './redis.service';

/** The limiter settings of this deployment (environment). */
export function limiterSettings(config: AppConfig): LimiterSettings {
  const [t1, t2, t3] = config.env.TIER_LIMITS.split(',').map(Number);
  return {
    tierLimits: { '1': t1, '2': t2, '3': t3 },
    tierWindowMs: config.env.TIER_WINDOW_SECONDS * 1000,
    tierCounting: config.env.TIER_COUNTING,
    pairLimit: config.env.PAIR_RATE_LIMIT,
    pairWindowMs: config.env.PAIR_RATE_WINDOW_MS,
    windowMarginMs: config.env.LIMIT_MARGIN_MS,
    throughputPace: config.env.THROUGHPUT_PACE,
    throughputMarginMs: config.env.THROUGHPUT_MARGIN_MS,
  };
}

/**
 * The deployment's send limiter: its settings from the environment, on the process's Redis connection. Every
 * reservation lives in Redis, so each holder of one (the producer planning slots, the sender confirming them)
 * shares the same limits across processes and replicas.
 */
export function deploymentLimiter(redis: RedisService, config: AppConfig): SendLimiter {
  return new SendLimiter(redis.client, redis.prefix, limiterSettings(config));
}

/** Provides the deployment's SendLimiter to a module that takes slots itself (the sender confirms each send's slot). */
export const SEND_LIMITER_PROVIDER: FactoryProvider<SendLimiter> = {
  provide: SendLimiter,
  useFactory: deploymentLimiter,
  inject: [RedisService, AppConfig],
};

/** One outbound row to enqueue: its slot request, and when the inbound message it replies to reached ingress, if it does. */
export interface OutboundSend extends SlotRequest {
  /** Epoch ms (OutboundJob.causeAt). */
  causeAt?: number;
  /**
   * Held at its recipient's ordering gate when written (an earlier message to the contact not released yet): it
   * waits this long (ms) in the delayed set, unplanned, unless the release wakes it first (QueueService.wakeDelayed),
   * instead of being taken by a sender only to wait there.
   */
  heldMs?: number;
}

/**
 * Enqueues outbound messages with their send slot already reserved: a message over a limit goes straight to
 * BullMQ's delayed set until its slot, so one number's backlog never sits in front of another number's message.
 */
@Injectable()
export class OutboundProducer {
  private readonly limiter: SendLimiter;

  constructor(
    private readonly queues: QueueService,
    redis: RedisService,
    config: AppConfig,
  ) {
    this.limiter = deploymentLimiter(redis, config);
  }

  /**
   * Reserves a slot for each message (in order, under its number's limits) and enqueues them all, each delayed
   * until its slot, in one round trip. A held message takes no slot yet (the sender plans it when it goes).
   */
  async enqueue(sends: { limits: NumberLimits; messages: OutboundSend[] }[]): Promise<void> {
    const jobs = [];
    for (const { limits, messages } of sends) {
      for (const m of messages) {
        if (m.heldMs !== undefined) {
          jobs.push({
            id: jobIds.outbound(m.messageId),
            data: { outboundId: m.messageId, ...(m.causeAt !== undefined && { causeAt: m.causeAt }) },
            opts: { delay: m.heldMs },
          });
          continue;
        }
        const { at: slotAt } = await this.limiter.reserve(limits, m, 'plan');
        jobs.push({
          id: jobIds.outbound(m.messageId),
          data: { outboundId: m.messageId, slotAt, ...(m.causeAt !== undefined && { causeAt: m.causeAt }) },
          opts: { delay: Math.max(0, slotAt - Date.now()) },
        });
      }
    }
    await this.queues.addBulk(QueueName.Outbound, jobs);
  }
}
