import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { createWorker, QueueName, RedisService, StatusJob } from '@gtc/queue';
import type { Worker } from 'bullmq';
import { ProviderService } from './provider.service';
import { RecipientWaker } from './recipient.waker';
import { StatusApplierService } from './status-applier.service';

/**
 * Consumes the status events ingress left work for: ones whose message was not known when recorded (applied here,
 * or adopted by an unknown-outcome send, waking the next message to its recipient if it released one), and
 * failures ingress applied (a failed status may pause the number; it wakes the next message too).
 */
@Injectable()
export class StatusWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger(StatusWorker.name);
  private worker?: Worker<StatusJob>;

  constructor(
    private readonly applier: StatusApplierService,
    private readonly providers: ProviderService,
    private readonly waker: RecipientWaker,
    private readonly redis: RedisService,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.worker = createWorker(
      this.redis,
      QueueName.Status,
      async (job) => {
        const applied = await this.applier.apply(job.data.statusEventId);
        if (!applied) return;
        await this.providers.pauseOnFailedStatus(applied);
        await this.waker.afterStatus(applied);
      },
      this.config.env.SENDER_CONCURRENCY,
      this.log,
    );
  }

  async onModuleDestroy(): Promise<void> {
    await this.worker?.close();
  }
}
