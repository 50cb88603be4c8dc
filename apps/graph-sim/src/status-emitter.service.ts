import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { Scheduler } from './scheduler';
import { EmittedStatus, SentMessage, SimStateService } from './sim-state.service';
import { WebhookDeliveryService, webhookEnvelope } from './webhook-delivery.service';

// Status webhooks for accepted messages: sent → delivered → read, or sent → failed, with the fault knobs.
// Payload reference: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#statuses-object

/** An error carried by a `failed` status. */
export interface StatusError {
  code: number;
  title: string;
  message: string;
  error_data: { details: string };
  href: string;
}

/** A status waiting for its time. */
interface StatusEvent {
  wamid: string;
  status: EmittedStatus['status'];
  errors?: StatusError[];
  generation: number;
}

const ERROR_HREF = 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/';

/** A `failed` status error as Meta writes it. */
export function statusError(code: number, title: string, message: string, details: string): StatusError {
  return { code, title, message, error_data: { details }, href: ERROR_HREF };
}

/** Schedules and emits the status webhooks of accepted messages (reordering, offline recipients, failures, batching). */
@Injectable()
export class StatusEmitterService implements OnModuleDestroy {
  private readonly scheduler: Scheduler<StatusEvent>;
  /** delivered/read statuses of offline recipients, by recipient, in order. */
  private readonly parked = new Map<string, StatusEvent[]>();

  constructor(
    private readonly state: SimStateService,
    private readonly delivery: WebhookDeliveryService,
  ) {
    this.scheduler = new Scheduler<StatusEvent>(
      (items) => this.emit(items),
      () => this.state.config.webhook.batch_window_ms,
    );
    state.onConfigChange((before, after) => {
      const stillOff = new Set(after.offline.map(waId));
      const online = [...new Set(before.offline.map(waId))].filter((r) => !stillOff.has(r));
      if (online.length > 0) this.release(online);
    });
  }

  /** Statuses waiting for their time, and statuses held back for offline recipients. */
  get pending(): { scheduled: number; parked: number } {
    let parked = 0;
    for (const list of this.parked.values()) parked += list.length;
    return { scheduled: this.scheduler.size, parked };
  }

  /** Drops every scheduled and parked status (used by reset). */
  clear(): void {
    this.scheduler.clear();
    this.parked.clear();
  }

  onModuleDestroy(): void {
    this.clear();
  }

  /** Plans the statuses of a just-accepted message; `windowClosed` makes it fail with 131047 as Meta does. */
  schedule(msg: SentMessage, windowClosed = false): void {
    const cfg = this.state.config;
    const rng = this.state.rng;
    const generation = this.state.generation;
    const now = Date.now();
    const lat = cfg.status_latency_ms;
    const jitter = () => rng.upTo(cfg.status_jitter_ms);
    const ev = (status: StatusEvent['status'], errors?: StatusError[]): StatusEvent => ({ wamid: msg.wamid, status, errors, generation });

    if (windowClosed) {
      const text = 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.';
      this.scheduler.add(now + lat.sent + jitter(), ev('failed', [statusError(131047, 'Re-engagement message', 'Re-engagement message', text)]));
      return;
    }
    const failing = cfg.fail.recipients.some((r) => waId(r) === waId(msg.to)) || rng.chance(cfg.fail.probability);
    let tSent = now + lat.sent + jitter();
    let tNext = now + Math.max(lat.delivered, lat.sent) + jitter();
    const second = failing
      ? ev('failed', [statusError(cfg.fail.code, cfg.fail.title, cfg.fail.message, cfg.fail.details)])
      : ev('delivered');
    if (rng.chance(cfg.reorder_probability)) {
      [tSent, tNext] = [Math.min(tSent, tNext), Math.max(tSent, tNext)];
      this.scheduler.add(tSent, second);
      this.scheduler.add(tNext, ev('sent'));
    } else {
      this.scheduler.add(tSent, ev('sent'));
      this.scheduler.add(Math.max(tSent, tNext), second);
    }
    if (!failing && rng.chance(cfg.read_probability)) {
      this.scheduler.add(Math.max(tSent, tNext, now + lat.read + jitter()), ev('read'));
    }
  }

  private release(recipients: string[]): void {
    let at = Date.now() + 1;
    for (const r of recipients) {
      const list = this.parked.get(r);
      if (!list) continue;
      this.parked.delete(r);
      for (const e of list) this.scheduler.add(at++, e);
    }
  }

  private emit(items: StatusEvent[]): void {
    const cfg = this.state.config;
    const byNumber = new Map<string, Record<string, unknown>[]>();
    for (const e of items) {
      if (e.generation !== this.state.generation) continue;
      const msg = this.state.messages.get(e.wamid);
      if (!msg) continue;
      if ((e.status === 'delivered' || e.status === 'read') && cfg.offline.some((r) => waId(r) === waId(msg.to))) {
        const list = this.parked.get(waId(msg.to)) ?? [];
        list.push(e);
        this.parked.set(waId(msg.to), list);
        continue;
      }
      const status = this.statusObject(msg, e);
      let list = byNumber.get(msg.phone_number_id);
      if (!list) byNumber.set(msg.phone_number_id, (list = []));
      list.push(status);
    }
    const size = cfg.webhook.batch_window_ms > 0 ? cfg.webhook.batch_max : 1;
    for (const [phoneNumberId, statuses] of byNumber) {
      const number = this.state.numbers.get(phoneNumberId);
      if (!number) continue;
      for (let i = 0; i < statuses.length; i += size) {
        this.delivery.send('status', number, webhookEnvelope(number, { statuses: statuses.slice(i, i + size) }));
      }
    }
  }

  private statusObject(msg: SentMessage, e: StatusEvent): Record<string, unknown> {
    const nowMs = Date.now();
    const timestamp = String(Math.floor(nowMs / 1000));
    const status: Record<string, unknown> = { id: msg.wamid, status: e.status, timestamp, recipient_id: waId(msg.to) };
    if (msg.callbackData !== undefined) status.biz_opaque_callback_data = msg.callbackData;
    if (e.status === 'failed') {
      status.errors = e.errors ?? [];
    } else {
      const conv = this.state.conversation(msg.phone_number_id, msg.to, msg.category);
      status.conversation = {
        id: conv.id,
        ...(e.status === 'sent' ? { expiration_timestamp: String(conv.expires) } : {}),
        origin: { type: msg.category },
      };
      status.pricing = { billable: true, pricing_model: 'CBP', category: msg.category };
    }
    msg.statuses.push({
      status: e.status,
      timestamp,
      emitted_at: new Date(nowMs).toISOString(),
      ...(e.errors ? { errors: e.errors } : {}),
    });
    this.state.stats.statuses_emitted[e.status] = (this.state.stats.statuses_emitted[e.status] ?? 0) + 1;
    return status;
  }
}

/** A recipient as WhatsApp writes its id: digits only. */
export function waId(to: string): string {
  const digits = to.replace(/\D/g, '');
  return digits.length > 0 ? digits : to;
}
