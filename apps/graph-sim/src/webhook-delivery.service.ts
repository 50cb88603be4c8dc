import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { Agent, request } from 'undici';
import { signPayload } from '@gtc/whatsapp';
import { PhoneNumber, SimStateService } from './sim-state.service';

/** A webhook to deliver to a number's webhook_url, at least once. */
export interface WebhookJob {
  kind: 'status' | 'inbound';
  phone_number_id: string;
  /** The exact bytes POSTed (signed as they are). */
  bytes: Buffer;
  /** wamids of the inbound messages carried (marked delivered on a 2xx). */
  inboundWamids?: string[];
  attempt: number;
  firstAt: number;
  generation: number;
  /** True for the extra copy made by `duplicate_probability` (never duplicated again). */
  copy?: boolean;
}

/** One delivery attempt, kept in a small ring for `GET /sim/webhooks`. */
export interface DeliveryLogEntry {
  at: string;
  kind: WebhookJob['kind'];
  phone_number_id: string;
  url: string;
  attempt: number;
  outcome: 'delivered' | 'failed' | 'lost' | 'gave_up';
  status_code?: number;
  error?: string;
  bytes: number;
}

/** Builds Meta's webhook envelope for one number: `{ object, entry: [{ id: waba, changes: [{ value, field }] }] }`. */
export function webhookEnvelope(number: PhoneNumber, value: Record<string, unknown>): unknown {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: number.waba_id,
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: number.display_phone_number, phone_number_id: number.phone_number_id },
              ...value,
            },
            field: 'messages',
          },
        ],
      },
    ],
  };
}

const LOG_SIZE = 500;

/**
 * Serialises a webhook body the way Meta does: non-ASCII characters as `\uXXXX` escapes (emoji as surrogate pairs)
 * and `/` as `\/`. Receivers that hash re-serialised JSON instead of the raw bytes then fail, as they would with Meta.
 */
export function metaJson(payload: unknown): Buffer {
  const json = JSON.stringify(payload).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  return Buffer.from(json.replace(/\//g, '\\/'), 'utf8');
}

/**
 * Posts signed webhooks (`X-Hub-Signature-256` over the exact bytes) with keep-alive connections, at most
 * `webhook.concurrency` at a time, retrying non-2xx answers and network errors with capped exponential backoff
 * until `max_attempts` or `max_age_ms`; applies the loss and duplicate knobs.
 */
@Injectable()
export class WebhookDeliveryService implements OnModuleDestroy {
  private readonly logger = new Logger('WebhookDelivery');
  private readonly agent = new Agent({ connections: 512, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000, pipelining: 1 });
  private readonly waiting: WebhookJob[] = [];
  private waitingHead = 0;
  private inFlight = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Recent attempts, newest last. */
  readonly log: DeliveryLogEntry[] = [];

  constructor(private readonly state: SimStateService) {}

  /** Webhooks waiting for a free connection slot, being sent, or waiting to be retried. */
  get pending(): { queued: number; in_flight: number; retrying: number } {
    return { queued: this.waiting.length - this.waitingHead, in_flight: this.inFlight, retrying: this.timers.size };
  }

  /** Queues a webhook carrying `payload` for `number` (serialised once; those bytes are signed and sent). */
  send(kind: WebhookJob['kind'], number: PhoneNumber, payload: unknown, inboundWamids?: string[]): void {
    const job: WebhookJob = {
      kind,
      phone_number_id: number.phone_number_id,
      bytes: metaJson(payload),
      inboundWamids,
      attempt: 0,
      firstAt: Date.now(),
      generation: this.state.generation,
    };
    const cfg = this.state.config;
    if (this.state.rng.chance(cfg.duplicate_probability)) {
      this.state.stats.webhooks.duplicated++;
      this.enqueue({ ...job, copy: true });
    }
    if (this.state.rng.chance(cfg.loss_probability)) {
      job.attempt = 1;
      this.state.stats.webhooks.lost++;
      this.record(job, number.webhook_url, 'lost');
      this.retryLater(job);
      return;
    }
    this.enqueue(job);
  }

  /** Drops queued and retrying webhooks (used by reset). */
  clear(): void {
    this.waiting.length = 0;
    this.waitingHead = 0;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.log.length = 0;
  }

  async onModuleDestroy(): Promise<void> {
    this.clear();
    await this.agent.close().catch(() => undefined);
  }

  private enqueue(job: WebhookJob): void {
    this.waiting.push(job);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.state.config.webhook.concurrency && this.waitingHead < this.waiting.length) {
      const job = this.waiting[this.waitingHead++];
      if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
        this.waiting.splice(0, this.waitingHead);
        this.waitingHead = 0;
      }
      if (job.generation !== this.state.generation) continue;
      this.inFlight++;
      void this.attempt(job).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async attempt(job: WebhookJob): Promise<void> {
    const number = this.state.numbers.get(job.phone_number_id);
    if (!number) {
      this.state.stats.webhooks.gave_up++;
      return;
    }
    job.attempt++;
    if (job.attempt > 1) this.state.stats.webhooks.redelivered++;
    this.state.stats.webhooks.attempts++;
    const cfg = this.state.config.webhook;
    let statusCode: number | undefined;
    let error: string | undefined;
    try {
      const res = await request(number.webhook_url, {
        method: 'POST',
        dispatcher: this.agent,
        headers: {
          'content-type': 'application/json',
          'x-hub-signature-256': signPayload(job.bytes, number.app_secret),
          'user-agent': 'facebookexternalua',
        },
        body: job.bytes,
        headersTimeout: cfg.timeout_ms,
        bodyTimeout: cfg.timeout_ms,
      });
      statusCode = res.statusCode;
      await res.body.dump();
    } catch (err) {
      error = (err as Error).message;
    }
    if (job.generation !== this.state.generation) return;
    if (statusCode !== undefined && statusCode >= 200 && statusCode < 300) {
      this.state.stats.webhooks.delivered++;
      this.record(job, number.webhook_url, 'delivered', statusCode);
      if (job.inboundWamids) {
        const at = new Date().toISOString();
        for (const id of job.inboundWamids) {
          const rec = this.state.inbound.get(id);
          if (rec) {
            rec.attempts = job.attempt;
            rec.delivered_at ??= at;
          }
        }
      }
      return;
    }
    this.state.stats.webhooks.failed_attempts++;
    this.record(job, number.webhook_url, 'failed', statusCode, error);
    this.retryLater(job);
  }

  private retryLater(job: WebhookJob): void {
    const cfg = this.state.config.webhook;
    const delay = Math.min(cfg.retry_max_ms, cfg.retry_base_ms * 2 ** Math.min(30, job.attempt - 1));
    if (job.attempt >= cfg.max_attempts || Date.now() + delay - job.firstAt > cfg.max_age_ms) {
      this.state.stats.webhooks.gave_up++;
      const number = this.state.numbers.get(job.phone_number_id);
      this.record(job, number?.webhook_url ?? '', 'gave_up');
      this.logger.warn(`gave up on a ${job.kind} webhook for ${job.phone_number_id} after ${job.attempt} attempts`);
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (job.generation === this.state.generation) this.enqueue(job);
    }, delay);
    this.timers.add(timer);
  }

  private record(job: WebhookJob, url: string, outcome: DeliveryLogEntry['outcome'], statusCode?: number, error?: string): void {
    this.log.push({
      at: new Date().toISOString(),
      kind: job.kind,
      phone_number_id: job.phone_number_id,
      url,
      attempt: job.attempt,
      outcome,
      ...(statusCode !== undefined ? { status_code: statusCode } : {}),
      ...(error !== undefined ? { error } : {}),
      bytes: job.bytes.length,
    });
    if (this.log.length > LOG_SIZE * 2) this.log.splice(0, this.log.length - LOG_SIZE);
  }
}
