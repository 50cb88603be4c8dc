import { Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';

/**
 * A background pass run every `intervalMs()` in each process (reconcilers, retention): started with the app,
 * stopped on shutdown, never two passes at once; a failed pass is logged and the next one tries again.
 */
export abstract class PeriodicTask implements OnApplicationBootstrap, OnModuleDestroy {
  protected readonly log = new Logger(this.constructor.name);
  private timer?: NodeJS.Timeout;
  private running = false;

  /** Milliseconds between passes. */
  protected abstract intervalMs(): number;

  /** One pass. */
  protected abstract runOnce(): Promise<unknown>;

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), this.intervalMs());
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.runOnce();
    } catch (err) {
      this.log.warn(`pass failed: ${(err as Error).message}`);
    } finally {
      this.running = false;
    }
  }
}
