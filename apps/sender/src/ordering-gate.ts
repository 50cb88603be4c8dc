import { PrismaService } from '@gtc/db';
import type { SendingProvider } from './provider-registry.service';

/** States that release the next message under each ordering policy. */
const RELEASED: Record<string, string[]> = {
  delivered: ['delivered', 'read', 'failed'],
  sent: ['sent', 'delivered', 'read', 'failed'],
};

/** How long to wait before looking again when the previous message has not even been sent. */
const RECHECK_MS = 5_000;

/**
 * Per-recipient ordering: message N+1 waits until every earlier message to the same contact is released
 * (delivered/read/failed, or sent, by policy) or was sent longer ago than the provider's ordering timeout.
 * Returns how long to wait, or null when the message may go. It reads only Postgres, so it holds across replicas.
 */
export async function orderingWait(
  prisma: PrismaService,
  provider: SendingProvider,
  message: { contactId: string; seq: number },
  now = Date.now(),
): Promise<number | null> {
  const released = RELEASED[provider.ordering];
  if (!released) return null;
  const earlier = await prisma.client.$queryRawUnsafe<{ state: string; sent_at: Date | null; sending_at: Date | null }[]>(
    `SELECT state, sent_at, sending_at FROM outbound_messages
     WHERE contact_id = $1::uuid AND seq < $2 AND state <> ALL($3::text[]) ORDER BY seq`,
    message.contactId,
    message.seq,
    released,
  );
  for (const m of earlier) {
    const since = m.sent_at ?? (m.state === 'unknown' ? m.sending_at : null);
    if (since && (m.state === 'sent' || m.state === 'unknown')) {
      const left = since.getTime() + provider.orderingTimeoutMs - now;
      if (left <= 0) continue; // waited long enough for this one
      // A status normally wakes it at once; looking again now and then covers a wake-up lost in a crash.
      return Math.min(left, RECHECK_MS);
    }
    return RECHECK_MS;
  }
  return null;
}
