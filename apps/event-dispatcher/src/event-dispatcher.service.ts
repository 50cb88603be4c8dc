import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { EVENTS_CHANNEL, GroupCommit, PoolClient, PrismaService, SecretBox } from '@gtc/db';
import { HealthService, MetricsService } from '@gtc/observability';
import { ClaimedDelivery, CompleteResult, Completion, DEFAULT_LATENCY_MS, DeliveryStore, DISABLED_RECHECK_MS, EndpointLoad, Outcome } from './delivery.store';
import { DispatcherMetrics } from './dispatcher.metrics';
import { eventBody } from './event-body';
import { RetrySchedule } from './retry-schedule';
import { AttemptResult, WebhookClient } from './webhook.client';

/** The idle poll for retries that became due, ms. */
const POLL_MS = 1_000;
/** How much longer than the attempt timeout a lease lasts, ms (time to write the result). */
const LEASE_MARGIN_MS = 5_000;
/** Work held per endpoint beyond its slots: about this long of its attempts, ms (fewer round trips for a fast one). */
const PREFETCH_MS = 250;
/** Most deliveries held per endpoint, in slots of it. */
const MAX_PREFETCH_SLOTS = 16;
/** Due rows a claim looks at beyond those it may take, in slots of an endpoint (endpoints not held yet, rows to put off). */
const SCAN_EXTRA_SLOTS = 2;
/**
 * Due rows a claim looks at after one that leased nothing (it put a whole scan off): digging through the rows of
 * full endpoints to reach other endpoints' behind them goes by this many per statement, not by a scan of a few slots.
 */
const IDLE_SCAN = 256;
/**
 * Claims in a row that lease nothing, each putting off a whole scan of rows to reach what is behind them, before
 * waiting for the next wake (a backlog released at once is mostly rows behind their contact's head).
 */
const MAX_IDLE_CLAIMS = 100;
/**
 * Least time between the starts of two claims, ms: wakes in between (a NOTIFY per producer commit, a completion
 * that made the next delivery due) wait for one claim at its end, so a trickle of events is claimed in batches
 * (each claim is one statement, whatever it takes) for at most this much more latency.
 */
const CLAIM_GAP_MS = 100;
/** Most deliveries held in all, in EVENT_CONCURRENCY. */
const HELD_FACTOR = 4;
/** Results written together at most, and writes at once. */
const COMPLETE_BATCH = 256;
/**
 * How long a result may wait for others to be written with it, ms: at a trickle, results come one by one, and each
 * write is a statement and a transaction; the next delivery of a contact waits this much longer for its predecessor's.
 */
const COMPLETE_LINGER_MS = 50;
/** Attempts to write a result before it is left to the lease's expiry (the delivery is then made again). */
const COMPLETE_TRIES = 5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What this process holds and knows of one endpoint. */
interface EndpointState {
  /** Start times of its attempts in flight. */
  inFlight: number[];
  /** Leased, waiting for a slot (each with the local time its lease ends). */
  waiting: { d: ClaimedDelivery; until: number }[];
  /** Moving average of its attempts' latency, ms. */
  latencyMs: number;
  /** Local time of its last attempt's end. */
  seenAt: number;
  /**
   * It answered 410 Gone and that result is not written yet: what this process holds or claims of it meanwhile is
   * not attempted (the result disables the endpoint, and claims then put its deliveries off; leases dropped here
   * simply expire).
   */
  gone: boolean;
}

/** Endpoints remembered at most (idle ones are forgotten past it). */
const MAX_ENDPOINTS = 10_000;

/**
 * Delivers event webhooks. Woken by NOTIFY on EVENTS_CHANNEL (a dedicated connection, listened again after it
 * breaks) and by a poll every second for retries that became due; claims what may go (DeliveryStore.claim), holds
 * it per endpoint, and sends within EVENT_ENDPOINT_CONCURRENCY per endpoint and EVENT_CONCURRENCY in all, taking
 * endpoints in turn, so a slow or dead endpoint holds only its own slots. Each attempt's result is written in a group
 * commit, which makes the next delivery of that endpoint and contact due.
 */
@Injectable()
export class EventDispatcherService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger(EventDispatcherService.name);
  private readonly box: SecretBox;
  private readonly schedule: RetrySchedule;
  private readonly maxInFlight: number;
  private readonly perEndpoint: number;
  private readonly maxHeld: number;
  /** Lease time an attempt needs left when it starts, ms. */
  private readonly minLeaseLeftMs: number;
  private readonly endpoints = new Map<string, EndpointState>();
  /** Endpoints with deliveries waiting, in turn. */
  private turn: string[] = [];
  private readonly secrets = new Map<string, string>();
  private readonly running = new Set<Promise<void>>();
  private readonly completions: GroupCommit<Completion, CompleteResult>;
  private inFlight = 0;
  private held = 0;
  private pumping = false;
  private again = false;
  /** When the last claim round started (local ms), and the timer of a wake put off until CLAIM_GAP_MS after it. */
  private pumpedAt = 0;
  private deferred?: NodeJS.Timeout;
  /**
   * Whether the last claim round may have left due work behind (it stopped for want of room, or put rows off):
   * then a finished attempt, which frees room, claims again; otherwise new work comes with a NOTIFY or the poll.
   */
  private backlog = false;
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
    this.perEndpoint = env.EVENT_ENDPOINT_CONCURRENCY;
    this.maxHeld = env.EVENT_CONCURRENCY * HELD_FACTOR;
    this.minLeaseLeftMs = env.EVENT_TIMEOUT_MS + LEASE_MARGIN_MS / 2;
    store.configure({ leaseMs: env.EVENT_TIMEOUT_MS + LEASE_MARGIN_MS, perEndpoint: this.perEndpoint, disableAfterMs: env.EVENT_DISABLE_AFTER_MS });
    this.completions = new GroupCommit((batch) => this.writeBatch(batch), 1, COMPLETE_BATCH, () => true, COMPLETE_LINGER_MS);
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

  /** Stops claiming, gives back what waits for a slot, lets the attempts in flight finish and their results be written. */
  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    clearInterval(this.poll);
    clearTimeout(this.deferred);
    this.listener?.release(true);
    await this.listening;
    const waiting = [...this.endpoints.values()].flatMap((e) => e.waiting.splice(0).map((w) => w.d));
    await this.store.release(waiting).catch((err: Error) => this.log.warn(`leases not given back (they expire): ${err.message}`));
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
        await this.store.listen(client);
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
    if (this.pumping || this.stopping || this.held >= this.maxHeld) return;
    try {
      if (await this.store.anyDue()) this.wake();
    } catch (err) {
      this.log.warn(`poll failed: ${(err as Error).message}`);
    }
  }

  /** Claims until nothing more may be taken now; a wake during a claim makes one more round (see CLAIM_GAP_MS). */
  private wake(): void {
    if (this.stopping) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    if (this.deferred) return;
    const wait = this.pumpedAt + CLAIM_GAP_MS - Date.now();
    if (wait > 0) {
      this.deferred = setTimeout(() => {
        this.deferred = undefined;
        this.wake();
      }, wait);
      return;
    }
    void this.pump();
  }

  /** Deliveries of an endpoint held beyond its slots: about PREFETCH_MS of its attempts. */
  private depth(latencyMs: number): number {
    const prefetch = Math.round((this.perEndpoint * PREFETCH_MS) / Math.max(1, latencyMs));
    return this.perEndpoint + Math.min(prefetch, this.perEndpoint * (MAX_PREFETCH_SLOTS - 1));
  }

  /** An endpoint's latency as the claim sees it: its average, or the age of its oldest attempt in flight if longer. */
  private latencyOf(e: EndpointState, now: number): number {
    return Math.max(e.latencyMs, ...e.inFlight.map((t) => now - t));
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    this.again = false;
    this.pumpedAt = Date.now();
    this.backlog = true;
    try {
      let idle = 0;
      while (!this.stopping && this.held < this.maxHeld) {
        const now = Date.now();
        const loads = new Map<string, EndpointLoad>();
        let room = 0;
        for (const [id, e] of this.endpoints) {
          const held = e.inFlight.length + e.waiting.length;
          // Endpoints idle for a minute count as new (their figures are not sent with every claim).
          if (!held && e.seenAt < now - 60_000) continue;
          const latencyMs = this.latencyOf(e, now);
          const r = this.depth(latencyMs) - held;
          loads.set(id, { held, room: r, latencyMs, horizonMs: ((held + Math.max(0, r)) / this.perEndpoint) * latencyMs });
          room += Math.max(0, r);
        }
        const defaultRoom = this.depth(DEFAULT_LATENCY_MS);
        const defaultHorizonMs = (defaultRoom / this.perEndpoint) * DEFAULT_LATENCY_MS;
        const free = this.maxHeld - this.held;
        // Look at about as many due rows as may be taken, and some more (endpoints not held yet, rows to put off).
        const scan = Math.max(Math.min(free, room) + SCAN_EXTRA_SLOTS * this.perEndpoint, idle ? IDLE_SCAN : 0);
        const { deliveries, parked } = await this.store.claim({ free, scan, loads, defaultRoom, defaultHorizonMs });
        this.metrics.claims.inc({ leased: deliveries.length > 0 ? 'true' : 'false' });
        for (const d of deliveries) this.hold(d, now);
        this.dispatch();
        // What was leased and put off did not fill the scan (nor reach `free`): the scan saw every due row, so
        // another claim now would find only rows another transaction holds; new work wakes us (NOTIFY, completion).
        if (deliveries.length < free && deliveries.length + parked < scan) {
          this.backlog = parked > 0;
          break;
        }
        if (deliveries.length) idle = 0;
        else if (++idle > MAX_IDLE_CLAIMS) break;
      }
    } catch (err) {
      this.log.warn(`claim failed: ${(err as Error).message}`);
    } finally {
      this.pumping = false;
    }
    // Woken meanwhile (a NOTIFY, a completion): one more round, CLAIM_GAP_MS after this one began, not at once.
    if (this.again) this.wake();
  }

  private state(endpointId: string): EndpointState {
    let e = this.endpoints.get(endpointId);
    if (!e) {
      if (this.endpoints.size >= MAX_ENDPOINTS) {
        for (const [id, x] of this.endpoints) if (!x.inFlight.length && !x.waiting.length) this.endpoints.delete(id);
      }
      e = { inFlight: [], waiting: [], latencyMs: DEFAULT_LATENCY_MS, seenAt: 0, gone: false };
      this.endpoints.set(endpointId, e);
    }
    return e;
  }

  private hold(d: ClaimedDelivery, now: number): void {
    const e = this.state(d.endpointId);
    if (e.gone) return;
    if (!e.waiting.length) this.turn.push(d.endpointId);
    e.waiting.push({ d, until: now + d.leaseMs });
    this.held++;
  }

  /** Starts what may start: endpoints in turn, each within its slots, all within EVENT_CONCURRENCY. */
  private dispatch(): void {
    let skipped = 0;
    while (this.inFlight < this.maxInFlight && this.turn.length && skipped < this.turn.length) {
      const id = this.turn.shift()!;
      const e = this.endpoints.get(id)!;
      if (e.inFlight.length >= this.perEndpoint) {
        this.turn.push(id);
        skipped++;
        continue;
      }
      skipped = 0;
      const w = e.waiting.shift()!;
      if (e.waiting.length) this.turn.push(id);
      // A delivery whose lease would end mid-attempt is left to its expiry (it is then due again, to anyone).
      if (w.until - Date.now() < this.minLeaseLeftMs) {
        this.held--;
        continue;
      }
      this.start(w.d, e);
    }
  }

  private start(d: ClaimedDelivery, e: EndpointState): void {
    this.inFlight++;
    const at = Date.now();
    e.inFlight.push(at);
    const run = this.deliver(d, e, at).finally(() => this.running.delete(run));
    this.running.add(run);
  }

  /** One attempt, its slot given back, its result written, then a claim (the next of that contact may be due). */
  private async deliver(d: ClaimedDelivery, e: EndpointState, startedAt: number): Promise<void> {
    let result: AttemptResult;
    try {
      const { id, body } = eventBody(d);
      result = await this.client.send({
        url: d.url,
        id,
        body,
        secrets: [this.secret(d.secretEnc), ...(d.previousSecretEnc ? [this.secret(d.previousSecretEnc)] : [])],
      });
    } catch (err) {
      result = { status: null, latencyMs: 0, error: `cannot sign: ${(err as Error).message}` };
    }
    this.inFlight--;
    this.held--;
    e.inFlight.splice(e.inFlight.indexOf(startedAt), 1);
    e.latencyMs = e.latencyMs * 0.7 + result.latencyMs * 0.3;
    e.seenAt = Date.now();
    if (result.status === 410) {
      e.gone = true;
      this.held -= e.waiting.splice(0).length;
      this.turn = this.turn.filter((id) => id !== d.endpointId);
    }
    this.dispatch();
    this.metrics.attemptSeconds.observe(result.latencyMs / 1000);
    const { outcome, delayMs } = this.outcome(d, result);
    const woke = await this.record({ delivery: d, status: result.status, latencyMs: result.latencyMs, error: result.error ?? null, outcome, delayMs });
    if (result.status === 410) e.gone = false;
    if (woke || this.backlog) this.wake();
  }

  /** 2xx: delivered; 410: gone (the endpoint is disabled); otherwise the next wait of the schedule, or failed. */
  private outcome(d: ClaimedDelivery, r: AttemptResult): { outcome: Outcome; delayMs: number } {
    if (r.status !== null && r.status >= 200 && r.status < 300) return { outcome: 'delivered', delayMs: 0 };
    if (r.status === 410) return { outcome: 'gone', delayMs: DISABLED_RECHECK_MS };
    const wait = this.schedule.next(d.attempts + 1);
    return wait === null ? { outcome: 'failed', delayMs: 0 } : { outcome: 'retry', delayMs: wait };
  }

  /**
   * Writes the result (retried a few times); if it cannot be, the lease's expiry gives the delivery back. Returns
   * how many deliveries the batch made due at once (the ones after those that finished).
   */
  private async record(c: Completion): Promise<number> {
    for (let tries = 1; ; tries++) {
      try {
        const res = await this.completions.submit(c);
        if (res.applied.has(c.delivery.id)) this.metrics.outcomes.inc({ outcome: c.outcome });
        for (const e of res.disabled) this.log.warn(`endpoint ${e.id} disabled: ${e.reason}`);
        return res.woke;
      } catch (err) {
        if (tries >= COMPLETE_TRIES) {
          this.log.error(`result of delivery ${c.delivery.id} not written (it will be made again): ${(err as Error).message}`);
          return 0;
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
