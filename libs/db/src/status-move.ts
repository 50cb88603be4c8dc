// The one forward-only move of an outbound message by a status (sent < delivered < read; failed only before
// delivered), as SQL shared by ingress (set-based, in its group commit) and the sender's status applier (one by one).
// The rank is OUTBOUND_RANK (message-states.ts): the SQL below is generated from it.
import { OUTBOUND_RANK, OUTBOUND_STATES } from './message-states';

const RANK_CASES = OUTBOUND_STATES.map((s) => `WHEN '${s}' THEN ${OUTBOUND_RANK[s]}`).join(' ');

/** The rank of an outbound state (SQL expression over `col`): a status moves a message only to a higher rank. */
export function outboundRankSql(col: string): string {
  return `CASE ${col} ${RANK_CASES} ELSE 0 END`;
}

/** Whether `status` moves a message in `state` forward: failed only before delivered, others only upwards. */
export function movesForwardSql(state: string, status: string): string {
  return `CASE WHEN ${status} = 'failed' THEN ${outboundRankSql(state)} < ${OUTBOUND_RANK.delivered} ELSE ${outboundRankSql(state)} < ${outboundRankSql(status)} END`;
}

/**
 * The SET list of that move on `outbound_messages o`: the new state, each state's first timestamp kept, and for
 * `failed` Meta's first error (`errors`, a jsonb array) as class, code and text.
 */
export function statusMoveSetSql(s: { status: string; sentAt: string; deliveredAt: string; readAt: string; failedAt: string; errors: string }): string {
  return `state = ${s.status},
      sent_at = CASE WHEN ${s.status} IN ('sent', 'delivered', 'read') THEN COALESCE(o.sent_at, ${s.sentAt}) ELSE o.sent_at END,
      delivered_at = CASE WHEN ${s.status} IN ('delivered', 'read') THEN COALESCE(o.delivered_at, ${s.deliveredAt}) ELSE o.delivered_at END,
      read_at = CASE WHEN ${s.status} = 'read' THEN COALESCE(o.read_at, ${s.readAt}) ELSE o.read_at END,
      failed_at = CASE WHEN ${s.status} = 'failed' THEN ${s.failedAt} ELSE o.failed_at END,
      error_class = CASE WHEN ${s.status} = 'failed' THEN 'delivery_failed' ELSE o.error_class END,
      error_code = CASE WHEN ${s.status} = 'failed' THEN (${s.errors}->0->>'code')::int ELSE o.error_code END,
      last_error = CASE WHEN ${s.status} = 'failed'
        THEN COALESCE(NULLIF(concat_ws(': ', ${s.errors}->0->>'title', ${s.errors}->0->>'message'), ''), 'failed') ELSE o.last_error END,
      updated_at = now()`;
}

/**
 * Deletes the status events of the messages in `messages` (a relation with `provider_id` and `wamid`, such as a
 * DELETE … RETURNING of outbound messages): a bound status carries its message's wamid, and no key names the message
 * (migration 20261207000000_status_events_by_number), so whoever deletes messages deletes their statuses with this.
 */
export function deleteStatusesOfSql(messages: string): string {
  return `DELETE FROM status_events s USING ${messages} m WHERE s.provider_id = m.provider_id AND s.wamid = m.wamid`;
}
