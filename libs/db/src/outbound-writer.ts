import { Prisma } from './generated/prisma/client';
import type { OutboundMessage } from './generated/prisma/client';

/** An outbound message to write; the sequence number is assigned by insertOutboundMessages. */
export interface NewOutboundMessage {
  tenantId: string;
  providerId: string;
  /** Graph API message type (text, template, interactive, image, …). */
  type: string;
  /** The exact Graph API request body. */
  body: Prisma.InputJsonValue;
  businessInitiated: boolean;
  retryOnRateLimit: boolean;
  /** What caused it (inbound message id, or an API request id) and its position: makes re-runs idempotent. */
  causeId?: string;
  ordinal?: number;
}

/**
 * Writes outbound messages to one contact inside the caller's transaction, taking the contact's next
 * per-recipient sequence numbers (the row lock on the contact orders concurrent writers).
 * After commit, enqueue each row on the outbound queue (jobIds.outbound).
 */
export async function insertOutboundMessages(
  tx: Prisma.TransactionClient,
  contactId: string,
  messages: NewOutboundMessage[],
): Promise<OutboundMessage[]> {
  if (!messages.length) return [];
  const { nextSeq } = await tx.contact.update({
    where: { id: contactId },
    data: { nextSeq: { increment: messages.length } },
    select: { nextSeq: true },
  });
  const first = nextSeq - messages.length;
  const rows: OutboundMessage[] = [];
  for (const [i, m] of messages.entries()) {
    rows.push(
      await tx.outboundMessage.create({
        data: {
          tenantId: m.tenantId,
          providerId: m.providerId,
          contactId,
          seq: first + i,
          type: m.type,
          body: m.body,
          businessInitiated: m.businessInitiated,
          retryOnRateLimit: m.retryOnRateLimit,
          causeId: m.causeId,
          ordinal: m.ordinal ?? i,
        },
      }),
    );
  }
  return rows;
}
