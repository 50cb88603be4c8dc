import { Injectable } from '@nestjs/common';
import { isUuid, OutboundState, outboundRank } from '@gtc/db';
import { OutboundStore } from './outbound.store';
import { SenderMetrics } from './sender.metrics';

/** What applying a status did to its message. */
export interface AppliedStatus {
  outboundId: string;
  contactId: string;
  providerId: string;
  seq: number;
  /** The message's state after the status (unchanged if the status was late or a duplicate). */
  state: OutboundState;
  /** Meta's error code on the message (set by a `failed` status), if any. */
  errorCode: number | null;
  /** The message's error text (`title: message` of a `failed` status), if any. */
  lastError: string | null;
}

/**
 * Applies status webhooks to outbound messages of the phone number whose webhook carried them, forward only
 * (sent < delivered < read; failed recorded with Meta's error unless the message was already delivered).
 * A status whose message is not known yet stays
 * unapplied and is applied when the send records its wamid. A send with an unknown outcome is matched through
 * biz_opaque_callback_data (our message id) and adopts the wamid, so it is never sent again.
 */
@Injectable()
export class StatusApplierService {
  constructor(
    private readonly store: OutboundStore,
    private readonly metrics: SenderMetrics,
  ) {}

  /**
   * Applies one recorded status event (or takes one ingress applied but left a follow-up for); null when it was
   * already applied, changed nothing, or its message is unknown yet.
   */
  async apply(statusEventId: string): Promise<AppliedStatus | null> {
    const first = await this.applyOne(statusEventId);
    if (first.kind !== 'no_message') return first.applied;
    const ev = await this.store.statusEvent(statusEventId);
    if (!ev?.callback_id || !isUuid(ev.callback_id)) return null;
    // The send's answer was lost (timeout, crash): Meta's status tells us it went out, and under which wamid.
    // Only a message of the number whose webhook carried the status, and never a wamid that number already holds.
    await this.store.adoptWamid(ev.callback_id, ev.wamid, ev.timestamp, ev.provider_id);
    // Applied now if this (or a concurrent status of the same message, or the send itself) recorded the wamid.
    return (await this.applyOne(statusEventId)).applied;
  }

  /**
   * Applies one status event (OutboundStore.applyStatus, one statement). An event ingress already applied (it left
   * a follow-up) returns the message as it stands so that the caller does the follow-up (wake the next, pause the
   * number); only a status that moved its message counts in the outcomes.
   */
  private async applyOne(statusEventId: string): Promise<{ kind: 'done' | 'no_event' | 'no_message'; applied: AppliedStatus | null }> {
    const row = await this.store.applyStatus(statusEventId);
    if (!row || Number(row.events) === 0) return { kind: 'no_event', applied: null };
    if (Number(row.messages) === 0) return { kind: 'no_message', applied: null };
    if (!row.id) return { kind: 'done', applied: null };
    if (row.moved) this.metrics.outcomes.inc({ tenant: row.tenant_id, state: row.state });
    return {
      kind: 'done',
      applied: { outboundId: row.id, contactId: row.contact_id, providerId: row.provider_id, seq: row.seq, state: row.state, errorCode: row.error_code, lastError: row.last_error },
    };
  }

  /**
   * For a send whose outcome is unknown: applies any recorded status that carries this message's id (whatever
   * happened to its job) and came from the message's own phone number. Returns true when one did, i.e. the
   * message did reach Meta and must not be sent again. Another number's webhook naming our id proves nothing.
   */
  async adoptRecorded(outboundId: string): Promise<boolean> {
    const events = await this.store.statusesNaming(outboundId);
    for (const ev of events) await this.apply(ev.id);
    if (events.length) await this.applyPending(events[0].wamid);
    return events.length > 0;
  }

  /**
   * Applies every status that arrived for this wamid before its send was recorded, oldest state first: only
   * statuses from the phone number that sent the message under this wamid.
   */
  async applyPending(wamid: string): Promise<AppliedStatus[]> {
    const events = await this.store.pendingStatuses(wamid);
    events.sort((a, b) => outboundRank(a.status) - outboundRank(b.status));
    const applied: AppliedStatus[] = [];
    for (const ev of events) {
      const r = (await this.applyOne(ev.id)).applied;
      if (r) applied.push(r);
    }
    return applied;
  }
}
