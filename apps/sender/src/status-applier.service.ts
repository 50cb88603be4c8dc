import { Injectable } from '@nestjs/common';
import { movesForwardSql, OutboundState, outboundRank, PrismaService, sqlStates, STATUS_MOVES, statusMoveSetSql, UNSENT_STATES } from '@gtc/db';
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

/** Meta's statuses that move a message (sent, delivered, read, failed), as SQL. */
const MOVING = sqlStates(STATUS_MOVES);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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
    private readonly prisma: PrismaService,
    private readonly metrics: SenderMetrics,
  ) {}

  /**
   * Applies one recorded status event (or takes one ingress applied but left a follow-up for); null when it was
   * already applied, changed nothing, or its message is unknown yet.
   */
  async apply(statusEventId: string): Promise<AppliedStatus | null> {
    const first = await this.applyOne(statusEventId);
    if (first.kind !== 'no_message') return first.applied;
    const ev = await this.prisma.client.statusEvent.findUnique({ where: { id: statusEventId } });
    if (!ev?.callbackId || !UUID.test(ev.callbackId)) return null;
    // The send's answer was lost (timeout, crash): Meta's status tells us it went out, and under which wamid.
    // Only a message of the number whose webhook carried the status, and never a wamid that number already holds.
    await this.prisma.client.$executeRawUnsafe(
      `UPDATE outbound_messages SET wamid = $2, state = CASE WHEN state IN (${sqlStates(UNSENT_STATES)}) THEN 'sent' ELSE state END,
         sent_at = COALESCE(sent_at, $3), updated_at = now()
       WHERE id = $1::uuid AND provider_id = $4::uuid AND wamid IS NULL
         AND NOT EXISTS (SELECT 1 FROM outbound_messages w WHERE w.provider_id = $4::uuid AND w.wamid = $2)`,
      ev.callbackId,
      ev.wamid,
      ev.timestamp,
      ev.providerId,
    );
    // Applied now if this (or a concurrent status of the same message, or the send itself) recorded the wamid.
    return (await this.applyOne(statusEventId)).applied;
  }

  /**
   * One statement: finds the event and its message (same wamid, sent from the same phone number as the webhook
   * that carried the status), moves the message forward if the status is newer (failed over sent, never over
   * delivered or read), and marks the event applied. An event no message of its number matches stays unmatched.
   * An event ingress already applied (outbound_id set, applied_at not yet: it left a follow-up) is only marked,
   * and returns the message as it stands so that the caller does the follow-up (wake the next, pause the number).
   */
  private async applyOne(statusEventId: string): Promise<{ kind: 'done' | 'no_event' | 'no_message'; applied: AppliedStatus | null }> {
    const { rows } = await this.prisma.pool.query<{
      events: string;
      messages: string;
      id: string | null;
      contact_id: string;
      provider_id: string;
      tenant_id: string;
      seq: number;
      state: OutboundState;
      error_code: number | null;
      last_error: string | null;
      moved: boolean;
    }>({
      name: 'status-apply',
      text: `WITH ev AS (
         SELECT id, provider_id, wamid, status, timestamp, errors, outbound_id FROM status_events WHERE id = $1::uuid AND applied_at IS NULL
       ), msg AS (
         SELECT o.id FROM outbound_messages o JOIN ev ON o.provider_id = ev.provider_id AND o.wamid = ev.wamid
       ), upd AS (
         UPDATE outbound_messages o SET
           ${statusMoveSetSql({ status: 'ev.status', sentAt: 'ev.timestamp', deliveredAt: 'ev.timestamp', readAt: 'ev.timestamp', failedAt: 'ev.timestamp', errors: 'ev.errors' })}
         FROM ev
         WHERE o.id = (SELECT id FROM msg) AND ev.outbound_id IS NULL
           AND ev.status IN (${MOVING})
           AND ${movesForwardSql('o.state', 'ev.status')}
         RETURNING o.id, o.contact_id, o.provider_id, o.tenant_id, o.seq, o.state, o.error_code, o.last_error, true AS moved
       ), followup AS (
         -- Moved already by ingress, which left the follow-up (wake, pause) to us: the message as it stands.
         SELECT o.id, o.contact_id, o.provider_id, o.tenant_id, o.seq, o.state, o.error_code, o.last_error, false AS moved
         FROM outbound_messages o JOIN ev ON o.id = ev.outbound_id JOIN msg ON msg.id = o.id
       ), mark AS (
         UPDATE status_events s SET applied_at = now(), outbound_id = msg.id FROM msg WHERE s.id = $1::uuid RETURNING s.id
       )
       SELECT (SELECT count(*) FROM ev) AS events, (SELECT count(*) FROM mark) AS messages, r.*
       FROM (SELECT 1) one LEFT JOIN (SELECT * FROM upd UNION ALL SELECT * FROM followup) r ON true`,
      values: [statusEventId],
    });
    const row = rows[0];
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
    const events = await this.prisma.client.$queryRawUnsafe<{ id: string; wamid: string }[]>(
      `SELECT s.id, s.wamid FROM status_events s JOIN outbound_messages o ON o.id = $1::uuid AND o.provider_id = s.provider_id
       WHERE s.callback_id = $2`,
      outboundId,
      outboundId,
    );
    for (const ev of events) await this.apply(ev.id);
    if (events.length) await this.applyPending(events[0].wamid);
    return events.length > 0;
  }

  /**
   * Applies every status that arrived for this wamid before its send was recorded, oldest state first: only
   * statuses from the phone number that sent the message under this wamid.
   */
  async applyPending(wamid: string): Promise<AppliedStatus[]> {
    const { rows: events } = await this.prisma.pool.query<{ id: string; status: string }>({
      name: 'status-pending',
      text: `SELECT s.id, s.status FROM status_events s JOIN outbound_messages o ON o.provider_id = s.provider_id AND o.wamid = s.wamid
       WHERE s.wamid = $1 AND s.applied_at IS NULL`,
      values: [wamid],
    });
    events.sort((a, b) => outboundRank(a.status) - outboundRank(b.status));
    const applied: AppliedStatus[] = [];
    for (const ev of events) {
      const r = (await this.applyOne(ev.id)).applied;
      if (r) applied.push(r);
    }
    return applied;
  }
}
