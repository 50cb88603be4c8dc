import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { EVENTS_CHANNEL, GroupCommit, PoolClient, PrismaService, publicEventId, SecretBox } from '@gtc/db';
import { HealthService, MetricsService } from '@gtc/observability';
import { ClaimedDelivery, CompleteResult, Completion, DEFAULT_LATENCY_MS, DeliveryStore, DISABLED_RECHECK_MS, Outcome } from './delivery.store';
import { DispatcherMetrics } from './dispatcher.metrics';
import { RetrySchedule } from './retry-schedule';
import { AttemptResult, WebhookClient } from './webhook.client';

/** The idle poll for retries that became due, ms. */
const POLL_MS = 1_000;
/** How much longer than the attempt timeout a lease lasts, ms (time to write the result). */
const LEASE_MARGIN_MS = 5_000;
/** Shortest spread of an endpoint's excess heads, ms. */
const MIN_SPREAD_MS = 5;
/** Results written together at most, and writes at once. */
const COMPLETE_BATCH = 256;
/** Attempts to write a result before it is left to the lease's expiry (the delivery is then made again). */
const COMPLETE_TRIES = 5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Delivers event webhooks. Woken by NOTIFY on EVENTS_CHANNEL (a dedicated connection, listened again after it
 * breaks) and by a poll every second for retries that became due; claims what may go (DeliveryStore.claim),
 * within EVENT_CONCURRENCY in flight overall and EVENT_ENDPOINT_CONCURRENCY per endpoint, so a slow or dead
 * endpoint holds only its own slots. Each attempt's result is written in a group commit, which makes the next
 * delivery of that endpoint and contact due.
 */
@Injectable()
export class EventDispatcher implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger(EventDispatcher.name);
  private readonly box: SecretBox;
  private readonly schedule: RetrySchedule;
  private readonly maxInFlight: number;
  private readonly busy = new Map<string, number>();
  private readonly latency = new Map<string, number>();
  private readonly secrets = new Map<string, string>();
  private readonly running = new Set<Promise<void>>();
  private readonly completions: GroupCommit<Completion, CompleteResult>;
  private inFlight = 0;
  private pumping = false;
  private again = false;
  private stopping = false;
  private poll?: NodeJS.Timeout;
  private listener?: PoolClient;
  private listening?: Promise<void>;

  constructor(
    config: AppConfig,
    private readonly prisma: PrismaService,
    private readonly store: DeliveryStore,
    private readonly client: WebhookClient,
    private readonly metrics: DispatcherMetrics,
    metricsService: MetricsService,
    health: HealthService,
  ) {
    const env = config.env;
    this.box = new SecretBox(config.secretsKey);
    this.schedule = new RetrySchedule(env.EVENT_RETRY_SCHEDULE_MS);
    this.maxInFlight = env.EVENT_CONCURRENCY;
    store.configure({ leaseMs: env.EVENT_TIMEOUT_MS + LEASE_MARGIN_MS, perEndpoint: env.EVENT_ENDPOINT_CONCURRENCY, disableAfterMs: env.EVENT_DISABLE_AFTER_MS });
    this.completions = new GroupCommit((batch) => this.writeBatch(batch), 2, COMPLETE_BATCH, () => true);
    metrics.inFlight(metricsService, () => this.inFlight);
    health.registerInfo('in_flight', () => this.inFlight);
    health.register('listening', async () => {
      if (!this.listener) throw new Error(`not listening on ${EVENTS_CHANNEL}`);
    });
  }

  onApplicationBootstrap(): void {
    this.listening = this.listen();
    this.poll = setInterval(() => void this.probe(), POLL_MS);
  }

  /** Stops claiming, lets the attempts in flight finish and their results be written. */
  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    clearInterval(this.poll);
    this.listener?.release(true);
    await this.listening;
    while (this.running.size) await Promise.allSettled([...this.running]);
  }

  /** LISTEN on a connection of its own; after it breaks, again (and a claim, for what came meanwhile). */
  private async listen(): Promise<void> {
    while (!this.stopping) {
      try {
        const client = await this.prisma.pool.connect();
        const broken = new Promise<Error | undefined>((resolve) => {
          client.on('error', (err: Error) => resolve(err));
          client.once('end', () => resolve(undefined));
        });
        client.on('notification', () => this.wake());
        await client.query(`LISTEN ${EVENTS_CHANNEL}`);
        this.listener = client;
        if (this.stopping) client.release(true);
        this.wake();
        const err = await broken;
        this.listener = undefined;
        if (!this.stopping) {
          this.log.warn(`listening connection lost${err ? `: ${err.message}` : ''}; listening again`);
          client.release(err ?? true);
        }
      } catch (err) {
        this.listener = undefined;
        this.log.warn(`cannot listen on ${EVENTS_CHANNEL}: ${(err as Error).message}`);
      }
      if (!this.stopping) await sleep(POLL_MS);
    }
  }

  /** The idle poll: one indexed probe, and a claim only when something is due. */
  private async probe(): Promise<void> {
    if (this.pumping || this.stopping || this.inFlight >= this.maxInFlight) return;
    try {
      if (await this.store.anyDue()) this.wake();
    } catch (err) {
      this.log.warn(`poll failed: ${(err as Error).message}`);
    }
  }

  /** Claims until nothing more may go now; a wake during a claim makes one more round. */
  private wake(): void {
    if (this.stopping) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      do {
        this.again = false;
        while (!this.stopping && this.inFlight < this.maxInFlight) {
          const free = this.maxInFlight - this.inFlight;
          const { deliveries, parked } = await this.store.claim({
            free,
            busy: this.busy,
            latencyMs: (id) => Math.max(MIN_SPREAD_MS, this.latency.get(id) ?? DEFAULT_LATENCY_MS),
          });
          for (const d of deliveries) this.start(d);
          // Fewer than asked and nothing parked: nothing else may go now.
          if (deliveries.length < free && !parked) break;
        }
      } while (this.again && !this.stopping);
    } catch (err) {
      this.log.warn(`claim failed: ${(err as Error).message}`);
    } finally {
      this.pumping = false;
    }
  }

  private start(d: ClaimedDelivery): void {
    this.inFlight++;
    this.busy.set(d.endpointId, (this.busy.get(d.endpointId) ?? 0) + 1);
    const run = this.deliver(d).finally(() => this.running.delete(run));
    this.running.add(run);
  }

  /** One attempt, its slot given back, its result written, then a claim (the next of that contact may be due). */
  private async deliver(d: ClaimedDelivery): Promise<void> {
    let result: AttemptResult;
    try {
      result = await this.client.send({
        url: d.url,
        id: publicEventId(d.eventId),
        body: JSON.stringify({ id: publicEventId(d.eventId), type: d.type, created_at: d.createdAt, tenant: d.tenant, team: d.team, data: d.data }),
        secrets: [this.secret(d.secretEnc), ...(d.previousSecretEnc ? [this.secret(d.previousSecretEnc)] : [])],
      });
    } catch (err) {
      result = { status: null, latencyMs: 0, error: `cannot sign: ${(err as Error).message}` };
    } finally {
      this.inFlight--;
      const n = (this.busy.get(d.endpointId) ?? 1) - 1;
      if (n > 0) this.busy.set(d.endpointId, n);
      else this.busy.delete(d.endpointId);
    }
    const prev = this.latency.get(d.endpointId);
    this.latency.set(d.endpointId, prev === undefined ? result.latencyMs : prev * 0.8 + result.latencyMs * 0.2);
    this.metrics.attemptSeconds.observe(result.latencyMs / 1000);
    const { outcome, delayMs } = this.outcome(d, result);
    await this.record({ delivery: d, status: result.status, latencyMs: result.latencyMs, error: result.error ?? null, outcome, delayMs });
    this.wake();
  }

  /** 2xx: delivered; 410: gone (the endpoint is disabled); otherwise the next wait of the schedule, or failed. */
  private outcome(d: ClaimedDelivery, r: AttemptResult): { outcome: Outcome; delayMs: number } {
    if (r.status !== null && r.status >= 200 && r.status < 300) return { outcome: 'delivered', delayMs: 0 };
    if (r.status === 410) return { outcome: 'gone', delayMs: DISABLED_RECHECK_MS };
    const wait = this.schedule.next(d.attempts + 1);
    return wait === null ? { outcome: 'failed', delayMs: 0 } : { outcome: 'retry', delayMs: wait };
  }

  /** Writes the result (retried a few times); if it cannot be, the lease's expiry gives the delivery back. */
  private async record(c: Completion): Promise<void> {
    for (let tries = 1; ; tries++) {
      try {
        const res = await this.completions.submit(c);
        if (res.applied.has(c.delivery.id)) this.metrics.outcomes.inc({ outcome: c.outcome });
        for (const e of res.disabled) this.log.warn(`endpoint ${e.id} disabled: ${e.reason}`);
        return;
      } catch (err) {
        if (tries >= COMPLETE_TRIES) {
          this.log.error(`result of delivery ${c.delivery.id} not written (it will be made again): ${(err as Error).message}`);
          return;
        }
        await sleep(1_000 * tries);
      }
    }
  }

  private async writeBatch(batch: Completion[]): Promise<CompleteResult[]> {
    const res = await this.store.complete(batch);
    return batch.map(() => res);
  }

  /** The plaintext signing secret (`whsec_…`) of a sealed one, decrypted once per process. */
  private secret(sealed: string): string {
    let s = this.secrets.get(sealed);
    if (s === undefined) {
      s = this.box.decrypt(sealed);
      if (this.secrets.size >= 10_000) this.secrets.clear();
      this.secrets.set(sealed, s);
    }
    return s;
  }
}
