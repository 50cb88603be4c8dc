import { Global, Module } from '@nestjs/common';
import { OutboundProducer } from './outbound.producer';
import { QueueService } from './queue.service';
import { RedisService } from './redis.service';

/** Redis connections, typed queue producers and the rate-limited outbound producer. */
@Global()
@Module({ providers: [RedisService, QueueService, OutboundProducer], exports: [RedisService, QueueService, OutboundProducer] })
export class QueueModule {}
