import { OUTBOUND_RANK, outboundRank } from '@gtc/db';

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

/** How long to wait before looking again when the previous message has not even been sent. */
const RECHECK_MS = 5_000;

/**
 * Per-recipient ordering: message N+1 waits until every earlier message to the same contact is released
 * (delivered/read/failed under "delivered"; also sent under "sent"; anything under "none") or was sent longer ago
 * than the provider's ordering timeout. Returns how long to wait, or null when the message may go. Its input
 * comes from Postgres (OutboundStore.load), so it holds across replicas, and none of it lives in Redis: losing
 * Redis keys cannot close a recipient's gate for good. What Redis holds is only the waiting job and its wake-up
 * (a promotion when the earlier message is released); a lost wake-up is covered by looking again after at most
 * RECHECK_MS, a lost job by the sender's reconciler (QueueService.ensureJobs).
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
      // A status normally wakes it at once; looking again now and then covers a wake-up lost in a crash.
      return Math.min(left, RECHECK_MS);
    }
    return RECHECK_MS;
  }
  return null;
}
