// The states of message rows (outbound_messages.state, inbound_messages.state) and the forward-only rank of
// outbound states: defined here once, read by TypeScript, and the SQL that ranks states is generated from it
// (status-move.ts). libs/db owns them: they are the values of its tables' state columns, most of them ours
// (queued, sending, unknown; the inbound ones), not Meta's. Meta's own status vocabulary (sent, delivered, read,
// failed, deleted, played) is libs/whatsapp's MESSAGE_STATUSES; the four that move a message are STATUS_MOVES.

/**
 * outbound_messages.state, in the order a message goes through them: queued (written, waiting to be sent),
 * sending (an attempt claimed it), unknown (the attempt's answer was lost: it may have reached Meta), sent (Meta
 * accepted it: it has a wamid), delivered, read (Meta's statuses), failed (final: refused, given up, or a
 * `failed` status).
 */
export const OUTBOUND_STATES = ['queued', 'sending', 'unknown', 'sent', 'delivered', 'read', 'failed'] as const;
export type OutboundState = (typeof OUTBOUND_STATES)[number];

/**
 * The forward-only rank of outbound states: a status moves a message only to a higher rank (sent < delivered <
 * read), failed only before delivered (movesForwardSql). sending and unknown rank alike (a send in flight).
 */
export const OUTBOUND_RANK: Readonly<Record<OutboundState, number>> = { queued: 0, sending: 1, unknown: 1, sent: 2, delivered: 3, read: 4, failed: 5 };

const RANKS = new Map<string, number>(Object.entries(OUTBOUND_RANK));

/** The rank of a state or status; any other value (Meta's deleted, played) ranks 0, as in outboundRankSql. */
export function outboundRank(state: string): number {
  return RANKS.get(state) ?? 0;
}

/** The states from `state` on, by rank: `statesFrom('delivered')` is delivered, read, failed. */
export function statesFrom(state: OutboundState): OutboundState[] {
  return OUTBOUND_STATES.filter((s) => OUTBOUND_RANK[s] >= OUTBOUND_RANK[state]);
}

/** Meta's statuses that move an outbound message: the states from sent on (deleted and played are only recorded). */
export const STATUS_MOVES: readonly OutboundState[] = statesFrom('sent');

/** States of a message the sender may still send or is sending: not sent, not failed. */
export const UNSENT_STATES = ['queued', 'sending', 'unknown'] as const satisfies readonly OutboundState[];

/**
 * SQL that every unsent message's row meets (over `o`, the query's name for outbound_messages): it has no wamid, since the send
 * that gets one sets the state sent with it, and nothing moves a message back. It is the predicate of the partial
 * index that finds unsent messages (no index names the state, so that state changes are HOT updates): a query for
 * unsent states adds it to reach that index.
 */
export const unsentRowSql = (o = 'outbound_messages') => `${o}.wamid IS NULL`;

/** States of an attempt in flight: claimed (sending), or whose answer was lost (unknown). */
export const IN_FLIGHT_STATES = ['sending', 'unknown'] as const satisfies readonly OutboundState[];

/**
 * Final for the sender: sent (then delivered, read) or failed; such a message is never sent again (the states of
 * STATUS_MOVES, named for what they mean to the sender).
 */
export const DONE_STATES: readonly OutboundState[] = statesFrom('sent');

/**
 * inbound_messages.state: pending (its step has not run), processed, failed (the step failed, or a business-
 * initiated flow was refused), ignored (no contact: nothing runs), revoked (deleted by the user before its step ran).
 */
export const INBOUND_STATES = ['pending', 'processed', 'failed', 'ignored', 'revoked'] as const;
export type InboundState = (typeof INBOUND_STATES)[number];

/** Inbound states whose step is over (retention may prune them). */
export const INBOUND_DONE_STATES: readonly InboundState[] = INBOUND_STATES.filter((s) => s !== 'pending');

/** States as a SQL list, for `IN (…)`: `'a', 'b'`. */
export function sqlStates(states: readonly (OutboundState | InboundState)[]): string {
  return states.map((s) => `'${s}'`).join(', ');
}
