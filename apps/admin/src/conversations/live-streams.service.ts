import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { PrismaService } from '@gtc/db';
import type { ServerResponse } from 'node:http';
import { ApiError } from '../common/api-error';
import { CONTACT_VIEW_INCLUDE, contactView } from '../contacts/contacts.service';
import { inboundView, outboundView } from '../messages/messages.service';

/** Open live streams one tenant may hold (a console tab each): one cannot load the database for the others. */
export const MAX_STREAMS_PER_TENANT = 20;
/** Open live streams one admin process holds at most. */
export const MAX_STREAMS = 500;
/** How often a stream looks for changes: one indexed query per open stream and second. */
const POLL_MS = 1_000;
/** A comment line this often keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;
/**
 * How far back each look reaches before the last one: a transaction that began before it (its rows' updated_at
 * is its start) may commit after it. Rows seen already are sent again only if they changed.
 */
const OVERLAP_MS = 10_000;

/** One open stream. */
interface Stream {
  tenantId: string;
  close: () => void;
}

/**
 * Server-sent events of one conversation (GET …/contacts/:id/live): `message` with a message's view whenever it is
 * written or changes state, `contact` when the contact changes (opt-out, handoff, window). Each stream polls its
 * own conversation by index; streams are bounded per tenant and per process, and all end on shutdown.
 */
@Injectable()
export class LiveStreamsService implements OnModuleDestroy {
  private readonly log = new Logger(LiveStreamsService.name);
  private readonly open = new Set<Stream>();

  constructor(private readonly prisma: PrismaService) {}

  /** Refuses a stream over the bounds (429), before anything is written to the response. */
  admit(tenantId: string): void {
    const mine = [...this.open].filter((s) => s.tenantId === tenantId).length;
    if (mine >= MAX_STREAMS_PER_TENANT || this.open.size >= MAX_STREAMS) {
      throw new ApiError(
        429,
        'too_many_streams',
        `at most ${MAX_STREAMS_PER_TENANT} live conversations may be open per tenant: close one`,
      );
    }
  }

  /** Streams the contact's changes to `res` (already answered 200 with text/event-stream) until it closes. */
  async run(res: ServerResponse, tenantId: string, contactId: string): Promise<void> {
    const sent = new Map<string, number>(); // id → updated_at (ms) last sent
    let contactStamp = 0;
    let since = new Date(Date.now() - OVERLAP_MS);
    let busy = false;
    const send = (event: string, data: unknown) =>
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    const poll = async () => {
      if (busy) return;
      busy = true;
      try {
        const startedAt = new Date();
        const [outbound, inbound, contact] = await Promise.all([
          this.prisma.client.outboundMessage.findMany({
            where: { tenantId, contactId, updatedAt: { gte: since } },
            orderBy: [{ updatedAt: 'asc' }],
            take: 500,
          }),
          this.prisma.client.inboundMessage.findMany({
            where: {
              tenantId,
              contactId,
              OR: [{ receivedAt: { gte: since } }, { processedAt: { gte: since } }],
            },
            orderBy: [{ receivedAt: 'asc' }],
            take: 500,
          }),
          this.prisma.client.contact.findFirst({
            where: { id: contactId, tenantId },
            include: CONTACT_VIEW_INCLUDE,
          }),
        ]);
        if (!contact) return stream.close(); // deleted meanwhile
        for (const m of outbound) {
          if (sent.get(m.id) === m.updatedAt.getTime()) continue;
          sent.set(m.id, m.updatedAt.getTime());
          send('message', outboundView(m));
        }
        for (const m of inbound) {
          const stamp = (m.processedAt ?? m.receivedAt).getTime();
          if (sent.get(m.id) === stamp) continue;
          sent.set(m.id, stamp);
          send('message', inboundView(m));
        }
        const stamp = Math.max(contact.updatedAt.getTime(), contact.session?.updatedAt.getTime() ?? 0);
        if (stamp !== contactStamp) {
          if (contactStamp !== 0) send('contact', contactView(contact));
          contactStamp = stamp;
        }
        since = new Date(startedAt.getTime() - OVERLAP_MS);
        if (sent.size > 5_000) for (const [id, at] of sent) if (at < since.getTime()) sent.delete(id);
      } catch (err) {
        this.log.warn(`live stream of contact ${contactId}: ${(err as Error).message}`);
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(() => void poll(), POLL_MS);
    const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
    const stream: Stream = {
      tenantId,
      close: () => {
        clearInterval(timer);
        clearInterval(heartbeat);
        this.open.delete(stream);
        if (!res.writableEnded) res.end();
      },
    };
    this.open.add(stream);
    res.on('close', stream.close);
    res.write(': connected\n\n');
    await poll();
  }

  /** Ends every stream, so that shutdown does not wait for them. */
  onModuleDestroy(): void {
    for (const s of [...this.open]) s.close();
  }
}
