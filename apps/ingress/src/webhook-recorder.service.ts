import { createHash, randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { contactLockKeySql, eventContactSql, eventInboundSql, eventOutboundSql, GroupCommit, movesForwardSql, OUTBOUND_RANK, outboundRankSql, PrismaService, RECORD_EVENTS_CTES, sqlStates, statesFrom, STATUS_MOVES, statusMoveSetSql } from '@gtc/db';
import { jobIds, QueueName, QueueService } from '@gtc/queue';
import type { InboundMessageEvent, ParsedWebhook, StatusUpdate, UserAction } from '@gtc/whatsapp';
import { IngressMetrics } from './ingress.metrics';
import type { WebhookTarget } from './provider.service';
import { escapeString, StorageProblem, storableJson, storableKey, storableText, storableTimestamp } from './storable';

/** One verified webhook to record. */
export interface RecordRequest {
  target: WebhookTarget;
  webhook: ParsedWebhook;
  /** The exact bytes received: kept when the content had to change to be stored, or could not be stored. */
  rawBody: Buffer;
}

/** What recording one webhook did. */
export interface RecordOutcome {
  messages: number;
  newMessages: number;
  statuses: number;
  newStatuses: number;
  events: number;
  /** Changes for another phone number, acknowledged and dropped. */
  dropped: number;
  /** Parts that had to change to be stored (escaped strings, clamped timestamps, …); the raw bytes are kept too. */
  problems: number;
  /** The content could not be recorded as rows at all: only its raw bytes were kept (an operator replays it). */
  keptRaw: boolean;
  /**
   * What did not conform to Meta's documented shapes, one label per problem (`unknown_field`, `invalid_item`,
   * `unreadable_message`, `not_whatsapp`): all of it kept and acknowledged, and counted.
   */
  nonconforming: string[];
}

/** A signed, well-formed JSON body that is not a WhatsApp Business Account notification. */
export interface NonconformingRequest {
  target: WebhookTarget;
  /** Why it is not a notification, e.g. `entry is missing, not an array`. */
  reason: string;
  /** The decoded JSON. */
  body: unknown;
  rawBody: Buffer;
}

interface ContactIdentity {
  key: string;
  tenantId: string;
  providerId: string;
  waId: string | null;
  userId: string | null;
  parentUserId: string | null;
  name: string | null;
  lastInboundAt: number;
}

/** A webhook made storable, item by item, before it joins a batch: what a batch writes for it. */
interface PreparedWebhook {
  target: WebhookTarget;
  messages: { m: InboundMessageEvent; key: string | null; payload: string }[];
  statuses: { s: StatusUpdate; errors: string | null; payload: string }[];
  events: PreparedEvent[];
  /** BSUID changes (`system` `user_changed_user_id`): the contact moves to its new id before anything else. */
  moves: IdentityMove[];
  dropped: number;
  problems: number;
  nonconforming: string[];
}

/** A webhook_events row to write; `key` names the contact it is about (looked up, never created). */
interface PreparedEvent {
  field: string;
  digest: string;
  payload: string;
  rawBody: Buffer | null;
  key?: string | null;
  waId?: string;
  userId?: string;
  wamid?: string;
}

/** A contact's BSUID changed: the row found by `waId` or `oldUserId` takes `newUserId` (and the new parent). */
interface IdentityMove {
  providerId: string;
  waId: string | null;
  oldUserId: string | null;
  newUserId: string;
  newParentUserId: string | null;
}

/** The field of the webhook_events row that keeps a webhook's raw bytes when its content had to change. */
const STORAGE_PROBLEMS_FIELD = 'gtc.storage_problems';
/** The field of the webhook_events row that keeps a webhook whose content could not be recorded as rows. */
const UNRECORDED_FIELD = 'gtc.unrecorded';
/** The field of the webhook_events row that keeps a signed JSON body that is not a WhatsApp notification at all. */
const NONCONFORMING_FIELD = 'gtc.nonconforming';
/** The field of the webhook_events row that keeps entries or changes too malformed to be read. */
const INVALID_FIELD = 'gtc.invalid';
/** The field of a user action's webhook_events row (a marketing message link click), suffixed with its type. */
const USER_ACTION_FIELD = 'messages.user_actions';
/**
 * Fields of the whatsapp_business_account object Meta documents besides `messages` (kept raw as they are, not
 * counted as non-conforming); anything else is an unknown field. https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/
 */
const DOCUMENTED_FIELDS = new Set([
  'account_alerts',
  'account_review_update',
  'account_settings_update',
  'account_update',
  'automatic_events',
  'business_capability_update',
  'business_status_update',
  'calls',
  'flows',
  'group_lifecycle_update',
  'group_participants_update',
  'group_settings_update',
  'group_status_update',
  'history',
  'message_echoes',
  'message_template_components_update',
  'message_template_quality_update',
  'message_template_status_update',
  'partner_solutions',
  'payment_configuration_update',
  'phone_number_name_update',
  'phone_number_quality_update',
  'security',
  'smb_app_state_sync',
  'smb_message_echoes',
  'template_category_update',
  'tracking_events',
  'user_preferences',
]);

const RETRYABLE = /40P01|40001|deadlock|could not serialize/i;
/** SQLSTATE classes no content causes: connection, resources, operator intervention, system errors. */
const TRANSIENT_SQLSTATE = /^(08|53|57|58)/;

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
 * case it stays unapplied, is enqueued, and the reconciler sweeps it if its job is lost:
 * - its message is not known: no message of the number has its wamid, and none without a wamid is named by its
 *   biz_opaque_callback_data (which the sender sets to our message id: a status that overtakes the send's record,
 *   or comes for a send whose outcome is unknown, is matched through it and gives the message its wamid);
 * - it moved its message to `failed` (the error may pause the number; the recipient's gate opens);
 * - it moved its message to a state that opens the recipient's ordering gate (per the number's ordering policy; a
 *   read after delivered opens nothing) while a later message to the same recipient waits: that one is woken at once.
 * A redelivered status (its row exists) changes nothing. Each new status of a known message is a `message.status`
 * event for the endpoints that want it (written by the same statement). Returns the rows written, `pending` when
 * enqueued.
 */
const UUID_RE = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
const RECORD_STATUSES_SQL = `WITH x AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::text[], $8::text[], $9::text[])
      AS x(t, p, w, st, cb, ts, r, e, pl)
  ), known AS (
    SELECT x.*, COALESCE(o.id, a.id) AS oid FROM x
    LEFT JOIN outbound_messages o ON o.provider_id = x.p AND o.wamid = x.w
    -- A status that overtook its send's record: biz_opaque_callback_data (our message id) names a message of this
    -- number without a wamid yet, which adopts the status's wamid (the send then records the same one).
    -- Looked up by id alone (OFFSET 0 keeps it a primary-key probe; the number's rows without a wamid are many).
    LEFT JOIN LATERAL (
      SELECT a.id, a.provider_id, a.wamid FROM outbound_messages a
      WHERE o.id IS NULL AND a.id = CASE WHEN x.cb ~* '${UUID_RE}' THEN x.cb::uuid END OFFSET 0
    ) a ON a.provider_id = x.p AND a.wamid IS NULL
  ), target AS (
    SELECT oid, wamid,
      CASE WHEN f AND COALESCE(r, 0) < ${OUTBOUND_RANK.delivered} THEN 'failed' WHEN r = ${OUTBOUND_RANK.read} THEN 'read' WHEN r = ${OUTBOUND_RANK.delivered} THEN 'delivered' ELSE 'sent' END AS status,
      sent_ts, delivered_ts, read_ts, failed_ts, errors
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
    ) g
  ), locked AS (
    -- Locked in one order (no deadlock between batches); the state read here is current, and ours until commit.
    SELECT o.id, o.state FROM outbound_messages o WHERE o.id IN (SELECT oid FROM target) ORDER BY o.id FOR UPDATE
  ), moved AS (
    -- A send in flight that a status overtook was sent about now (Meta's timestamps are whole seconds): its record
    -- keeps this time. One whose outcome is unknown takes Meta's.
    UPDATE outbound_messages o SET wamid = COALESCE(o.wamid, g.wamid),
      ${statusMoveSetSql({ status: 'g.status', sentAt: "CASE WHEN o.wamid IS NULL AND l.state = 'sending' THEN now() ELSE g.sent_ts END", deliveredAt: 'g.delivered_ts', readAt: 'g.read_ts', failedAt: 'g.failed_ts', errors: 'g.errors' })}
    FROM target g JOIN locked l ON l.id = g.oid
    WHERE o.id = g.oid
      AND ${movesForwardSql('o.state', 'g.status')}
    RETURNING o.id, o.state, l.state AS was, o.contact_id, o.seq, o.provider_id
  ), follow AS (
    SELECT m.id, m.state FROM moved m JOIN whatsapp_providers pr ON pr.id = m.provider_id
    WHERE m.state = 'failed'
      OR ${releases('m.state')} AND NOT ${releases('m.was')}
        -- The contact's later messages by (contact_id, seq) only (OFFSET 0: the state index would scan every queued row).
        AND EXISTS (SELECT 1 FROM (SELECT n.state FROM outbound_messages n WHERE n.contact_id = m.contact_id AND n.seq > m.seq OFFSET 0) n WHERE n.state = 'queued')
  ), ins AS (
    INSERT INTO status_events (tenant_id, provider_id, wamid, status, callback_id, timestamp, recipient_id, errors, payload, outbound_id, applied_at)
    SELECT k.t, k.p, k.w, k.st, k.cb, to_timestamp(k.ts), k.r, k.e::jsonb, k.pl::jsonb, k.oid,
      CASE WHEN k.oid IS NOT NULL AND f.id IS NULL THEN now() END
    FROM known k LEFT JOIN follow f ON f.id = k.oid AND f.state = k.st
    ON CONFLICT (provider_id, wamid, status) DO NOTHING
    RETURNING id, tenant_id, provider_id, wamid, status, timestamp, errors, outbound_id, applied_at IS NULL AS pending
  ), ev AS (
    -- A message.status event for each new status of a known message (the message as this status left it).
    SELECT s.tenant_id, pr.team_id, 'message.status' AS type, o.contact_id,
      jsonb_build_object('message', ${eventOutboundSql('o')} || jsonb_build_object('wamid', s.wamid, 'state', COALESCE(m.state, o.state)),
        'contact', ${eventContactSql('c')}, 'status', s.status,
        'timestamp', to_char(s.timestamp, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'error', s.errors->0) AS data,
      NULL::uuid AS endpoint_id
    FROM ins s JOIN outbound_messages o ON o.id = s.outbound_id JOIN contacts c ON c.id = o.contact_id
    JOIN whatsapp_providers pr ON pr.id = s.provider_id LEFT JOIN moved m ON m.id = o.id
  ), ${RECORD_EVENTS_CTES}
  SELECT id, provider_id, wamid, status, pending FROM ins CROSS JOIN ev_woke`;

/**
 * True when a failure says nothing about the content written (Postgres unreachable, restarting, out of
 * resources): retrying alone would fail the same way, so the webhooks are answered 503 for Meta to retry.
 * Anything else (a data or constraint error, a program error) may come from one item, and is isolated.
 */
export function isTransientFailure(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  if (/^[0-9A-Z]{5}$/.test(code)) return TRANSIENT_SQLSTATE.test(code);
  if (/^E[A-Z]+$/.test(code)) return true; // ECONNREFUSED, ECONNRESET, ETIMEDOUT, …
  return /connect|connection|terminated|timeout/i.test(String(e?.message ?? ''));
}

function identityKey(providerId: string, waId?: string, userId?: string): string | null {
  if (waId) return `${providerId}|w|${waId}`;
  if (userId) return `${providerId}|u|${userId}`;
  return null;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * Makes one webhook storable on its own, so that nothing in it can fail a batch: every string with NUL or a
 * lone surrogate escaped (reversibly), over-deep values kept as text, over-long keys hashed, timestamps out of
 * range replaced with the receive time. Messages and statuses carry their own `storageProblems`; if there was
 * any, the exact raw bytes are kept as well (webhook_events, field `gtc.storage_problems`).
 */
export function prepareWebhook({ target, webhook, rawBody }: RecordRequest, log?: Logger): PreparedWebhook {
  const prepared: PreparedWebhook = { target, messages: [], statuses: [], events: [], moves: [], dropped: 0, problems: 0, nonconforming: [] };
  const nowSeconds = Math.floor(Date.now() / 1000);
  const all: StorageProblem[] = [];
  const note = (where: string, problems: StorageProblem[]) => {
    for (const p of problems) all.push({ ...p, path: `${where}.${p.path}` });
  };
  if (webhook.invalid.length) {
    const problems: StorageProblem[] = [];
    const payload = JSON.stringify(storableJson({ invalid: webhook.invalid }, problems));
    note('invalid', problems);
    prepared.events.push({ field: INVALID_FIELD, digest: sha256(payload), payload, rawBody: null });
    prepared.nonconforming.push('invalid_item');
  }
  webhook.changes.forEach((change, c) => {
    if (change.phoneNumberId && change.phoneNumberId !== target.phoneNumberId) {
      prepared.dropped++;
      log?.warn(
        `dropped a webhook change for phone_number_id ${escapeString(change.phoneNumberId).slice(0, 100)}: this team's number is ${target.phoneNumberId}`,
      );
      return;
    }
    if (change.field !== 'messages' || !change.known || change.invalid.length || change.errors.length) {
      const problems: StorageProblem[] = [];
      const payload = JSON.stringify(storableJson(change.raw, problems, 'value') ?? null);
      const field = storableKey(storableText(change.field, problems, 'field'), problems, 'field');
      note(`changes[${c}]`, problems);
      prepared.events.push({ field, digest: sha256(payload), payload, rawBody: null });
      if (!change.known && !DOCUMENTED_FIELDS.has(change.field)) prepared.nonconforming.push('unknown_field');
      if (change.invalid.length) prepared.nonconforming.push('invalid_item');
    }
    change.userActions.forEach((raw, i) => {
      const problems: StorageProblem[] = [];
      const a = storableJson(raw, problems) as UserAction;
      if (a.from !== undefined) a.from = storableKey(a.from, problems, 'from');
      if (a.userId !== undefined) a.userId = storableKey(a.userId, problems, 'userId');
      if (a.messageId !== undefined) a.messageId = storableKey(a.messageId, problems, 'messageId');
      a.timestamp = storableTimestamp(a.timestamp, nowSeconds, problems);
      note(`changes[${c}].userActions[${i}]`, problems);
      const payload = JSON.stringify(a);
      const field = storableKey(`${USER_ACTION_FIELD}.${a.actionType}`, problems, 'actionType');
      if (!a.known) prepared.nonconforming.push('unknown_user_action');
      prepared.events.push({
        field,
        digest: sha256(payload),
        payload,
        rawBody: null,
        key: identityKey(target.providerId, a.from, a.userId),
        waId: a.from,
        userId: a.userId,
        wamid: a.messageId,
      });
    });
    change.messages.forEach((raw, i) => {
      const problems: StorageProblem[] = [];
      const m = storableJson(raw, problems) as InboundMessageEvent;
      m.wamid = storableKey(m.wamid, problems, 'wamid');
      if (m.from !== undefined) m.from = storableKey(m.from, problems, 'from');
      if (m.userId !== undefined) m.userId = storableKey(m.userId, problems, 'userId');
      if (m.parentUserId !== undefined) m.parentUserId = storableKey(m.parentUserId, problems, 'parentUserId');
      m.timestamp = storableTimestamp(m.timestamp, nowSeconds, problems);
      if (m.edit) m.edit.originalMessageId = storableKey(m.edit.originalMessageId, problems, 'edit.originalMessageId');
      if (m.revoke) m.revoke.originalMessageId = storableKey(m.revoke.originalMessageId, problems, 'revoke.originalMessageId');
      note(`changes[${c}].messages[${i}]`, problems);
      if (m.problems?.length) prepared.nonconforming.push('unreadable_message');
      const payload = JSON.stringify(problems.length ? { ...m, storageProblems: problems } : m);
      // A BSUID change is the user's own message: it belongs to the contact under its new id, which the move gives it.
      const newUserId = m.system?.type === 'user_changed_user_id' ? m.system.newUserId : undefined;
      if (newUserId !== undefined) {
        const to = storableKey(newUserId, problems, 'system.newUserId');
        prepared.moves.push({
          providerId: target.providerId,
          waId: m.from ?? null,
          oldUserId: m.userId ?? null,
          newUserId: to,
          newParentUserId: m.system?.newParentUserId ?? null,
        });
        prepared.messages.push({ m: { ...m, userId: to }, key: identityKey(target.providerId, m.from, to), payload });
      } else {
        prepared.messages.push({ m, key: identityKey(target.providerId, m.from, m.userId), payload });
      }
    });
    change.statuses.forEach((raw, i) => {
      const problems: StorageProblem[] = [];
      const s = storableJson(raw, problems) as StatusUpdate;
      s.wamid = storableKey(s.wamid, problems, 'wamid');
      s.status = storableKey(s.status, problems, 'status');
      if (s.callbackData !== undefined) s.callbackData = storableKey(s.callbackData, problems, 'callbackData');
      s.timestamp = storableTimestamp(s.timestamp, nowSeconds, problems);
      note(`changes[${c}].statuses[${i}]`, problems);
      const payload = JSON.stringify(problems.length ? { ...s, storageProblems: problems } : s);
      prepared.statuses.push({ s, errors: s.errors ? JSON.stringify(s.errors) : null, payload });
    });
  });
  if (all.length) {
    prepared.problems = all.length;
    const payload = JSON.stringify({ problems: all.slice(0, 100), count: all.length });
    prepared.events.push({ field: STORAGE_PROBLEMS_FIELD, digest: sha256(rawBody), payload, rawBody });
    log?.warn(`stored a webhook for ${target.phoneNumberId} in an escaped form (${all.length} problem(s), first: ${all[0].problem} at ${all[0].path})`);
  }
  return prepared;
}

/**
 * Records verified webhooks durably and deduplicated, many per batch (group commit): contacts upserted,
 * inbound messages unique per provider+wamid, statuses unique per provider+wamid+status (a status belongs to the
 * number whose webhook carried it) and applied to their messages in the same statement, other changes kept raw.
 * Each webhook is made storable on its own first (prepareWebhook); a batch that still fails is split so only the guilty webhook fails, and that one's raw
 * bytes are kept and acknowledged. Only new rows with work left are enqueued (inbound messages; statuses the sender
 * must follow up, see RECORD_STATUSES_SQL), after commit; if Redis is down they stay pending for the reconciler.
 */
@Injectable()
export class WebhookRecorderService {
  private readonly log = new Logger(WebhookRecorderService.name);
  /**
   * Two flushes at a time: on a loaded machine fewer, larger batches cost less per webhook (pnpm bench: 8 → 2
   * took ingress from ~1,200 to ~1,850 req/s and p99 at 1,000 req/s from 82 to 37 ms), and the second flush keeps
   * webhooks moving while one waits on a contact row a flow step holds.
   */
  private readonly commits = new GroupCommit<PreparedWebhook, RecordOutcome>(
    (items) => this.flush(items),
    2,
    200,
    (err) => !isTransientFailure(err),
  );

  constructor(
    private readonly prisma: PrismaService,
    private readonly queues: QueueService,
    private readonly metrics: IngressMetrics,
  ) {}

  /**
   * Resolves once the webhook's content is committed to Postgres (as rows, or as its raw bytes when it cannot
   * be made rows); rejects only when Postgres could not be written at all (the caller answers 503).
   */
  async record(request: RecordRequest): Promise<RecordOutcome> {
    try {
      return await this.commits.submit(prepareWebhook(request, this.log));
    } catch (err) {
      if (isTransientFailure(err)) throw err;
      return this.keepRaw(request, err);
    }
  }

  /** Last resort for a webhook whose content failed even alone: its exact bytes and the error, kept for replay. */
  private async keepRaw({ target, rawBody }: RecordRequest, cause: unknown): Promise<RecordOutcome> {
    const error = escapeString(String((cause as Error)?.message ?? cause)).slice(0, 2000);
    this.log.error(`kept only the raw bytes of a webhook for ${target.phoneNumberId}: its content could not be recorded (${error})`);
    await this.prisma.pool.query(
      `INSERT INTO webhook_events (tenant_id, provider_id, field, digest, payload, raw_body) VALUES ($1, $2, $3, $4, $5::jsonb, $6)
       ON CONFLICT (provider_id, digest) DO NOTHING`,
      [target.tenantId, target.providerId, UNRECORDED_FIELD, sha256(rawBody), JSON.stringify({ error }), rawBody],
    );
    this.metrics.keptRaw.inc();
    return { messages: 0, newMessages: 0, statuses: 0, newStatuses: 0, events: 1, dropped: 0, problems: 0, keptRaw: true, nonconforming: [] };
  }

  /**
   * Keeps a signed JSON body that is not a WhatsApp Business Account notification (`object` of another product,
   * `entry` missing, not an object): its bytes and what was wrong, once per body. Rejects only when Postgres could
   * not be written (the caller answers 503); otherwise the caller acknowledges it, so Meta never retries it.
   */
  async keepNonconforming({ target, reason, body, rawBody }: NonconformingRequest): Promise<void> {
    const problems: StorageProblem[] = [];
    const payload = JSON.stringify({ reason: storableText(reason, problems, 'reason'), body: storableJson(body, problems, 'body') ?? null });
    await this.prisma.pool.query(
      `INSERT INTO webhook_events (tenant_id, provider_id, field, digest, payload, raw_body) VALUES ($1, $2, $3, $4, $5::jsonb, $6)
       ON CONFLICT (provider_id, digest) DO NOTHING`,
      [target.tenantId, target.providerId, NONCONFORMING_FIELD, sha256(rawBody), payload, rawBody],
    );
  }

  private async flush(items: PreparedWebhook[]): Promise<RecordOutcome[]> {
    this.metrics.batchSize.observe(items.length);
    const end = this.metrics.flushSeconds.startTimer();
    for (let attempt = 1; ; attempt++) {
      try {
        const outcomes = await this.write(items);
        end();
        return outcomes;
      } catch (err) {
        if (attempt >= 3 || !RETRYABLE.test(String((err as Error).message))) throw err;
      }
    }
  }

  private async write(items: PreparedWebhook[]): Promise<RecordOutcome[]> {
    const outcomes: RecordOutcome[] = items.map((x) => ({
      messages: 0,
      newMessages: 0,
      statuses: 0,
      newStatuses: 0,
      events: 0,
      dropped: x.dropped,
      problems: x.problems,
      keptRaw: false,
      nonconforming: x.nonconforming,
    }));
    const contacts = new Map<string, ContactIdentity>();
    const messages: { item: number; target: WebhookTarget; m: InboundMessageEvent; key: string | null; payload: string }[] = [];
    const statuses: { item: number; target: WebhookTarget; s: StatusUpdate; errors: string | null; payload: string }[] = [];
    const events: ({ item: number; target: WebhookTarget } & PreparedEvent)[] = [];
    const moves: IdentityMove[] = [];

    items.forEach((prepared, item) => {
      const { target } = prepared;
      for (const e of prepared.events) events.push({ item, target, ...e });
      moves.push(...prepared.moves);
      for (const x of prepared.messages) {
        const { m, key } = x;
        if (key) {
          const prev = contacts.get(key);
          contacts.set(key, {
            key,
            tenantId: target.tenantId,
            providerId: target.providerId,
            waId: m.from ?? null,
            userId: m.userId ?? prev?.userId ?? null,
            parentUserId: m.parentUserId ?? prev?.parentUserId ?? null,
            name: m.profileName ?? prev?.name ?? null,
            lastInboundAt: Math.max(prev?.lastInboundAt ?? 0, m.timestamp),
          });
        }
        messages.push({ item, target, ...x });
      }
      for (const x of prepared.statuses) statuses.push({ item, target, ...x });
    });

    // No transaction: each statement is atomic and idempotent, and we answer 200 only when all succeeded; a
    // partial write followed by 503 is completed by Meta's retry. Statuses and other events don't wait for contacts.
    const pool = this.prisma.pool;
    const statusWrite = statuses.length
      ? pool.query<{ id: string; provider_id: string; wamid: string; status: string; pending: boolean }>(
          { text: RECORD_STATUSES_SQL, values: [ // a batch statement: unnamed (libs/db/README.md)
            statuses.map((x) => x.target.tenantId),
            statuses.map((x) => x.target.providerId),
            statuses.map((x) => x.s.wamid),
            statuses.map((x) => x.s.status),
            statuses.map((x) => x.s.callbackData ?? null),
            statuses.map((x) => x.s.timestamp),
            statuses.map((x) => x.s.recipientId ?? x.s.recipientUserId ?? null),
            statuses.map((x) => x.errors),
            statuses.map((x) => x.payload),
          ] },
        )
      : Promise.resolve({ rows: [] });
    const eventWrite = (async () => {
      if (!events.length) return;
      const bound = events.filter((x) => x.key);
      const eventContacts = bound.length ? await this.findContacts(bound.map((x) => ({ key: x.key!, providerId: x.target.providerId, waId: x.waId, userId: x.userId }))) : new Map<string, string>();
      await pool.query(
        `INSERT INTO webhook_events (tenant_id, provider_id, field, digest, payload, raw_body, contact_id, wamid)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[]::jsonb[], $6::bytea[], $7::uuid[], $8::text[])
         ON CONFLICT (provider_id, digest) DO NOTHING`,
        [
          events.map((x) => x.target.tenantId),
          events.map((x) => x.target.providerId),
          events.map((x) => x.field),
          events.map((x) => x.digest),
          events.map((x) => x.payload),
          events.map((x) => x.rawBody),
          events.map((x) => (x.key ? (eventContacts.get(x.key) ?? null) : null)),
          events.map((x) => x.wamid ?? null),
        ],
      );
    })();
    const messageWrite = (async () => {
      if (!messages.length) return [];
      if (moves.length) await this.moveContacts(moves);
      const contactIds = await this.upsertContacts([...contacts.values()]);
      // Every pending row of this flush goes to the flow-runner in one job (i_<batch id>): see enqueue.
      const { rows } = await pool.query<{ id: string; contact_id: string | null; provider_id: string; wamid: string; batch_id: string | null }>(
        // The same statement records the message.received events of the tenants' endpoints that want them.
        `WITH ins AS (
         INSERT INTO inbound_messages (tenant_id, provider_id, contact_id, wamid, type, payload, sent_at, state, original_wamid, revoked_at, flow_run, processed_at, batch_id)
         SELECT t, p, c, w, ty, pl::jsonb, to_timestamp(ts),
           CASE WHEN c IS NULL THEN 'ignored' WHEN rv.at IS NOT NULL THEN 'revoked' ELSE 'pending' END, o, rv.at,
           CASE WHEN c IS NOT NULL AND rv.at IS NOT NULL THEN '{"outcome":"revoked","trace":[],"replies":0}'::jsonb END,
           CASE WHEN c IS NOT NULL AND rv.at IS NOT NULL THEN clock_timestamp() END,
           CASE WHEN c IS NOT NULL AND rv.at IS NULL THEN $9::uuid END
         FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::text[])
           WITH ORDINALITY AS x(t, p, c, w, ty, pl, ts, o, n)
         -- A revoke that arrived before its message (Meta does not keep order): the message comes in already revoked.
         LEFT JOIN LATERAL (SELECT min(r.sent_at) AS at FROM inbound_messages r
                            WHERE r.provider_id = x.p AND r.original_wamid = x.w AND r.type = 'revoke') rv ON true
         ORDER BY n
         ON CONFLICT (provider_id, wamid) DO NOTHING
         RETURNING *
       ), ev AS (
         SELECT i.tenant_id, pr.team_id, 'message.received' AS type, i.contact_id,
           jsonb_build_object('message', ${eventInboundSql('i')}, 'contact', ${eventContactSql('c')}) AS data, NULL::uuid AS endpoint_id
         FROM ins i JOIN contacts c ON c.id = i.contact_id JOIN whatsapp_providers pr ON pr.id = i.provider_id
       ), ${RECORD_EVENTS_CTES}
       SELECT i.id, i.contact_id, i.provider_id, i.wamid, i.batch_id FROM ins i CROSS JOIN ev_woke`,
        [
          messages.map((x) => x.target.tenantId),
          messages.map((x) => x.target.providerId),
          messages.map((x) => (x.key ? (contactIds.get(x.key) ?? null) : null)),
          messages.map((x) => x.m.wamid),
          messages.map((x) => x.m.type),
          messages.map((x) => x.payload),
          messages.map((x) => x.m.timestamp),
          messages.map((x) => x.m.edit?.originalMessageId ?? x.m.revoke?.originalMessageId ?? null),
          randomUUID(),
        ],
      );
      this.countNew(rows, messages);
      const changes = messages.filter((x) => x.m.edit || x.m.revoke);
      if (changes.length) await this.applyEditsAndRevokes(changes.map((x) => ({ providerId: x.target.providerId, original: (x.m.edit ?? x.m.revoke)!.originalMessageId, revoke: !!x.m.revoke, timestamp: x.m.timestamp })));
      return rows;
    })();
    const [inserted, { rows: insertedStatuses }] = await Promise.all([messageWrite, statusWrite, eventWrite]);

    const newMessage = new Set(inserted.map((r) => `${r.provider_id}|${r.wamid}`));
    for (const x of messages) {
      outcomes[x.item].messages++;
      if (newMessage.delete(`${x.target.providerId}|${x.m.wamid}`)) outcomes[x.item].newMessages++;
    }
    const newStatus = new Set(insertedStatuses.map((r) => `${r.provider_id}|${r.wamid}|${r.status}`));
    for (const x of statuses) {
      outcomes[x.item].statuses++;
      if (newStatus.delete(`${x.target.providerId}|${x.s.wamid}|${x.s.status}`)) outcomes[x.item].newStatuses++;
    }
    for (const x of events) outcomes[x.item].events++;

    this.enqueue(inserted, insertedStatuses.filter((r) => r.pending));
    return outcomes;
  }

  /**
   * Counts the messages an insert recorded, by tenant (a redelivered one is not returned), in process and as soon as
   * the insert committed: if the flush fails after it (503), Meta's retry finds them recorded and counts nothing.
   */
  private countNew(inserted: { provider_id: string }[], messages: { target: WebhookTarget }[]): void {
    if (!inserted.length) return;
    const tenantOf = new Map(messages.map((x) => [x.target.providerId, x.target.tenantId]));
    const byTenant = new Map<string, number>();
    for (const r of inserted) {
      const tenant = tenantOf.get(r.provider_id);
      if (tenant) byTenant.set(tenant, (byTenant.get(tenant) ?? 0) + 1);
    }
    for (const [tenant, n] of byTenant) this.metrics.inboundMessages.inc({ tenant }, n);
  }

/**
   * Finds (by wa_id, else user_id) or creates each contact and refreshes its name and last_inbound_at, in one
   * statement; returns identity key → contact id. A contact created concurrently by another batch is looked up.
   */
  private async upsertContacts(identities: ContactIdentity[]): Promise<Map<string, string>> {
    const ids = new Map<string, string>();
    if (!identities.length) return ids;
    const list = [...identities].sort((a, b) => (a.key < b.key ? -1 : 1));
    const params = [
      list.map((i) => i.tenantId),
      list.map((i) => i.providerId),
      list.map((i) => i.waId),
      list.map((i) => i.userId),
      list.map((i) => i.name),
      list.map((i) => i.lastInboundAt),
      list.map((i) => i.parentUserId),
    ];
    const { rows } = await this.prisma.pool.query<{ id: string; p: string; w: string | null; u: string | null }>(
      `WITH x AS (
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::text[]) AS x(t, p, w, u, n, ts, pu)
       ), found AS (
         -- By wa_id first, else by user_id; two joins so each uses its unique index.
         SELECT DISTINCT ON (p, w, u) id, p, w, u, n, ts, pu FROM (
           SELECT c.id, x.p, x.w, x.u, x.n, x.ts, x.pu, 0 AS pref FROM x JOIN contacts c ON c.provider_id = x.p AND c.wa_id = x.w
           UNION ALL
           SELECT c.id, x.p, x.w, x.u, x.n, x.ts, x.pu, 1 AS pref FROM x JOIN contacts c ON c.provider_id = x.p AND c.user_id = x.u
         ) m ORDER BY p, w, u, pref
       ), rows AS (
         -- Locked in id order, as a flow step's write takes them: two writers never wait for each other in a circle.
         SELECT id FROM contacts WHERE id IN (SELECT id FROM found) ORDER BY id FOR NO KEY UPDATE
       ), upd AS (
         UPDATE contacts c SET last_inbound_at = GREATEST(c.last_inbound_at, to_timestamp(f.ts)),
           profile_name = COALESCE(f.n, c.profile_name), parent_user_id = COALESCE(f.pu, c.parent_user_id), updated_at = now()
         FROM found f JOIN rows r ON r.id = f.id WHERE c.id = f.id
         RETURNING f.id, f.p, f.w, f.u
       ), ins AS (
         INSERT INTO contacts (tenant_id, provider_id, wa_id, user_id, parent_user_id, profile_name, last_inbound_at, updated_at)
         SELECT x.t, x.p, x.w, x.u, x.pu, x.n, to_timestamp(x.ts), now() FROM x
         WHERE NOT EXISTS (SELECT 1 FROM found f WHERE f.p = x.p AND f.w IS NOT DISTINCT FROM x.w AND f.u IS NOT DISTINCT FROM x.u)
         ON CONFLICT DO NOTHING
         RETURNING id, provider_id AS p, wa_id AS w, user_id AS u
       )
       SELECT DISTINCT id, p, w, u FROM upd UNION SELECT id, p, w, u FROM ins`,
      params,
    );
    for (const r of rows) {
      const key = identityKey(r.p, r.w ?? undefined, r.u ?? undefined);
      if (key) ids.set(key, r.id);
    }
    const missing = list.filter((i) => !ids.has(i.key));
    if (missing.length) {
      // Lost a race with another batch creating the same contact: it exists now.
      const { rows: again } = await this.prisma.pool.query<{ id: string; provider_id: string; wa_id: string | null; user_id: string | null }>(
        `SELECT c.id, c.provider_id, c.wa_id, c.user_id FROM unnest($1::uuid[], $2::text[], $3::text[]) AS x(p, w, u)
         JOIN contacts c ON c.provider_id = x.p AND c.wa_id = x.w
         UNION
         SELECT c.id, c.provider_id, c.wa_id, c.user_id FROM unnest($1::uuid[], $2::text[], $3::text[]) AS x(p, w, u)
         JOIN contacts c ON c.provider_id = x.p AND c.user_id = x.u`,
        [missing.map((i) => i.providerId), missing.map((i) => i.waId), missing.map((i) => i.userId)],
      );
      for (const i of missing) {
        const row =
          again.find((r) => r.provider_id === i.providerId && i.waId !== null && r.wa_id === i.waId) ??
          again.find((r) => r.provider_id === i.providerId && i.userId !== null && r.user_id === i.userId);
        if (row) ids.set(i.key, row.id);
      }
    }
    return ids;
  }

  /**
   * Moves each contact whose BSUID changed to its new user_id (and parent), found by wa_id or its old user_id: the
   * same row, so history, session and opt-out stay with it. A contact that already holds the new id (a message from
   * the new id was recorded first) is left as it is rather than merged.
   */
  private async moveContacts(moves: IdentityMove[]): Promise<void> {
    await this.prisma.pool.query(
      `UPDATE contacts c SET user_id = x.nu, parent_user_id = COALESCE(x.np, c.parent_user_id), updated_at = now()
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) AS x(p, w, ou, nu, np)
       WHERE c.provider_id = x.p AND (c.wa_id = x.w OR c.user_id = x.ou) AND c.user_id IS DISTINCT FROM x.nu
         AND NOT EXISTS (SELECT 1 FROM contacts o WHERE o.provider_id = x.p AND o.user_id = x.nu)`,
      [moves.map((m) => m.providerId), moves.map((m) => m.waId), moves.map((m) => m.oldUserId), moves.map((m) => m.newUserId), moves.map((m) => m.newParentUserId)],
    );
  }

  /**
   * Links edits and revokes to the message they change (same number): edited_at / revoked_at set; a revoked message
   * whose step has not run is cancelled (state `revoked`). The contacts are locked first, as a flow step locks
   * them (contactLockKeySql), so a step that already began finishes first and a revoke never lands in the middle of one.
   */
  private async applyEditsAndRevokes(changes: { providerId: string; original: string; revoke: boolean; timestamp: number }[]): Promise<void> {
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
      [changes.map((c) => c.providerId), changes.map((c) => c.original), changes.map((c) => c.revoke), changes.map((c) => c.timestamp)],
    );
  }

  /** Existing contacts by wa_id, else user_id (never created): identity key → contact id. */
  private async findContacts(list: { key: string; providerId: string; waId?: string; userId?: string }[]): Promise<Map<string, string>> {
    const { rows } = await this.prisma.pool.query<{ id: string; provider_id: string; wa_id: string | null; user_id: string | null }>(
      `SELECT c.id, c.provider_id, c.wa_id, c.user_id FROM unnest($1::uuid[], $2::text[], $3::text[]) AS x(p, w, u)
       JOIN contacts c ON c.provider_id = x.p AND (c.wa_id = x.w OR c.user_id = x.u)`,
      [list.map((i) => i.providerId), list.map((i) => i.waId ?? null), list.map((i) => i.userId ?? null)],
    );
    const ids = new Map<string, string>();
    for (const i of list) {
      const row =
        rows.find((r) => r.provider_id === i.providerId && i.waId !== undefined && r.wa_id === i.waId) ??
        rows.find((r) => r.provider_id === i.providerId && i.userId !== undefined && r.user_id === i.userId);
      if (row) ids.set(i.key, row.id);
    }
    return ids;
  }

  /**
   * Enqueues new rows: the flush's pending messages as one inbound job (the flow-runner takes their contacts in one
   * transaction), each status with work left as its own job. Failures are logged and left to the reconciler (the
   * rows are durable).
   */
  private enqueue(
    inbound: { id: string; contact_id: string | null; batch_id: string | null }[],
    statuses: { id: string }[],
  ): void {
    const pending = inbound.filter((r) => r.batch_id && r.contact_id);
    const jobs = pending.length
      ? [{ id: jobIds.inbound(pending[0].batch_id!), data: { items: pending.map((r) => ({ inboundId: r.id, contactId: r.contact_id! })) } }]
      : [];
    Promise.all([
      this.queues.addBulk(QueueName.Inbound, jobs),
      this.queues.addBulk(
        QueueName.Status,
        statuses.map((r) => ({ id: jobIds.status(r.id), data: { statusEventId: r.id } })),
      ),
    ]).then(
      () => this.metrics.enqueued.inc(jobs.length + statuses.length),
      (err: Error) => {
        this.metrics.enqueueFailures.inc();
        this.log.warn(`enqueue failed (${err.message}); the reconciler will enqueue the recorded rows`);
      },
    );
  }
}
