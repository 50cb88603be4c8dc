import type { Pool } from 'pg';
import { batchStatement } from './batch-statement';
import { OUTBOUND_RANK, outboundRank, sqlStates, statesFrom } from './message-states';

// The ordering gate: whether a recipient's next outbound message may go, from the earlier messages to the same
// contact (Postgres only). The sender waits at it before each send; the flow-runner asks it when it enqueues replies,
// so that one held behind an earlier message waits in BullMQ's delayed set from the start (OutboundSend.heldMs).

/** An earlier message to the same recipient that is not delivered, read or failed yet. */
export interface EarlierMessage {
  /** An OutboundState. */
  state: string;
  sentAtMs: number | null;
  sendingAtMs: number | null;
}

/**
 * Whether a message reaching this state lets the next one to its recipient go, under an ordering policy: the
 * policy names the state from which (by OUTBOUND_RANK) the next may go. Under `delivered`: delivered, read,
 * failed; under `sent`: also sent; under `none` nothing waits.
 */
export function releasesNext(ordering: string, state: string): boolean {
  if (ordering !== 'delivered' && ordering !== 'sent') return false;
  return outboundRank(state) >= OUTBOUND_RANK[ordering];
}

/**
 * How long a held message waits, at most, before looking again on its own. Every release wakes the recipient's next
 * message (ingress after a status, the sender after a send or a failure), and whoever holds a message looks once more
 * right after holding it (openGates), so a release that came meanwhile is not missed: looking again only covers a
 * wake-up lost in a crash or while Redis was away, and the ordering timeout of an earlier message sent meanwhile
 * (orderingWait). Long, because under a backlog of statuses (seconds late) every held message looking again every few
 * seconds multiplied the sender's work by the backlog.
 */
export const ORDERING_RECHECK_MS = 30_000;

/** The shortest wait before looking again behind an earlier message not sent yet (a number with a very short timeout). */
export const ORDERING_RECHECK_MIN_MS = 5_000;

/** SQL: a timestamp column (UTC without a zone, as ours are) as epoch milliseconds. */
export const epochMsSql = (col: string) => `(extract(epoch from ${col}) * 1000)::float8`;

/**
 * SQL: the earlier messages to the contact of outbound row `o` that may hold it (not delivered, read or failed), in
 * order, as a JSON array of EarlierMessage: orderingWait's input.
 */
export const earlierMessagesSql = (o: string) =>
  `COALESCE((SELECT json_agg(json_build_object('state', e.state, 'sentAtMs', ${epochMsSql('e.sent_at')}, 'sendingAtMs', ${epochMsSql('e.sending_at')}) ORDER BY e.seq)
     FROM outbound_messages e
     WHERE e.contact_id = ${o}.contact_id AND e.seq < ${o}.seq AND e.state NOT IN (${sqlStates(statesFrom('delivered'))})), '[]')`;

/**
 * Per-recipient ordering: message N+1 waits until every earlier message to the same contact is released
 * (delivered/read/failed under "delivered"; also sent under "sent"; anything under "none") or was sent longer ago
 * than the provider's ordering timeout. Returns how long to wait, or null when the message may go. Its input
 * comes from Postgres (earlierMessagesSql), so it holds across replicas, and none of it lives in Redis: losing
 * Redis keys cannot close a recipient's gate for good. What Redis holds is only the waiting job and its wake-up
 * (a promotion when the earlier message is released); a lost wake-up is covered by looking again after at most
 * ORDERING_RECHECK_MS, a lost job by the sender's reconciler (QueueService.ensureJobs).
 */
export function orderingWait(
  policy: { ordering: string; orderingTimeoutMs: number },
  earlier: EarlierMessage[],
  now = Date.now(),
): number | null {
  if (policy.ordering !== 'delivered' && policy.ordering !== 'sent') return null;
  for (const m of earlier) {
    if (policy.ordering === 'sent' && m.state === 'sent') continue;
    const since = m.sentAtMs ?? (m.state === 'unknown' ? m.sendingAtMs : null);
    if (since !== null && (m.state === 'sent' || m.state === 'unknown')) {
      const left = since + policy.orderingTimeoutMs - now;
      if (left <= 0) continue; // waited long enough for this one
      // A status normally wakes it at once; looking again when the timeout runs out (or, for a long timeout, now and
      // then) covers a wake-up lost in a crash.
      return Math.min(left, ORDERING_RECHECK_MS);
    }
    // Not sent yet: its timeout starts when it is sent, so it cannot run out before the timeout from now. Nothing wakes
    // this one when the earlier is sent (under `delivered`): looking again by then (ORDERING_RECHECK_MIN_MS at the
    // soonest) keeps the timeout's promise.
    return Math.min(ORDERING_RECHECK_MS, Math.max(policy.orderingTimeoutMs, ORDERING_RECHECK_MIN_MS));
  }
  return null;
}

/** What a message's recipient's ordering gate needs, as Postgres gives it: its number's policy and the earlier messages. */
export interface GateInput {
  ordering: string | null;
  ordering_timeout_ms: number | null;
  earlier: EarlierMessage[];
}

/**
 * How long a message's recipient's ordering gate holds it now (null: it may go); `before`: messages ahead of it that
 * the read could not see (written by the same statement).
 */
export function gateWait(g: GateInput, now: number, before: EarlierMessage[] = []): number | null {
  return orderingWait({ ordering: g.ordering ?? 'none', orderingTimeoutMs: g.ordering_timeout_ms ?? 0 }, [...before, ...g.earlier], now);
}

/**
 * Of these outbound messages, the ones still queued whose recipient's gate lets them go now: what a holder asks right
 * after putting held messages in the delayed set, to wake those whose release came while it was deciding (the release
 * found no job waiting to wake). One statement.
 */
export async function openGates(pool: Pool, ids: string[], now = Date.now()): Promise<string[]> {
  if (!ids.length) return [];
  const { rows } = await pool.query<GateInput & { id: string }>(
    batchStatement(
      `SELECT o.id, p.ordering, p.ordering_timeout_ms, ${earlierMessagesSql('o')} AS earlier
           FROM outbound_messages o JOIN whatsapp_providers p ON p.id = o.provider_id
           WHERE o.id = ANY($1::uuid[]) AND o.state = 'queued'`,
      [ids],
    ),
  );
  return rows.filter((g) => gateWait(g, now) === null).map((g) => g.id);
}
