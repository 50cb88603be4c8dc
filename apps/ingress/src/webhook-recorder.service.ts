import { createHash, randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { GroupCommit } from '@gtc/db';
import { jobIds, QueueName, QueueService } from '@gtc/queue';
import { type InboundMessageEvent, type ParsedWebhook, type StatusUpdate, type UserAction, WEBHOOK_FIELDS } from '@gtc/whatsapp';
import { IngressMetrics } from './ingress.metrics';
import { IdentityMove, InboundRow, IngressStore, RecordedMessage } from './ingress.store';
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

/** An inbound message made storable; `key` names its contact (found or created), if it has one. */
interface PreparedMessage {
  m: InboundMessageEvent;
  key: string | null;
  payload: string;
}

/** A message of a flush: the webhook (`item`) and number it came with. */
type FlushMessage = { item: number; target: WebhookTarget } & PreparedMessage;

/** A webhook made storable, item by item, before it joins a batch: what a batch writes for it. */
interface PreparedWebhook {
  target: WebhookTarget;
  messages: PreparedMessage[];
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

const RETRYABLE = /40P01|40001|deadlock|could not serialize/i;
/** A flush that has taken this long waits on something (a lock, a slow statement): the next one starts beside it. */
const OVERLAP_AFTER_MS = 20;
/**
 * Rows (messages, statuses, other changes) one flush writes at most; a webhook with more still goes, alone. What a flush
 * builds and holds while it runs grows with its rows: with 256 connections posting webhooks of 100 statuses each,
 * flushes of up to 200 webhooks (20,000 statuses) took ingress to a peak RSS of 300-380 MB, flushes of up to 1,000 rows
 * to 198 MB (2,000 rows: 217), writing about as many statuses a second (10,100 against 10,800-11,200).
 */
const MAX_FLUSH_ROWS = 1_000;
/** SQLSTATE classes no content causes: connection, resources, operator intervention, system errors. */
const TRANSIENT_SQLSTATE = /^(08|53|57|58)/;

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

/** The row of a contact among contacts looked up for a batch: by its number (wa_id), else its BSUID (user_id). */
function contactOf<R extends { provider_id: string; wa_id: string | null; user_id: string | null }>(
  rows: R[],
  c: { providerId: string; waId?: string | null; userId?: string | null },
): R | undefined {
  return (
    rows.find((r) => r.provider_id === c.providerId && (c.waId ?? null) !== null && r.wa_id === c.waId) ??
    rows.find((r) => r.provider_id === c.providerId && (c.userId ?? null) !== null && r.user_id === c.userId)
  );
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
      if (!change.known && !WEBHOOK_FIELDS.has(change.field)) prepared.nonconforming.push('unknown_field');
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
      if (m.edit) m.edit = { ...m.edit, originalMessageId: storableKey(m.edit.originalMessageId, problems, 'edit.originalMessageId') };
      if (m.revoke) m.revoke = { ...m.revoke, originalMessageId: storableKey(m.revoke.originalMessageId, problems, 'revoke.originalMessageId') };
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
 * must follow up, see RECORD_STATUSES_SQL in ingress.store.ts), after commit; if Redis is down they stay pending for the reconciler.
 */
@Injectable()
export class WebhookRecorderService {
  private readonly log = new Logger(WebhookRecorderService.name);
  /**
   * One flush at a time, and a second beside it only once the first has taken OVERLAP_AFTER_MS: on a loaded machine
   * fewer, larger batches cost less per webhook (pnpm bench: 8 → 2 flushes took ingress from ~1,200 to ~1,850 req/s
   * and p99 at 1,000 req/s from 82 to 37 ms; 2 → 1 halved its transactions and took a fifth off the box's CPU per
   * webhook), and the second keeps webhooks moving while one waits on a contact row a flow step holds.
   */
  private readonly commits = new GroupCommit<PreparedWebhook, RecordOutcome>(
    (items) => this.flush(items),
    2,
    200,
    (err) => !isTransientFailure(err),
    0,
    OVERLAP_AFTER_MS,
    { of: (x) => Math.max(1, x.messages.length + x.statuses.length + x.events.length), max: MAX_FLUSH_ROWS },
  );

  constructor(
    private readonly store: IngressStore,
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
    await this.store.keepEvent({ tenantId: target.tenantId, providerId: target.providerId, field: UNRECORDED_FIELD, digest: sha256(rawBody), payload: JSON.stringify({ error }), rawBody });
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
    await this.store.keepEvent({ tenantId: target.tenantId, providerId: target.providerId, field: NONCONFORMING_FIELD, digest: sha256(rawBody), payload, rawBody });
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
    const messages: FlushMessage[] = [];
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
    const statusWrite = statuses.length
      ? this.store.recordStatuses(
          statuses.map((x) => ({
            tenantId: x.target.tenantId,
            providerId: x.target.providerId,
            wamid: x.s.wamid,
            status: x.s.status,
            callbackData: x.s.callbackData ?? null,
            timestamp: x.s.timestamp,
            recipientId: x.s.recipientId ?? x.s.recipientUserId ?? null,
            errors: x.errors,
            payload: x.payload,
          })),
        )
      : Promise.resolve({ written: [], wake: [] });
    const eventWrite = (async () => {
      if (!events.length) return;
      const bound = events.filter((x) => x.key);
      const eventContacts = bound.length ? await this.findContacts(bound.map((x) => ({ key: x.key!, providerId: x.target.providerId, waId: x.waId, userId: x.userId }))) : new Map<string, string>();
      await this.store.recordEvents(
        events.map((x) => ({
          tenantId: x.target.tenantId,
          providerId: x.target.providerId,
          field: x.field,
          digest: x.digest,
          payload: x.payload,
          rawBody: x.rawBody,
          contactId: x.key ? (eventContacts.get(x.key) ?? null) : null,
          wamid: x.wamid ?? null,
        })),
      );
    })();
    const messageWrite = (async () => {
      if (!messages.length) return [];
      if (moves.length) await this.store.moveContacts(moves);
      const rows = await this.recordMessages([...contacts.values()], messages);
      this.countNew(rows, messages);
      const changes = messages.filter((x) => x.m.edit || x.m.revoke);
      if (changes.length) await this.store.applyEditsAndRevokes(changes.map((x) => ({ providerId: x.target.providerId, original: (x.m.edit ?? x.m.revoke)!.originalMessageId, revoke: !!x.m.revoke, timestamp: x.m.timestamp })));
      return rows;
    })();
    const [inserted, { written: insertedStatuses, wake }] = await Promise.all([messageWrite, statusWrite, eventWrite]);

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
    this.wake(wake);
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
   * Records the flush's messages with their contacts, found (by wa_id, else user_id) or created, in one statement;
   * every pending row goes to the flow-runner in one job (batch id: see enqueue). The messages of a contact that
   * another batch created concurrently are written by a second statement, with the contact looked up.
   */
  private async recordMessages(identities: ContactIdentity[], messages: FlushMessage[]): Promise<RecordedMessage[]> {
    const contacts = [...identities].sort((a, b) => (a.key < b.key ? -1 : 1));
    const number = new Map(contacts.map((c, i) => [c.key, i + 1]));
    const row = (x: FlushMessage, contactId: string | null, contactNumber: number | null): InboundRow => ({
      tenantId: x.target.tenantId,
      providerId: x.target.providerId,
      contactId,
      contactNumber,
      wamid: x.m.wamid,
      type: x.m.type,
      payload: x.payload,
      timestamp: x.m.timestamp,
      originalWamid: x.m.edit?.originalMessageId ?? x.m.revoke?.originalMessageId ?? null,
    });
    const batchId = randomUUID();
    const first = await this.store.recordMessages(contacts, messages.map((x) => row(x, null, x.key ? number.get(x.key)! : null)), batchId);
    const missing = contacts.filter((_, i) => !first.contacts.has(i + 1));
    if (!missing.length) return first.messages;
    // Lost a race with another batch creating the same contact: it exists now.
    const again = await this.store.findContactsAgain(missing);
    const ids = new Map<string, string | null>();
    for (const c of missing) ids.set(c.key, contactOf(again, c)?.id ?? null);
    const rest = messages.filter((x) => x.key && ids.has(x.key));
    const second = await this.store.recordMessages([], rest.map((x) => row(x, ids.get(x.key!) ?? null, null)), batchId);
    return [...first.messages, ...second.messages];
  }

  /** Existing contacts by wa_id, else user_id (never created): identity key → contact id. */
  private async findContacts(list: { key: string; providerId: string; waId?: string; userId?: string }[]): Promise<Map<string, string>> {
    const rows = await this.store.findContacts(list.map((i) => ({ providerId: i.providerId, waId: i.waId ?? null, userId: i.userId ?? null })));
    const ids = new Map<string, string>();
    for (const i of list) {
      const row = contactOf(rows, i);
      if (row) ids.set(i.key, row.id);
    }
    return ids;
  }

  /**
   * Brings forward the jobs of messages whose ordering gate a status opened (they wait in BullMQ's delayed set), after
   * commit. A wake-up lost (Redis down, a crash) costs only time: the waiting job looks again on its own.
   */
  private wake(outboundIds: string[]): void {
    if (!outboundIds.length) return;
    this.queues.wakeDelayed(QueueName.Outbound, outboundIds.map((id) => jobIds.outbound(id))).catch((err: Error) => {
      this.log.warn(`waking ${outboundIds.length} waiting message(s) failed (${err.message}); they look again on their own`);
    });
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
