import { Injectable } from '@nestjs/common';
import { batchLocksSql, batchLocksTakenSql, batchStatement, columns, contactLockKeySql, eventContactSql, eventInboundSql, eventOutboundSql, EventSubscriptions, type EventType, type KeysetWalk, movesForwardSql, OUTBOUND_RANK, outboundRankSql, PrismaService, RECORD_EVENTS_CTES, sqlStates, statesFrom, STATUS_MOVES, statusMoveSetSql, unwantedEventsCtes, UUID_PATTERN } from '@gtc/db';

/**
 * Whether a message in this state lets the next one to its recipient go, under the number's (`pr`) ordering policy
 * (as the sender's releasesNext): from the state the policy names on, by rank.
 */
const releases = (col: string) =>
  `((pr.ordering = 'delivered' AND ${col} IN (${sqlStates(statesFrom('delivered'))})) OR (pr.ordering = 'sent' AND ${col} IN (${sqlStates(statesFrom('sent'))})))`;

/**
 * Records a batch of statuses and applies them, set-based, in one statement. Each status is matched to the message
 * with its wamid sent from the number whose webhook carried it; per message, the batch's new statuses move it
 * forward once (sent < delivered < read; failed over sent, never over delivered or read), keeping each state's
 * first timestamp. A status row is written applied (applied_at set) unless work is left for the sender, in which
 * case it stays unapplied; one enqueued (`pending`) whose job is lost is offered again by the reconciler's sweep once
 * its message is known:
 * - its message is not known: no message of the number has its wamid, and none without a wamid is named by its
 *   biz_opaque_callback_data (which the sender sets to our message id: a status that overtakes the send's record,
 *   or comes for a send whose outcome is unknown, is matched through it and gives the message its wamid). It is
 *   enqueued only when that callback data has the shape of our ids: every message the sender sends carries one, so
 *   a status without (a message sent by another app on the same number) has nothing for a job to do, nor for the
 *   sweep (which never reads such rows, however many another app's traffic leaves); should the sender ever record
 *   its wamid, the send's record applies it (applyPending);
 * - it moved its message to `failed` (the error may pause the number; the recipient's gate opens): enqueued.
 * A status that moved its message to a state that opens the recipient's ordering gate (per the number's ordering
 * policy; a read after delivered opens nothing) while a later message to the same recipient waits names that message
 * (`wake`): ingress brings its job forward after commit, no status job (a wake-up lost costs only time: the waiting
 * job looks again on its own). A redelivered status (its row exists) changes nothing. Each new status of a known
 * message is a `message.status` event for the endpoints that want it (written by the same statement). Returns the
 * rows written, `pending` when enqueued, and one row per message to wake (id null).
 */
/**
 * A status row left for the sender (a status job): unapplied, and either bound to its message (a follow-up) or with
 * callback data of our ids' shape. `s`: the table's alias with its dot, or ''. The reconciler's sweep reads only these,
 * through the partial index that holds them (status_events_pending_idx, migration 20261208000000_pending_statuses_index,
 * whose predicate is this one).
 */
const pendingStatusSql = (s: string) => `${s}applied_at IS NULL AND (${s}outbound_id IS NOT NULL OR ${s}callback_id ~* '${UUID_PATTERN}')`;
const recordStatusesSql = (eventsWanted: boolean, skipTaken: boolean) => `WITH x AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::text[], $8::text[], $9::text[])
      AS x(t, p, w, st, cb, ts, r, e, pl)
  ), known AS (
    SELECT x.*, COALESCE(o.id, CASE WHEN x.w = min(x.w) OVER (PARTITION BY a.id) THEN a.id END) AS oid FROM x
    LEFT JOIN outbound_messages o ON o.provider_id = x.p AND o.wamid = x.w
    -- A status that overtook its send's record: biz_opaque_callback_data (our message id) names a message of this
    -- number without a wamid yet, which adopts the status's wamid (the send then records the same one). A bound
    -- status carries its message's wamid (retention finds statuses by it): of two wamids naming one message, the
    -- batch binds the first.
    -- Looked up by id alone (OFFSET 0 keeps it a primary-key probe; the number's rows without a wamid are many).
    LEFT JOIN LATERAL (
      SELECT a.id, a.provider_id, a.wamid FROM outbound_messages a
      WHERE o.id IS NULL AND a.id = CASE WHEN x.cb ~* '${UUID_PATTERN}' THEN x.cb::uuid END OFFSET 0
    ) a ON a.provider_id = x.p AND a.wamid IS NULL
  ), target AS (
    -- was: the state before this batch, as the statement's snapshot saw it: a concurrent batch may have moved the
    -- message on since (the update below waits for it, then moves the message from its current state), and the wake
    -- below may then be one more than needed, never one less. Read here, by key, rather than in a CTE of its own that
    -- the update would join to this one: the planner takes both for a few rows and loops over one for each row of
    -- the other (quadratic in the batch).
    SELECT oid, g.wamid,
      CASE WHEN f AND COALESCE(r, 0) < ${OUTBOUND_RANK.delivered} THEN 'failed' WHEN r = ${OUTBOUND_RANK.read} THEN 'read' WHEN r = ${OUTBOUND_RANK.delivered} THEN 'delivered' ELSE 'sent' END AS status,
      sent_ts, delivered_ts, read_ts, failed_ts, errors, o.state AS was
    FROM (
      SELECT oid, min(w) AS wamid, bool_or(st = 'failed') AS f,
        max(${outboundRankSql('st')}) FILTER (WHERE st <> 'failed') AS r,
        min(to_timestamp(ts)) FILTER (WHERE st <> 'failed') AS sent_ts,
        min(to_timestamp(ts)) FILTER (WHERE st IN ('delivered', 'read')) AS delivered_ts,
        min(to_timestamp(ts)) FILTER (WHERE st = 'read') AS read_ts,
        min(to_timestamp(ts)) FILTER (WHERE st = 'failed') AS failed_ts,
        (array_agg(e::jsonb) FILTER (WHERE st = 'failed'))[1] AS errors
      FROM known k
      WHERE oid IS NOT NULL AND st IN (${sqlStates(STATUS_MOVES)})
        AND NOT EXISTS (SELECT 1 FROM status_events s WHERE s.provider_id = k.p AND s.wamid = k.w AND s.status = k.st)
      GROUP BY oid
    ) g JOIN outbound_messages o ON o.id = g.oid
  ), outbound_locks AS (
    ${batchLocksSql('outbound_messages', 'target', 'oid')}
  ), moved AS (
    -- A send in flight that a status overtook was sent about now (Meta's timestamps are whole seconds): its record
    -- keeps this time. One whose outcome is unknown takes Meta's.
    UPDATE outbound_messages o SET wamid = COALESCE(o.wamid, g.wamid),
      ${statusMoveSetSql({ status: 'g.status', sentAt: "CASE WHEN o.wamid IS NULL AND g.was = 'sending' THEN now() ELSE g.sent_ts END", deliveredAt: 'g.delivered_ts', readAt: 'g.read_ts', failedAt: 'g.failed_ts', errors: 'g.errors' })}
    FROM target g
    WHERE o.id = g.oid AND ${batchLocksTakenSql('outbound_locks')}
      AND ${movesForwardSql('o.state', 'g.status')}
    RETURNING o.id, o.state, g.was, o.contact_id, o.seq, o.provider_id
  ), follow AS (
    -- A failed message: the sender follows up (the error may pause the number; the recipient's gate opens).
    SELECT m.id, m.state FROM moved m WHERE m.state = 'failed'
  ), released AS (
    -- The recipient's next waiting message, when this move opened its gate: woken by ingress after commit.
    SELECT (SELECT n.id FROM (SELECT n.id, n.seq, n.state FROM outbound_messages n WHERE n.contact_id = m.contact_id AND n.seq > m.seq OFFSET 0) n
            WHERE n.state = 'queued' ORDER BY n.seq LIMIT 1) AS next_id
    FROM moved m JOIN whatsapp_providers pr ON pr.id = m.provider_id
    -- The contact's later messages by (contact_id, seq) only (OFFSET 0: the state index would scan every queued row).
    WHERE m.state <> 'failed' AND ${releases('m.state')} AND NOT ${releases('m.was')}
  ), ins AS (
    INSERT INTO status_events (tenant_id, provider_id, wamid, status, callback_id, timestamp, recipient_id, errors, payload, outbound_id, applied_at)
    SELECT k.t, k.p, k.w, k.st, k.cb, to_timestamp(k.ts), k.r, k.e::jsonb, k.pl::jsonb, k.oid,
      CASE WHEN k.oid IS NOT NULL AND f.id IS NULL THEN now() END
    FROM known k LEFT JOIN follow f ON f.id = k.oid AND f.state = k.st
    ${skipTaken ? 'ON CONFLICT (provider_id, wamid, status) DO NOTHING' : 'WHERE NOT EXISTS (SELECT 1 FROM status_events s WHERE s.provider_id = k.p AND s.wamid = k.w AND s.status = k.st)'}
    RETURNING id, tenant_id, provider_id, wamid, status, timestamp, errors, outbound_id,
      ${pendingStatusSql('')} AS pending
  ), ev AS (
    -- A message.status event for each new status of a known message (the message as this status left it).
    SELECT s.tenant_id, pr.team_id, 'message.status' AS type, o.contact_id,
      jsonb_build_object('message', ${eventOutboundSql('o')} || jsonb_build_object('wamid', s.wamid, 'state', COALESCE(m.state, o.state)),
        'contact', ${eventContactSql('c')}, 'status', s.status,
        'timestamp', to_char(s.timestamp, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'error', s.errors->0) AS data,
      NULL::uuid AS endpoint_id
    FROM ins s JOIN outbound_messages o ON o.id = s.outbound_id JOIN contacts c ON c.id = o.contact_id
    JOIN whatsapp_providers pr ON pr.id = s.provider_id LEFT JOIN moved m ON m.id = o.id
  ), ${eventsWanted ? RECORD_EVENTS_CTES : unwantedEventsCtes('message.status', '$1::uuid[]')}
  SELECT id, provider_id, wamid, status, pending, NULL::uuid AS wake FROM ins CROSS JOIN ev_woke
  UNION ALL
  SELECT NULL, NULL, NULL, NULL, false, next_id FROM released WHERE next_id IS NOT NULL`;
/**
 * RECORD_STATUSES_SQL with its events and without them (`none`: guarded, see unwantedEventsCtes), each as two texts
 * built once: `first` inserts the statuses not recorded yet (the batch holds each once: firstOfEach) with a plain
 * INSERT; `again`, for when a concurrent batch recorded one of them meanwhile, skips those with ON CONFLICT, whose
 * speculative insertion costs each row a WAL record more (a confirmation; issue 14). See insertOnce.
 */
const RECORD_STATUSES_SQL = {
  events: { first: recordStatusesSql(true, false), again: recordStatusesSql(true, true) },
  none: { first: recordStatusesSql(false, false), again: recordStatusesSql(false, true) },
};

/**
 * Runs a batch insert's `first` text (plain INSERT of the rows not recorded yet); when a concurrent transaction
 * inserted one of its rows meanwhile (unique violation, 23505: the statement wrote nothing), its `again` text,
 * which skips such rows with ON CONFLICT.
 */
async function insertOnce<T>(texts: { first: string; again: string }, run: (text: string) => Promise<T>): Promise<T> {
  try {
    return await run(texts.first);
  } catch (err) {
    if ((err as { code?: unknown })?.code !== '23505') throw err;
    return run(texts.again);
  }
}

/** The first row of each key, in order: a flush may hold Meta's redelivery of a row it holds (see insertOnce). */
function firstOfEach<T>(rows: T[], key: (row: T) => string): T[] {
  const first = new Map<string, T>();
  for (const row of rows) if (!first.has(key(row))) first.set(key(row), row);
  return [...first.values()];
}

/**
 * A status row a batch wrote: `pending` when it gets a status job: its message moved to `failed`, or is not known and
 * its callback data may name one of ours (see RECORD_STATUSES_SQL).
 */
export interface RecordedStatus {
  id: string;
  provider_id: string;
  wamid: string;
  status: string;
  pending: boolean;
}

/** A webhook_events row: a change kept raw, a webhook's bytes, a user action (contact looked up, never created). */
export interface WebhookEventRow {
  tenantId: string;
  providerId: string;
  field: string;
  digest: string;
  /** JSON text. */
  payload: string;
  rawBody: Buffer | null;
  contactId?: string | null;
  wamid?: string | null;
}

/** A status to record (RECORD_STATUSES_SQL). */
export interface StatusRow {
  tenantId: string;
  providerId: string;
  wamid: string;
  status: string;
  callbackData: string | null;
  /** Meta's timestamp, epoch seconds. */
  timestamp: number;
  recipientId: string | null;
  /** JSON text of Meta's errors, if any. */
  errors: string | null;
  /** JSON text. */
  payload: string;
}

/** An inbound message to record (recordMessages). */
export interface InboundRow {
  tenantId: string;
  providerId: string;
  /** Its contact by id; null: by `contactNumber`, or none. */
  contactId: string | null;
  /** Its contact by number among the batch's contacts (1 for the first); null: by `contactId`, or none. */
  contactNumber: number | null;
  wamid: string;
  type: string;
  /** JSON text. */
  payload: string;
  /** Meta's timestamp, epoch seconds. */
  timestamp: number;
  /** The message an edit or revoke changes. */
  originalWamid: string | null;
}

/** A contact as a batch of webhooks names it, found or created by recordMessages. */
export interface ContactUpsertRow {
  tenantId: string;
  providerId: string;
  waId: string | null;
  userId: string | null;
  name: string | null;
  /** Epoch seconds. */
  lastInboundAt: number;
  parentUserId: string | null;
}

/** An inbound message a batch wrote: `batch_id` set when it went pending (with a contact, not revoked). */
export interface RecordedMessage {
  id: string;
  contact_id: string | null;
  provider_id: string;
  wamid: string;
  batch_id: string | null;
}

/** A contact looked up by number (wa_id) or BSUID (user_id). */
export interface ContactLookup {
  providerId: string;
  waId: string | null;
  userId: string | null;
}

/** A contact's BSUID changed: the row found by `waId` or `oldUserId` takes `newUserId` (and the new parent). */
export interface IdentityMove {
  providerId: string;
  waId: string | null;
  oldUserId: string | null;
  newUserId: string;
  newParentUserId: string | null;
}

/** An edit or revoke of an earlier message of the same number. */
export interface MessageChange {
  providerId: string;
  original: string;
  revoke: boolean;
  /** Epoch seconds. */
  timestamp: number;
}

/** A provider as the webhook route resolves it (IngressStore.webhookProvider). */
export interface WebhookProviderRow {
  id: string;
  tenant_id: string;
  phone_number_id: string;
  verify_token: string;
  app_secret_enc: string | null;
  insecure_skip_signature: boolean;
  enabled: boolean;
}

/** Rows one reconciler pass reads at most, per kind (IngressReconciler). */
export const RECONCILE_BATCH = 1_000;
/** Rows younger than this are still on their way through the normal path (the reconciler leaves them). */
const MIN_AGE_SECONDS = 5;

/**
 * Records a batch of inbound messages and the contacts they come from, with the message.received events of the
 * tenants' endpoints that want them (eventsWanted), in one statement (one round trip, one commit; see
 * recordMessages):
 * - contacts ($1-$7, ContactUpsertRow, numbered from 1 in order): each found (by wa_id first, else by user_id) or
 *   created, its name and last_inbound_at refreshed. The rows it updates are locked first, in key order
 *   (batchLocksSql), as a flow step's write takes them: two writers never wait for each other in a circle. A contact
 *   another batch created concurrently (this statement's snapshot did not see it, its insert found it taken) is not
 *   returned, and no message of it is written: the caller looks it up and writes them again with its id;
 * - messages ($8-$16, InboundRow): each with its contact by number in this batch's contacts ($11), or by id ($10),
 *   or none (kept `ignored`); unique per provider and wamid. Rows with a contact that are not revoked already go
 *   pending in batch $17 (one inbound job). Without `skipTaken`, a plain INSERT of the messages not recorded yet
 *   (the batch holds each once); with it, ON CONFLICT skips those a concurrent batch recorded meanwhile (see
 *   RECORD_STATUSES_SQL).
 * Returns a row per message written (`k` null) and one per contact found or created (`contact_id`, its number `k`).
 */
const recordMessagesSql = (eventsWanted: boolean, skipTaken: boolean) => `WITH x AS (
    -- nid: the id of the contact if this statement creates it (gen_random_uuid makes Postgres compute x once).
    SELECT *, gen_random_uuid() AS nid FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::text[])
      WITH ORDINALITY AS x(t, p, w, u, n, ts, pu, k)
  ), found AS (
    -- By wa_id first, else by user_id; two joins so each uses its unique index.
    SELECT DISTINCT ON (p, w, u) id, k, p, w, u, n, ts, pu FROM (
      SELECT c.id, x.k, x.p, x.w, x.u, x.n, x.ts, x.pu, 0 AS pref FROM x JOIN contacts c ON c.provider_id = x.p AND c.wa_id = x.w
      UNION ALL
      SELECT c.id, x.k, x.p, x.w, x.u, x.n, x.ts, x.pu, 1 AS pref FROM x JOIN contacts c ON c.provider_id = x.p AND c.user_id = x.u
    ) m ORDER BY p, w, u, pref
  ), contact_locks AS (
    ${batchLocksSql('contacts', 'found', 'id')}
  ), upd AS (
    UPDATE contacts c SET last_inbound_at = GREATEST(c.last_inbound_at, to_timestamp(f.ts)),
      profile_name = COALESCE(f.n, c.profile_name), parent_user_id = COALESCE(f.pu, c.parent_user_id), updated_at = now()
    FROM found f WHERE c.id = f.id AND ${batchLocksTakenSql('contact_locks')}
    RETURNING f.k, c.id, c.wa_id, c.user_id, c.profile_name
  ), created AS (
    INSERT INTO contacts (id, tenant_id, provider_id, wa_id, user_id, parent_user_id, profile_name, last_inbound_at, updated_at)
    SELECT x.nid, x.t, x.p, x.w, x.u, x.pu, x.n, to_timestamp(x.ts), now() FROM x
    WHERE NOT EXISTS (SELECT 1 FROM found f WHERE f.k = x.k)
    ON CONFLICT DO NOTHING
    RETURNING id, wa_id, user_id, profile_name
  ), cs AS (
    -- This batch's contacts as this statement leaves them (the statement's own snapshot of contacts predates both),
    -- each once (an update returns a row once, whichever of its batch rows matched it).
    SELECT k, id, wa_id, user_id, profile_name FROM upd
    UNION ALL
    SELECT x.k, c.id, c.wa_id, c.user_id, c.profile_name FROM created c JOIN x ON x.nid = c.id
  ), mx AS (
    SELECT mx.t, mx.p, COALESCE(cs.id, mx.c) AS c, mx.w, mx.ty, mx.pl, mx.ts, mx.o, mx.n
    FROM unnest($8::uuid[], $9::uuid[], $10::uuid[], $11::int8[], $12::text[], $13::text[], $14::text[], $15::float8[], $16::text[])
      WITH ORDINALITY AS mx(t, p, c, ck, w, ty, pl, ts, o, n)
    LEFT JOIN cs ON cs.k = mx.ck
    -- A message whose contact another batch created meanwhile waits for the caller's second statement.
    WHERE mx.ck IS NULL OR cs.id IS NOT NULL
  ), ins AS (
    INSERT INTO inbound_messages (tenant_id, provider_id, contact_id, wamid, type, payload, sent_at, state, original_wamid, revoked_at, flow_run, processed_at, batch_id)
    SELECT t, p, c, w, ty, pl::jsonb, to_timestamp(ts),
      CASE WHEN c IS NULL THEN 'ignored' WHEN rv.at IS NOT NULL THEN 'revoked' ELSE 'pending' END, o, rv.at,
      CASE WHEN c IS NOT NULL AND rv.at IS NOT NULL THEN '{"outcome":"revoked","trace":[],"replies":0}'::jsonb END,
      CASE WHEN c IS NOT NULL AND rv.at IS NOT NULL THEN clock_timestamp() END,
      CASE WHEN c IS NOT NULL AND rv.at IS NULL THEN $17::uuid END
    FROM mx
    -- A revoke that arrived before its message (Meta does not keep order): the message comes in already revoked.
    LEFT JOIN LATERAL (SELECT min(r.sent_at) AS at FROM inbound_messages r
                       WHERE r.provider_id = mx.p AND r.original_wamid = mx.w AND r.type = 'revoke') rv ON true
    ${skipTaken ? '' : 'WHERE NOT EXISTS (SELECT 1 FROM inbound_messages e WHERE e.provider_id = mx.p AND e.wamid = mx.w)'}
    ORDER BY n
    ${skipTaken ? 'ON CONFLICT (provider_id, wamid) DO NOTHING' : ''}
    RETURNING *
  ), ev AS (
    -- The contact as this statement left it when it is one of the batch's, else as committed.
    SELECT i.tenant_id, pr.team_id, 'message.received' AS type, i.contact_id,
      jsonb_build_object('message', ${eventInboundSql('i')},
        'contact', CASE WHEN s.id IS NOT NULL THEN ${eventContactSql('s')} ELSE ${eventContactSql('c')} END) AS data, NULL::uuid AS endpoint_id
    FROM ins i LEFT JOIN cs s ON s.id = i.contact_id
    LEFT JOIN contacts c ON s.id IS NULL AND c.id = i.contact_id JOIN whatsapp_providers pr ON pr.id = i.provider_id
    WHERE s.id IS NOT NULL OR c.id IS NOT NULL
  ), ${eventsWanted ? RECORD_EVENTS_CTES : unwantedEventsCtes('message.received', '$8::uuid[]')}
  SELECT i.id, i.contact_id, i.provider_id, i.wamid, i.batch_id, NULL::int8 AS k FROM ins i CROSS JOIN ev_woke
  UNION ALL
  SELECT NULL, id, NULL, NULL, NULL, k FROM cs`;
/** recordMessagesSql with and without its events, `first` and `again` (as RECORD_STATUSES_SQL), built once. */
const RECORD_MESSAGES_SQL = {
  events: { first: recordMessagesSql(true, false), again: recordMessagesSql(true, true) },
  none: { first: recordMessagesSql(false, false), again: recordMessagesSql(false, true) },
};

/**
 * Ingress's SQL (its one store, libs/db/README.md): the group commit's batch statements (unnamed: their rows come
 * as arrays), the raw bytes it keeps, and the reconciler's sweeps.
 */
@Injectable()
export class IngressStore {
  /** Whether a batch's tenants are known to have endpoints for its events (else its statement leaves them out, guarded). */
  private readonly subscriptions = new EventSubscriptions();

  constructor(private readonly prisma: PrismaService) {}

  /** Keeps one webhook_events row (raw bytes, or a body that is not a notification), once per provider and digest. */
  async keepEvent(e: WebhookEventRow): Promise<void> {
    await this.prisma.pool.query({
      name: 'ingress-keep-event',
      text: `INSERT INTO webhook_events (tenant_id, provider_id, field, digest, payload, raw_body) VALUES ($1, $2, $3, $4, $5::jsonb, $6)
       ON CONFLICT (provider_id, digest) DO NOTHING`,
      values: [e.tenantId, e.providerId, e.field, e.digest, e.payload, e.rawBody],
    });
  }

  /**
   * Records and applies a batch of statuses in one statement (RECORD_STATUSES_SQL); returns the rows written, and
   * the messages whose gate a status opened (to wake).
   */
  async recordStatuses(statuses: StatusRow[]): Promise<{ written: RecordedStatus[]; wake: string[] }> {
    const values = columns(firstOfEach(statuses, (x) => `${x.providerId}|${x.wamid}|${x.status}`), ['tenantId', 'providerId', 'wamid', 'status', 'callbackData', 'timestamp', 'recipientId', 'errors', 'payload']);
    const rows = await this.withEvents<RecordedStatus & { wake: string | null }>('message.status', statuses.map((s) => s.tenantId), RECORD_STATUSES_SQL, values);
    return { written: rows.filter((r) => r.id !== null), wake: rows.flatMap((r) => (r.wake ? [r.wake] : [])) };
  }

  /**
   * Runs a batch statement whose changes make events of `type` for `tenantIds`, through insertOnce: without its events
   * unless an endpoint is known to want them (EventSubscriptions), and with them when its guard says one does.
   */
  private async withEvents<R extends object>(type: EventType, tenantIds: string[], texts: Record<'events' | 'none', { first: string; again: string }>, values: unknown[]): Promise<R[]> {
    const run = async (variant: 'events' | 'none') => (await insertOnce(texts[variant], (text) => this.prisma.pool.query<R>(batchStatement(text, values)))).rows;
    if (this.subscriptions.wanted(type, tenantIds)) return run('events');
    try {
      return await run('none');
    } catch (err) {
      if (!this.subscriptions.learned(type, err)) throw err;
      return run('events');
    }
  }

  /** Writes webhook_events rows, each once per provider and digest. */
  async recordEvents(events: WebhookEventRow[]): Promise<void> {
    await this.prisma.pool.query(
      `INSERT INTO webhook_events (tenant_id, provider_id, field, digest, payload, raw_body, contact_id, wamid)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[]::jsonb[], $6::bytea[], $7::uuid[], $8::text[])
         ON CONFLICT (provider_id, digest) DO NOTHING`,
      columns(events, ['tenantId', 'providerId', 'field', 'digest', 'payload', 'rawBody', 'contactId', 'wamid']),
    );
  }

  /**
   * Records inbound messages and the contacts they come from (found or created, name and last_inbound_at refreshed),
   * with the message.received events of the tenants' endpoints that want them, in one statement
   * (RECORD_MESSAGES_SQL). A message names its contact by number (`contactNumber`: 1 for the first of `contacts`) or
   * by id. Returns the messages written (a redelivered one is not) and each contact's id by number; a contact that
   * another batch created concurrently has none, and its messages are not written: look it up (findContactsAgain) and
   * record them again by id.
   */
  async recordMessages(contacts: ContactUpsertRow[], messages: InboundRow[], batchId: string): Promise<{ messages: RecordedMessage[]; contacts: Map<number, string> }> {
    const values = [
      ...columns(contacts, ['tenantId', 'providerId', 'waId', 'userId', 'name', 'lastInboundAt', 'parentUserId']),
      ...columns(firstOfEach(messages, (m) => `${m.providerId}|${m.wamid}`), ['tenantId', 'providerId', 'contactId', 'contactNumber', 'wamid', 'type', 'payload', 'timestamp', 'originalWamid']),
      batchId,
    ];
    const rows = await this.withEvents<RecordedMessage & { k: string | null }>('message.received', messages.map((m) => m.tenantId), RECORD_MESSAGES_SQL, values);
    const found = new Map<number, string>();
    const written: RecordedMessage[] = [];
    for (const { k, ...row } of rows) {
      if (k === null) written.push(row);
      else found.set(Number(k), row.contact_id!);
    }
    return { messages: written, contacts: found };
  }

  /** Contacts by wa_id and by user_id (two index probes each): those another batch created meanwhile. */
  async findContactsAgain(list: ContactLookup[]): Promise<{ id: string; provider_id: string; wa_id: string | null; user_id: string | null }[]> {
    const { rows } = await this.prisma.pool.query<{ id: string; provider_id: string; wa_id: string | null; user_id: string | null }>(
      `SELECT c.id, c.provider_id, c.wa_id, c.user_id FROM unnest($1::uuid[], $2::text[], $3::text[]) AS x(p, w, u)
         JOIN contacts c ON c.provider_id = x.p AND c.wa_id = x.w
         UNION
         SELECT c.id, c.provider_id, c.wa_id, c.user_id FROM unnest($1::uuid[], $2::text[], $3::text[]) AS x(p, w, u)
         JOIN contacts c ON c.provider_id = x.p AND c.user_id = x.u`,
      columns(list, ['providerId', 'waId', 'userId']),
    );
    return rows;
  }

  /** Contacts by wa_id or user_id (never created). */
  async findContacts(list: ContactLookup[]): Promise<{ id: string; provider_id: string; wa_id: string | null; user_id: string | null }[]> {
    const { rows } = await this.prisma.pool.query<{ id: string; provider_id: string; wa_id: string | null; user_id: string | null }>(
      `SELECT c.id, c.provider_id, c.wa_id, c.user_id FROM unnest($1::uuid[], $2::text[], $3::text[]) AS x(p, w, u)
       JOIN contacts c ON c.provider_id = x.p AND (c.wa_id = x.w OR c.user_id = x.u)`,
      columns(list, ['providerId', 'waId', 'userId']),
    );
    return rows;
  }

  /**
   * Moves each contact whose BSUID changed to its new user_id (and parent), found by wa_id or its old user_id: the
   * same row, so history, session and opt-out stay with it. A contact that already holds the new id (a message from
   * the new id was recorded first) is left as it is rather than merged.
   */
  async moveContacts(moves: IdentityMove[]): Promise<void> {
    await this.prisma.pool.query(
      `UPDATE contacts c SET user_id = x.nu, parent_user_id = COALESCE(x.np, c.parent_user_id), updated_at = now()
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) AS x(p, w, ou, nu, np)
       WHERE c.provider_id = x.p AND (c.wa_id = x.w OR c.user_id = x.ou) AND c.user_id IS DISTINCT FROM x.nu
         AND NOT EXISTS (SELECT 1 FROM contacts o WHERE o.provider_id = x.p AND o.user_id = x.nu)`,
      columns(moves, ['providerId', 'waId', 'oldUserId', 'newUserId', 'newParentUserId']),
    );
  }

  /**
   * Links edits and revokes to the message they change (same number): edited_at / revoked_at set; a revoked message
   * whose step has not run is cancelled (state `revoked`). The contacts are locked first, as a flow step locks
   * them (contactLockKeySql), so a step that already began finishes first and a revoke never lands in the middle of one.
   */
  async applyEditsAndRevokes(changes: MessageChange[]): Promise<void> {
    await this.prisma.pool.query(
      `WITH x AS (
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::bool[], $4::float8[]) AS x(p, w, r, ts)
       ), locked AS (
         -- In key order, so that two flushes never wait for each other's locks in a circle.
         SELECT id, pg_advisory_xact_lock(${contactLockKeySql('id')}) FROM (
           SELECT id FROM (
             SELECT DISTINCT o.contact_id AS id FROM inbound_messages o JOIN x ON o.provider_id = x.p AND o.wamid = x.w
             WHERE o.contact_id IS NOT NULL
           ) d ORDER BY hashtext(id::text)
         ) c
       )
       UPDATE inbound_messages o SET
         edited_at = CASE WHEN x.r THEN o.edited_at ELSE GREATEST(o.edited_at, to_timestamp(x.ts)) END,
         revoked_at = CASE WHEN x.r THEN COALESCE(o.revoked_at, to_timestamp(x.ts)) ELSE o.revoked_at END,
         processed_at = CASE WHEN x.r AND o.state = 'pending' THEN clock_timestamp() ELSE o.processed_at END,
         flow_run = CASE WHEN x.r AND o.state = 'pending' THEN '{"outcome":"revoked","trace":[],"replies":0}'::jsonb ELSE o.flow_run END,
         state = CASE WHEN x.r AND o.state = 'pending' THEN 'revoked' ELSE o.state END
       FROM x
       WHERE o.provider_id = x.p AND o.wamid = x.w AND (o.contact_id IS NULL OR o.contact_id IN (SELECT id FROM locked))`,
      columns(changes, ['providerId', 'original', 'revoke', 'timestamp']),
    );
  }

  /**
   * The reconciler's next RECONCILE_BATCH pending inbound messages with a contact, older than MIN_AGE_SECONDS, after
   * arrival `after` (int8, as text), in arrival order.
   */
  async pendingInbound(after: string): Promise<{ id: string; contact_id: string; arrival: string; batch_id: string | null }[]> {
    const { rows } = await this.prisma.pool.query<{ id: string; contact_id: string; arrival: string; batch_id: string | null }>({
      // A sweep: unnamed, planned with its real cutoff (libs/db/README.md).
      text: `SELECT id, contact_id, arrival, batch_id FROM inbound_messages
       WHERE state = 'pending' AND contact_id IS NOT NULL AND received_at < now() - make_interval(secs => $1) AND arrival > $2::bigint
       ORDER BY arrival LIMIT ${RECONCILE_BATCH}`,
      values: [MIN_AGE_SECONDS, after],
    });
    return rows;
  }

  /**
   * The reconciler's next RECONCILE_BATCH statuses left for a status job (pendingStatusSql) whose message is known,
   * older than MIN_AGE_SECONDS, after `from` (its KeysetWalk), in (received_at, id) order, with `at` the walked
   * received_at. It reads only those rows (status_events_pending_idx), never another app's statuses kept unapplied.
   */
  async unappliedStatuses([at, id]: KeysetWalk['from']): Promise<{ id: string; at: Date }[]> {
    const { rows } = await this.prisma.pool.query<{ id: string; at: Date }>({
      // A sweep: unnamed, planned with its real cutoff (libs/db/README.md).
      // received_at holds UTC: read and bound as UTC, so the walk's Date is the row's instant in any process zone.
      text: `SELECT s.id, s.received_at AT TIME ZONE 'UTC' AS at FROM status_events s JOIN outbound_messages o ON o.provider_id = s.provider_id AND o.wamid = s.wamid
       WHERE ${pendingStatusSql('s.')} AND s.received_at < now() - make_interval(secs => $1) AND (s.received_at, s.id) > ($2::timestamp, $3::uuid)
       ORDER BY s.received_at, s.id LIMIT ${RECONCILE_BATCH}`,
      values: [MIN_AGE_SECONDS, at.toISOString(), id],
    });
    return rows;
  }

  /** The provider of a tenant's team by their slugs, as the webhook route names them; undefined when there is none. */
  async webhookProvider(tenantSlug: string, teamSlug: string): Promise<WebhookProviderRow | undefined> {
    const { rows } = await this.prisma.pool.query<WebhookProviderRow>({
      name: 'ingress-webhook-provider',
      text: `SELECT p.id, p.tenant_id, p.phone_number_id, p.verify_token, p.app_secret_enc, p.insecure_skip_signature, p.enabled
       FROM whatsapp_providers p JOIN teams t ON t.id = p.team_id JOIN tenants n ON n.id = t.tenant_id
       WHERE n.slug = $1 AND t.slug = $2`,
      values: [tenantSlug, teamSlug],
    });
    return rows[0];
  }

  /** `tenant/team` of every team whose provider skips signature checks (insecure_skip_signature). */
  async insecureTeams(): Promise<string[]> {
    const { rows } = await this.prisma.pool.query<{ team: string }>({
      name: 'ingress-insecure-teams',
      text: `SELECT n.slug || '/' || t.slug AS team FROM whatsapp_providers p JOIN teams t ON t.id = p.team_id JOIN tenants n ON n.id = t.tenant_id
       WHERE p.insecure_skip_signature ORDER BY 1`,
    });
    return rows.map((r) => r.team);
  }

  /** Of these inbound messages, those still pending. */
  async stillPending(ids: string[]): Promise<Set<string>> {
    // An array of ids: a batch statement, unnamed (libs/db/README.md).
    const { rows } = await this.prisma.pool.query<{ id: string }>({ text: `SELECT id FROM inbound_messages WHERE id = ANY($1::uuid[]) AND state = 'pending'`, values: [ids] });
    return new Set(rows.map((r) => r.id));
  }

  /** Of these status events, those still unapplied. */
  async stillUnapplied(ids: string[]): Promise<Set<string>> {
    // An array of ids: a batch statement, unnamed (libs/db/README.md).
    const { rows } = await this.prisma.pool.query<{ id: string }>({ text: `SELECT id FROM status_events WHERE id = ANY($1::uuid[]) AND applied_at IS NULL`, values: [ids] });
    return new Set(rows.map((r) => r.id));
  }
}
