import { Injectable } from '@nestjs/common';
import { PrismaService } from '@gtc/db';
import { z } from 'zod';
import { AdminStore } from '../admin.store';
import { decodeCursor, encodeCursor, Page, PageRequest, SortOrder } from '../common/pagination';
import { ContactsService } from '../contacts/contacts.service';
import { inboundMessageSchema, outboundMessageSchema } from '../messages/messages.schemas';
import { inboundView, outboundView } from '../messages/messages.service';

/** A message of a conversation, either way. */
export type ConversationMessage =
  z.input<typeof outboundMessageSchema> | z.input<typeof inboundMessageSchema>;

/**
 * The order of a conversation: latest first (an outbound message when it was written, an inbound one when it
 * arrived), then by each side's own order (an outbound message's seq: the replies one step wrote share their time;
 * an inbound one's arrival), then id.
 */
const CONVERSATION_ORDER: SortOrder<'at' | 'n' | 'id'> = [
  ['at', 'desc', 'date'],
  ['n', 'desc', 'bigint'],
  ['id', 'desc', 'uuid'],
];

/** One contact's messages in and out, as one list. */
@Injectable()
export class ConversationsService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly store: AdminStore,
    private readonly contacts: ContactsService,
  ) {}

  /**
   * A page of the contact's inbound and outbound messages merged, latest first: each side's next rows after the
   * cursor by its own index, then the two merged (so a page costs two short index scans, however deep it is).
   */
  async page(tenantSlug: string, contactId: string, page: PageRequest): Promise<Page<ConversationMessage>> {
    const contact = await this.contacts.find(tenantSlug, contactId);
    const [afterAt, afterN, afterId] = page.cursor
      ? (decodeCursor(page.cursor, CONVERSATION_ORDER) as [Date, bigint, string])
      : [null, null, null];
    const rows = await this.store.conversationPage(contact.tenantId, contact.id, { at: afterAt, n: afterN?.toString() ?? null, id: afterId }, page.take + 1);
    const more = rows.length > page.take;
    const shown = more ? rows.slice(0, page.take) : rows;
    const ids = (direction: string) => shown.filter((r) => r.direction === direction).map((r) => r.id);
    const [outbound, inbound] = await Promise.all([
      this.prisma.client.outboundMessage.findMany({
        where: { id: { in: ids('outbound') }, tenantId: contact.tenantId },
      }),
      this.prisma.client.inboundMessage.findMany({
        where: { id: { in: ids('inbound') }, tenantId: contact.tenantId },
      }),
    ]);
    const views = new Map<string, ConversationMessage>([
      ...outbound.map((m) => [m.id, outboundView(m)] as const),
      ...inbound.map((m) => [m.id, inboundView(m)] as const),
    ]);
    const last = shown[shown.length - 1];
    return {
      data: shown.flatMap((r) => views.get(r.id) ?? []),
      next_cursor: more && last ? encodeCursor([last.at, BigInt(last.n), last.id]) : null,
    };
  }
}
