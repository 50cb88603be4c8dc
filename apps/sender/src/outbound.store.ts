import { Injectable } from '@nestjs/common';
import { eventContactSql, eventOutboundSql, GroupCommit, IN_FLIGHT_STATES, OutboundState, Prisma, PrismaService, RECORD_EVENTS_CTES, sqlStates, statesFrom, UNSENT_STATES } from '@gtc/db';
import type { EarlierMessage } from './ordering-gate';

/** An outbound message as the worker needs it: the row, its contact's window and opt-out, and what precedes it. */
export interface SendableMessage {
  id: string;
  tenantId: string;
  providerId: string;
  contactId: string;
  seq: number;
  state: OutboundState;
  type: string;
  body: Record<string, unknown>;
  businessInitiated: boolean;
  retryOnRateLimit: boolean;
  attempts: number;
  /** When the last attempt was claimed (or the row last changed), ms since the epoch. */
  sendingAtMs: number;
  lastInboundAtMs: number | null;
  optedOut: boolean;
  /** Earlier messages to the same recipient not yet delivered, read or failed, oldest first. */
  earlier: EarlierMessage[];
}

/** Timestamp columns hold UTC without a zone: read them as epoch milliseconds. */
const MS = (col: string) => `(extract(epoch from ${col}) * 1000)::float8`;

/** An earlier message in these states (delivered, read, failed) holds the next under no ordering policy: not listed. */
const RELEASED_UNDER_DELIVERED = sqlStates(statesFrom('delivered'));
/** Not sent (nor failed) yet: queued, sending, unknown. */
const UNSENT = sqlStates(UNSENT_STATES);

/** Statements of the hot path in flight at once; calls made meanwhile wait and go together in the next one. */
const IN_FLIGHT = 2;
/** Messages in one statement at most. */
const MAX_BATCH = 256;

/**
 * The sender's statements on outbound messages. The hot path's are plain SQL on the shared pool, no ORM work on
 * the path every message takes, each grouped: calls made by concurrent jobs while a statement runs go together in
 * the next one (one round trip and one transaction for many messages under load; at once when idle). Rare paths
 * (retries, holds) stay on the Prisma client; failing a message is one SQL statement with its event.
 */
@Injectable()
export class OutboundStore {
  private readonly loads = new GroupCommit<string, SendableMessage | null>((ids) => this.loadMany(ids), IN_FLIGHT, MAX_BATCH, () => false);
  private readonly claims = new GroupCommit<string, boolean>((ids) => this.claimMany(ids), IN_FLIGHT, MAX_BATCH, () => false);
  private readonly sends = new GroupCommit<{ id: string; wamid: string }, boolean>((sent) => this.recordSentMany(sent), IN_FLIGHT, MAX_BATCH, () => false);

  constructor(private readonly prisma: PrismaService) {}

  /** The message with its contact and the earlier undelivered messages to the same recipient. */
  load(id: string): Promise<SendableMessage | null> {
    return this.loads.submit(id);
  }

  /** queued → sending for one attempt. Resolves false when another worker (or a status) got there first. */
  claim(id: string): Promise<boolean> {
    return this.claims.submit(id);
  }

  /**
   * Records the wamid Meta answered with (never overwriting one a status already adopted) and marks it sent.
   * Resolves whether statuses of that wamid, from this message's phone number, arrived first and wait to be
   * applied (StatusApplierService.applyPending).
   */
  recordSent(id: string, wamid: string): Promise<boolean> {
    return this.sends.submit({ id, wamid });
  }

  private async loadMany(ids: string[]): Promise<(SendableMessage | null)[]> {
    const { rows } = await this.prisma.pool.query({
      // Batch statements (load, claim, record-sent): unnamed (libs/db/README.md).
      text: `SELECT o.id, o.tenant_id, o.provider_id, o.contact_id, o.seq, o.state, o.type, o.body, o.business_initiated,
              o.retry_on_rate_limit, o.attempts, ${MS('COALESCE(o.sending_at, o.updated_at)')} AS sending_at_ms,
              ${MS('c.last_inbound_at')} AS last_inbound_at_ms, c.opted_out,
              COALESCE((SELECT json_agg(json_build_object('state', e.state, 'sentAtMs', ${MS('e.sent_at')}, 'sendingAtMs', ${MS('e.sending_at')}) ORDER BY e.seq)
                        FROM outbound_messages e
                        WHERE e.contact_id = o.contact_id AND e.seq < o.seq AND e.state NOT IN (${RELEASED_UNDER_DELIVERED})), '[]') AS earlier
       FROM outbound_messages o JOIN contacts c ON c.id = o.contact_id
       WHERE o.id = ANY($1::uuid[])`,
      values: [ids],
    });
    const byId = new Map<string, SendableMessage>();
    for (const r of rows) {
      byId.set(r.id, {
        id: r.id,
        tenantId: r.tenant_id,
        providerId: r.provider_id,
        contactId: r.contact_id,
        seq: r.seq,
        state: r.state,
        type: r.type,
        body: r.body,
        businessInitiated: r.business_initiated,
        retryOnRateLimit: r.retry_on_rate_limit,
        attempts: r.attempts,
        sendingAtMs: r.sending_at_ms,
        lastInboundAtMs: r.last_inbound_at_ms,
        optedOut: r.opted_out,
        earlier: r.earlier,
      });
    }
    return ids.map((id) => byId.get(id) ?? null);
  }

  private async claimMany(ids: string[]): Promise<boolean[]> {
    const { rows } = await this.prisma.pool.query<{ id: string }>({
      // Rows locked in id order, as every statement that changes several messages does: batches never deadlock.
      text: `WITH l AS (SELECT id FROM outbound_messages WHERE id = ANY($1::uuid[]) AND state = 'queued' ORDER BY id FOR UPDATE)
       UPDATE outbound_messages o SET state = 'sending', sending_at = now(), attempts = attempts + 1, updated_at = now()
       FROM l WHERE o.id = l.id AND o.state = 'queued' RETURNING o.id`,
      values: [ids],
    });
    // One claim per row: a second call for the same message in the batch lost the race.
    const claimed = new Set(rows.map((r) => r.id));
    return ids.map((id) => claimed.delete(id));
  }

  private async recordSentMany(sent: { id: string; wamid: string }[]): Promise<boolean[]> {
    const { rows } = await this.prisma.pool.query<{ id: string; pending: boolean }>({
      text: `WITH x AS (SELECT * FROM unnest($1::uuid[], $2::text[]) AS x(id, wamid)),
         l AS (SELECT id FROM outbound_messages WHERE id IN (SELECT id FROM x) ORDER BY id FOR UPDATE)
       UPDATE outbound_messages o SET wamid = COALESCE(o.wamid, x.wamid),
         state = CASE WHEN o.state IN (${UNSENT}) THEN 'sent' ELSE o.state END,
         sent_at = COALESCE(o.sent_at, now()), updated_at = now()
       FROM x JOIN l ON l.id = x.id
       WHERE o.id = x.id
       RETURNING o.id, EXISTS (SELECT 1 FROM status_events s
                               WHERE s.provider_id = o.provider_id AND s.wamid = x.wamid AND s.applied_at IS NULL) AS pending`,
      values: [sent.map((s) => s.id), sent.map((s) => s.wamid)],
    });
    const pending = new Map(rows.map((r) => [r.id, r.pending]));
    return sent.map((s) => pending.get(s.id) ?? false);
  }

  /** Conditional state change (rare paths): only from the given states. Returns whether it happened. */
  async setState(id: string, from: OutboundState[], data: Prisma.OutboundMessageUpdateManyMutationInput): Promise<boolean> {
    const r = await this.prisma.client.outboundMessage.updateMany({ where: { id, state: { in: from } }, data });
    return r.count === 1;
  }

  /**
   * Fails a message not sent yet (dead letter: state failed, error class, code and text kept on the row) and, in
   * the same statement, records its `message.failed` event for the tenant's endpoints that subscribe (`reason`:
   * the class and the text). Returns whether it failed it (false when it was sent or failed meanwhile).
   */
  async fail(id: string, errorClass: string, reason: string, code: number | null): Promise<boolean> {
    const { rows } = await this.prisma.pool.query<{ failed: number }>({
      name: 'sender-fail',
      text: `WITH f AS (
         UPDATE outbound_messages SET state = 'failed', failed_at = now(), error_class = $2, error_code = $3, last_error = $4, updated_at = now()
         WHERE id = $1::uuid AND state IN (${UNSENT})
         RETURNING *
       ), ev AS (
         SELECT f.tenant_id, p.team_id, 'message.failed'::text AS type, f.contact_id,
           jsonb_build_object('message', ${eventOutboundSql('f')}, 'contact', ${eventContactSql('c')},
                              'reason', jsonb_build_object('class', $2::text, 'text', $4::text)) AS data,
           NULL::uuid AS endpoint_id
         FROM f JOIN contacts c ON c.id = f.contact_id JOIN whatsapp_providers p ON p.id = f.provider_id
       ), ${RECORD_EVENTS_CTES}
       SELECT (SELECT count(*) FROM f)::int AS failed, woke FROM ev_woke`,
      values: [id, errorClass, code, reason],
    });
    return rows[0].failed === 1;
  }

  /**
   * A number's tier log as Postgres knows it (to rebuild the one Redis lost): each send since `sinceMs`, or when
   * counting `recipients` each business-initiated recipient, with when it last took a slot. A message in flight
   * (sending, unknown) holds its slot too.
   */
  async tierLog(providerId: string, sinceMs: number, recipients: boolean): Promise<{ member: string; at: number }[]> {
    const { rows } = await this.prisma.pool.query<{ member: string; at: number }>({
      text: `SELECT ${recipients ? `'r:' || COALESCE(body->>'to', contact_id::text)` : 'id::text'} AS member,
              max(extract(epoch from COALESCE(sending_at, sent_at)) * 1000)::float8 AS at
       FROM outbound_messages
       WHERE provider_id = $1::uuid AND COALESCE(sending_at, sent_at) >= to_timestamp($2 / 1000.0) AT TIME ZONE 'UTC'
         AND (sent_at IS NOT NULL OR state IN (${sqlStates(IN_FLIGHT_STATES)}))${recipients ? ' AND business_initiated' : ''}
       GROUP BY 1`,
      values: [providerId, sinceMs],
    });
    return rows;
  }

  /** The next queued message to the same recipient, if any. */
  async nextQueued(contactId: string, seq: number): Promise<string | null> {
    const { rows } = await this.prisma.pool.query({
      name: 'sender-next-queued',
      text: `SELECT id FROM outbound_messages WHERE contact_id = $1::uuid AND seq > $2 AND state = 'queued' ORDER BY seq LIMIT 1`,
      values: [contactId, seq],
    });
    return rows[0]?.id ?? null;
  }
}
