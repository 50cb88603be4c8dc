import { Injectable } from '@nestjs/common';
import {
  batchLocksSql,
  batchLocksTakenSql,
  batchStatement,
  eventContactSql,
  earlierMessagesSql,
  EarlierMessage,
  epochMsSql,
  eventOutboundSql,
  GroupCommit,
  IN_FLIGHT_STATES,
  movesForwardSql,
  openGates,
  OutboundState,
  PrismaService,
  RECORD_EVENTS_CTES,
  sqlStates,
  STATUS_MOVES,
  statusMoveSetSql,
  UNSENT_STATES,
  unsentRowSql,
} from '@gtc/db';
import type { SyncedTemplate } from '@gtc/whatsapp';
import type { PauseCause } from './send-policy';

/** An outbound message as the worker needs it: the row, its contact's window and opt-out, and what precedes it. */
export interface SendableMessage {
  id: string;
  tenantId: string;
  providerId: string;
  contactId: string;
  seq: number;
  state: OutboundState;
  /** Meta's id for it, once a send or a status recorded one. */
  wamid: string | null;
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

/** A state change of the rare paths (OutboundStore.setState); absent fields are left as they are. */
export interface StateChange {
  state: OutboundState;
  lastError?: string;
  errorClass?: string;
  errorCode?: number | null;
  /** The claim's attempt did not happen (its slot was not held): count it back. */
  giveBackAttempt?: boolean;
}

/** A whatsapp_providers row as the sender reads it (OutboundStore.sendingProvider). */
export interface SendingProviderRow {
  id: string;
  tenant_id: string;
  phone_number_id: string;
  api_version: string;
  access_token_enc: string;
  tier: string;
  throughput_mps: number;
  ordering: string;
  ordering_timeout_ms: number;
  paused_at: Date | null;
}


/** Not sent (nor failed) yet: queued, sending, unknown. */
const UNSENT = sqlStates(UNSENT_STATES);

/** Meta's statuses that move a message (sent, delivered, read, failed), as SQL. */
const MOVING = sqlStates(STATUS_MOVES);

/** Rows one reconciler pass reads at most, per kind (SenderReconciler). */
export const RECONCILE_BATCH = 1_000;

/** A status event as applying it left it and its message (StatusApplierService.applyOne reads it). */
export interface StatusApplyRow {
  /** Unapplied events with this id: 0 or 1. */
  events: string;
  /** Events marked applied, i.e. whose message of the same number is known: 0 or 1. */
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
}

/**
 * Statements of the hot path in flight at once; calls made meanwhile wait and go together in the next one. The second
 * starts only once the first has taken OVERLAP_AFTER_MS (GroupCommit): under load one at a time carries larger
 * batches, and one that waits on a row lock does not hold up the calls behind it.
 */
const IN_FLIGHT = 2;
/** A statement of the hot path that has taken this long waits on something: the next one starts beside it. */
const OVERLAP_AFTER_MS = 20;
/** Messages in one statement at most. */
const MAX_BATCH = 256;
/**
 * How long a statement of the hot path waits for more calls before it goes, ms. Each message takes three (load,
 * claim, record sent): at low load that adds at most 3 × LINGER_MS to its send. With 2 senders at ~450 messages/s
 * each, calls came about 2 ms apart and nearly every statement carried one message; with 2 ms, BENCH=e2e with 2
 * replicas went from 0.48-0.53 Postgres transactions per answered message to 0.25-0.27.
 */
const LINGER_MS = 2;

/**
 * The sender's SQL (its one store, libs/db/README.md): outbound messages, status events, the number's pause and
 * the reconciler's sweeps. The hot path's statements are plain SQL on the shared pool, no ORM work on the path
 * every message takes, each grouped: calls made by concurrent jobs within LINGER_MS, or while a statement runs, go
 * together in the next one (one round trip and one transaction for many messages under load). Rare paths (retries,
 * holds) stay on the Prisma client; failing a message is one SQL statement with its event.
 */
@Injectable()
export class OutboundStore {
  private readonly loads = new GroupCommit<string, SendableMessage | null>((ids) => this.loadMany(ids), IN_FLIGHT, MAX_BATCH, () => false, LINGER_MS, OVERLAP_AFTER_MS);
  private readonly claims = new GroupCommit<string, boolean>((ids) => this.claimMany(ids), IN_FLIGHT, MAX_BATCH, () => false, LINGER_MS, OVERLAP_AFTER_MS);
  private readonly sends = new GroupCommit<{ id: string; wamid: string }, boolean>((sent) => this.recordSentMany(sent), IN_FLIGHT, MAX_BATCH, () => false, LINGER_MS, OVERLAP_AFTER_MS);

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
    const { rows } = await this.prisma.pool.query(
      batchStatement(
        `SELECT o.id, o.tenant_id, o.provider_id, o.contact_id, o.seq, o.state, o.wamid, o.type, o.body, o.business_initiated,
              o.retry_on_rate_limit, o.attempts, ${epochMsSql('COALESCE(o.sending_at, o.updated_at)')} AS sending_at_ms,
              ${epochMsSql('c.last_inbound_at')} AS last_inbound_at_ms, c.opted_out,
              ${earlierMessagesSql('o')} AS earlier
       FROM outbound_messages o JOIN contacts c ON c.id = o.contact_id
       WHERE o.id = ANY($1::uuid[])`,
        [ids],
      ),
    );
    const byId = new Map<string, SendableMessage>();
    for (const r of rows) {
      byId.set(r.id, {
        id: r.id,
        tenantId: r.tenant_id,
        providerId: r.provider_id,
        contactId: r.contact_id,
        seq: r.seq,
        state: r.state,
        wamid: r.wamid,
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
    const { rows } = await this.prisma.pool.query<{ id: string }>(
      // Rows locked in id order first. Without it (a WAL record per row: issue 14) the end-to-end bench answered a
      // fifth fewer messages per second at capacity, with half again as many Redis commands each; the cause is not
      // known (the plan and the waits look alike).
      batchStatement(
        `WITH l AS (SELECT id FROM outbound_messages WHERE id = ANY($1::uuid[]) AND state = 'queued' ORDER BY id FOR UPDATE)
       UPDATE outbound_messages o SET state = 'sending', sending_at = now(), attempts = attempts + 1, updated_at = now()
       FROM l WHERE o.id = l.id AND o.state = 'queued' RETURNING o.id`,
        [ids],
      ),
    );
    // One claim per row: a second call for the same message in the batch lost the race.
    const claimed = new Set(rows.map((r) => r.id));
    return ids.map((id) => claimed.delete(id));
  }

  private async recordSentMany(sent: { id: string; wamid: string }[]): Promise<boolean[]> {
    const { rows } = await this.prisma.pool.query<{ id: string; pending: boolean }>(
      // The messages' batch locks first, as the statuses' batches take them: batches never deadlock (a failed record
      // leaves a sent message's outcome unknown until a status settles it).
      batchStatement(
        `WITH x AS (SELECT * FROM unnest($1::uuid[], $2::text[]) AS x(id, wamid)),
         l AS (${batchLocksSql('outbound_messages', 'x', 'id')})
       UPDATE outbound_messages o SET wamid = COALESCE(o.wamid, x.wamid),
         state = CASE WHEN o.state IN (${UNSENT}) THEN 'sent' ELSE o.state END,
         sent_at = COALESCE(o.sent_at, now()), updated_at = now()
       FROM x
       WHERE o.id = x.id AND ${batchLocksTakenSql('l')}
       RETURNING o.id, EXISTS (SELECT 1 FROM status_events s
                               WHERE s.provider_id = o.provider_id AND s.wamid = x.wamid AND s.applied_at IS NULL) AS pending`,
        [sent.map((s) => s.id), sent.map((s) => s.wamid)],
      ),
    );
    const pending = new Map(rows.map((r) => [r.id, r.pending]));
    return sent.map((s) => pending.get(s.id) ?? false);
  }

  /** Conditional state change (rare paths): only from the given states. Returns whether it happened. */
  async setState(id: string, from: OutboundState[], change: StateChange): Promise<boolean> {
    const { rowCount } = await this.prisma.pool.query({
      name: 'sender-set-state',
      text: `UPDATE outbound_messages SET state = $3, updated_at = now(),
         last_error = CASE WHEN $4::boolean THEN $5 ELSE last_error END,
         error_class = CASE WHEN $4::boolean THEN $6 ELSE error_class END,
         error_code = CASE WHEN $7::boolean THEN $8::int ELSE error_code END,
         attempts = attempts - $9::int
       WHERE id = $1::uuid AND state = ANY($2::text[])`,
      values: [
        id,
        from,
        change.state,
        change.lastError !== undefined,
        change.lastError ?? null,
        change.errorClass ?? null,
        change.errorCode !== undefined,
        change.errorCode ?? null,
        change.giveBackAttempt ? 1 : 0,
      ],
    });
    return rowCount === 1;
  }

  /** A provider as the sender needs it (credentials still sealed); undefined when it no longer exists. */
  async sendingProvider(id: string): Promise<SendingProviderRow | undefined> {
    const { rows } = await this.prisma.pool.query<SendingProviderRow>({
      name: 'sender-provider',
      text: `SELECT id, tenant_id, phone_number_id, api_version, access_token_enc, tier, throughput_mps, ordering, ordering_timeout_ms,
         paused_at AT TIME ZONE 'UTC' AS paused_at
       FROM whatsapp_providers WHERE id = $1::uuid`,
      values: [id],
    });
    return rows[0];
  }

  /** Paused numbers with the cause of their pause (the sender's /health info). */
  async pausedProviders(): Promise<{ phone_number_id: string; paused_at: Date; class: string | null; code: number | null; reason: string | null }[]> {
    const { rows } = await this.prisma.pool.query({
      name: 'sender-paused-providers',
      text: `SELECT phone_number_id, paused_at AT TIME ZONE 'UTC' AS paused_at, paused_class AS class, paused_code AS code, paused_reason AS reason
       FROM whatsapp_providers WHERE paused_at IS NOT NULL`,
    });
    return rows;
  }

  /** A provider's synced message templates. */
  async syncedTemplates(providerId: string): Promise<SyncedTemplate[]> {
    const { rows } = await this.prisma.pool.query<SyncedTemplate>({
      name: 'sender-synced-templates',
      text: `SELECT name, language, status, components FROM message_templates WHERE provider_id = $1::uuid`,
      values: [providerId],
    });
    return rows;
  }

  /** A status event's fields the adoption of a lost send's wamid needs; undefined when it is gone. */
  async statusEvent(id: string): Promise<{ callback_id: string | null; wamid: string; timestamp: Date; provider_id: string } | undefined> {
    const { rows } = await this.prisma.pool.query({
      name: 'sender-status-event',
      text: `SELECT callback_id, wamid, timestamp AT TIME ZONE 'UTC' AS timestamp, provider_id FROM status_events WHERE id = $1::uuid`,
      values: [id],
    });
    return rows[0];
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

  /** Of these outbound messages, the queued ones whose recipient's gate lets them go now (libs/db openGates). */
  withOpenGate(ids: string[]): Promise<string[]> {
    return openGates(this.prisma.pool, ids);
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

  /**
   * One statement: finds the status event and its message (same wamid, sent from the same phone number as the
   * webhook that carried the status), moves the message forward if the status is newer (failed over sent, never
   * over delivered or read), and marks the event applied. An event no message of its number matches stays
   * unmatched. An event ingress already applied (outbound_id set, applied_at not yet: it left a follow-up) is only
   * marked, and the message is returned as it stands (`moved` false) so that the caller does the follow-up.
   */
  async applyStatus(statusEventId: string): Promise<StatusApplyRow | undefined> {
    const { rows } = await this.prisma.pool.query<StatusApplyRow>({
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
    return rows[0];
  }

  /**
   * A send whose answer was lost adopts the wamid of a status that names it (biz_opaque_callback_data = its id):
   * only a message of the number whose webhook carried the status, without a wamid yet, and never a wamid that
   * number already holds; it counts as sent (at the status's time) unless it moved further meanwhile.
   */
  async adoptWamid(outboundId: string, wamid: string, timestamp: Date, providerId: string): Promise<void> {
    await this.prisma.pool.query({
      name: 'sender-adopt-wamid',
      text: `UPDATE outbound_messages SET wamid = $2, state = CASE WHEN state IN (${UNSENT}) THEN 'sent' ELSE state END,
         sent_at = COALESCE(sent_at, $3), updated_at = now()
       WHERE id = $1::uuid AND provider_id = $4::uuid AND wamid IS NULL
         AND NOT EXISTS (SELECT 1 FROM outbound_messages w WHERE w.provider_id = $4::uuid AND w.wamid = $2)`,
      // The column holds UTC: the time goes as UTC text (node-postgres would write a Date in the process's zone).
      values: [outboundId, wamid, timestamp.toISOString(), providerId],
    });
  }

  /** Recorded statuses that carry this message's id as their callback data, from the message's own phone number. */
  async statusesNaming(outboundId: string): Promise<{ id: string; wamid: string }[]> {
    const { rows } = await this.prisma.pool.query<{ id: string; wamid: string }>({
      name: 'sender-statuses-naming',
      // Matched to it (a bound status carries its wamid), or matched to no message yet (the partial index of unmatched ones).
      text: `WITH o AS (SELECT provider_id, wamid FROM outbound_messages WHERE id = $1::uuid)
       SELECT s.id, s.wamid FROM status_events s JOIN o ON o.provider_id = s.provider_id AND o.wamid = s.wamid WHERE s.outbound_id = $1::uuid AND s.callback_id = $2
       UNION ALL
       SELECT s.id, s.wamid FROM status_events s JOIN o ON o.provider_id = s.provider_id WHERE s.outbound_id IS NULL AND s.callback_id = $2`,
      values: [outboundId, outboundId],
    });
    return rows;
  }

  /** Unapplied statuses of this wamid from the phone number that sent a message under it. */
  async pendingStatuses(wamid: string): Promise<{ id: string; status: string }[]> {
    const { rows } = await this.prisma.pool.query<{ id: string; status: string }>({
      name: 'status-pending',
      text: `SELECT s.id, s.status FROM status_events s JOIN outbound_messages o ON o.provider_id = s.provider_id AND o.wamid = s.wamid
       WHERE s.wamid = $1 AND s.applied_at IS NULL`,
      values: [wamid],
    });
    return rows;
  }

  /**
   * Pauses a provider not paused yet (the first cause is kept) and records its `provider.paused` event for the
   * tenant's endpoints that subscribe, in one statement. Returns the number's phone_number_id when it paused it.
   */
  async pauseProvider(id: string, cause: PauseCause): Promise<string | null> {
    const { rows } = await this.prisma.pool.query<{ phone_number_id: string }>({
      name: 'sender-pause-provider',
      text: `WITH p AS (
         UPDATE whatsapp_providers SET paused_at = now(), paused_reason = $2, paused_class = $3, paused_code = $4, updated_at = now()
         WHERE id = $1::uuid AND paused_at IS NULL
         RETURNING id, tenant_id, team_id, phone_number_id
       ), ev AS (
         SELECT tenant_id, team_id, 'provider.paused'::text AS type, NULL::uuid AS contact_id,
           jsonb_build_object('provider', jsonb_build_object('id', id, 'phone_number_id', phone_number_id),
                              'reason', jsonb_build_object('class', $3::text, 'code', $4::int, 'text', $2::text)) AS data,
           NULL::uuid AS endpoint_id
         FROM p
       ), ${RECORD_EVENTS_CTES}
       SELECT p.phone_number_id FROM p CROSS JOIN ev_woke`,
      values: [id, cause.reason, cause.errorClass, cause.code ?? null],
    });
    return rows[0]?.phone_number_id ?? null;
  }

  /**
   * The reconciler's next RECONCILE_BATCH queued rows older than 10 s after `from` (its KeysetWalk), in
   * (created_at, id) order, with `at` the walked created_at.
   */
  async queuedAfter([at, id]: [Date, string]): Promise<{ id: string; at: Date }[]> {
    const { rows } = await this.prisma.pool.query<{ id: string; at: Date }>({
      // A sweep: unnamed, planned with its real cutoff (libs/db/README.md).
      // created_at holds UTC: read and bound as UTC, so the walk's Date is the row's instant in any process zone.
      text: `SELECT id, created_at AT TIME ZONE 'UTC' AS at FROM outbound_messages
       WHERE ${unsentRowSql()} AND state = 'queued' AND created_at < now() - interval '10 seconds' AND (created_at, id) > ($1::timestamp, $2::uuid)
       ORDER BY created_at, id LIMIT ${RECONCILE_BATCH}`,
      values: [at.toISOString(), id],
    });
    return rows;
  }

  /** Up to RECONCILE_BATCH sends in flight (sending, unknown) for longer than `seconds`. */
  async inFlightFor(seconds: number): Promise<{ id: string }[]> {
    const { rows } = await this.prisma.pool.query<{ id: string }>({
      // A sweep: unnamed, planned with its real cutoff (libs/db/README.md).
      text: `SELECT id FROM outbound_messages WHERE ${unsentRowSql()} AND state IN (${sqlStates(IN_FLIGHT_STATES)}) AND sending_at < now() - make_interval(secs => $1) LIMIT ${RECONCILE_BATCH}`,
      values: [seconds],
    });
    return rows;
  }

  /** Of these messages, those not sent (nor failed) yet. */
  async unsent(ids: string[]): Promise<Set<string>> {
    // An array of ids: a batch statement, unnamed (libs/db/README.md).
    const { rows } = await this.prisma.pool.query<{ id: string }>({
      text: `SELECT id FROM outbound_messages WHERE id = ANY($1::uuid[]) AND state IN (${UNSENT})`,
      values: [ids],
    });
    return new Set(rows.map((r) => r.id));
  }
}
