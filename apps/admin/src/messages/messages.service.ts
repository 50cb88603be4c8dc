import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { Injectable, Logger } from '@nestjs/common';
import { InboundMessage, OutboundMessage, outboundRank, Prisma, PrismaService, StatusEvent, insertOutboundMessages, isOutboundCauseTaken } from '@gtc/db';
import { OutboundProducer } from '@gtc/queue';
import { z } from 'zod';
import { ApiError, conflict, notFound } from '../common/api-error';
import { keysetPage, Page, PageRequest, SortOrder, toPage } from '../common/pagination';
import { TenantScopeService } from '../common/tenant-scope.service';
import { isUuid } from '../common/validation';
import { ContactsService } from '../contacts/contacts.service';
import { buildMessageBody, checkTemplateSend, CUSTOMER_SERVICE_WINDOW_MS, GraphApiError, MEDIA_KINDS, ReplyContent } from '@gtc/whatsapp';
import { GraphApiClient } from '@gtc/whatsapp/graph-api.client';
import { ProviderService } from '../providers/provider.service';
import { TemplatesService } from '../templates/templates.service';
import { inboundDetailSchema, inboundMessageSchema, messageQuerySchema, outboundDetailSchema, outboundMessageSchema, sendMessageSchema, sendResultSchema } from './messages.schemas';

/** An outbound message as the API shows it. */
export function outboundView(m: OutboundMessage): z.input<typeof outboundMessageSchema> {
  return {
    id: m.id,
    direction: 'outbound' as const,
    contact_id: m.contactId,
    seq: m.seq,
    type: m.type,
    body: m.body,
    state: m.state,
    wamid: m.wamid,
    business_initiated: m.businessInitiated,
    retry_on_rate_limit: m.retryOnRateLimit,
    attempts: m.attempts,
    error: m.lastError || m.errorCode || m.errorClass ? { class: m.errorClass, code: m.errorCode, message: m.lastError } : null,
    cause_id: m.causeId,
    created_at: m.createdAt,
    next_attempt_at: m.nextAttemptAt,
    sending_at: m.sendingAt,
    sent_at: m.sentAt,
    delivered_at: m.deliveredAt,
    read_at: m.readAt,
    failed_at: m.failedAt,
    updated_at: m.updatedAt,
  };
}

/** An inbound message as the API shows it, with what the user changed (edits, revokes) and what could not be read. */
export function inboundView(m: InboundMessage): z.input<typeof inboundMessageSchema> {
  const p = (m.payload ?? {}) as { problems?: unknown; groupId?: unknown };
  return {
    id: m.id,
    direction: 'inbound' as const,
    contact_id: m.contactId,
    wamid: m.wamid,
    type: m.type,
    payload: m.payload,
    state: m.state,
    error: m.error,
    flow_run: m.flowRun,
    sent_at: m.sentAt,
    received_at: m.receivedAt,
    processed_at: m.processedAt,
    has_media: !!mediaOf(m),
    /** What could not be read in the message (the rest is shown as received). */
    problems: Array.isArray(p.problems) ? p.problems : [],
    /** The WhatsApp group it was written in, if any (not answered by flows). */
    group_id: typeof p.groupId === 'string' ? p.groupId : null,
    /** For an edit or a revoke: the wamid of the message it changes. */
    original_wamid: m.originalWamid,
    edited_at: m.editedAt,
    revoked_at: m.revokedAt,
  };
}

/** An edit or revoke of a message, as its history shows it. */
function changeView(m: InboundMessage) {
  const edit = (m.payload as { edit?: { text?: string } } | null)?.edit;
  return { id: m.id, wamid: m.wamid, type: m.type, text: edit?.text ?? null, sent_at: m.sentAt, received_at: m.receivedAt };
}

/** A status webhook row as it appears in a message's timeline. */
function statusView(s: StatusEvent) {
  return { status: s.status, timestamp: s.timestamp, received_at: s.receivedAt, applied_at: s.appliedAt, recipient_id: s.recipientId, errors: s.errors };
}

/** The media id and type of an inbound message (normalized `media`, or the raw message's image/video/… object). */
export function mediaOf(m: Pick<InboundMessage, 'type' | 'payload'>): { id: string; mimeType?: string } | null {
  const p = (m.payload ?? {}) as Record<string, unknown>;
  const candidates: unknown[] = [p.media];
  for (const holder of [p, p.raw, p.message]) {
    if (holder && typeof holder === 'object') for (const k of MEDIA_KINDS) candidates.push((holder as Record<string, unknown>)[k]);
  }
  for (const c of candidates) {
    if (c && typeof c === 'object' && typeof (c as { id?: unknown }).id === 'string') {
      const o = c as { id: string; mimeType?: string; mime_type?: string };
      return { id: o.id, mimeType: o.mimeType ?? o.mime_type };
    }
  }
  return null;
}

/** The order of the inbound list: latest first (arrival is unique). */
const INBOUND_ORDER: SortOrder<'receivedAt' | 'arrival'> = [
  ['receivedAt', 'desc', 'date'],
  ['arrival', 'desc', 'bigint'],
];

/** The order of the outbound list: latest first, a recipient's sequence within one millisecond, id last. */
const OUTBOUND_ORDER: SortOrder<'createdAt' | 'seq' | 'id'> = [
  ['createdAt', 'desc', 'date'],
  ['seq', 'desc', 'int'],
  ['id', 'desc', 'uuid'],
];

/** Messages of a tenant: list, read with the status timeline, send, media download. */
@Injectable()
export class MessagesService {
  private readonly log = new Logger(MessagesService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly scope: TenantScopeService,
    private readonly contacts: ContactsService,
    private readonly producer: OutboundProducer,
    private readonly templates: TemplatesService,
    private readonly providers: ProviderService,
    private readonly graph: GraphApiClient,
  ) {}

  /** Outbound (default) or inbound messages with filters, newest first. */
  async list(
    tenantSlug: string,
    q: z.output<typeof messageQuerySchema>,
    page: PageRequest,
  ): Promise<Page<z.input<typeof outboundMessageSchema> | z.input<typeof inboundMessageSchema>>> {
    const tenant = await this.scope.tenant(tenantSlug);
    const states = q.state?.split(',');
    const range = q.since || q.until ? { ...(q.since ? { gte: new Date(q.since) } : {}), ...(q.until ? { lt: new Date(q.until) } : {}) } : undefined;
    const provider = q.team ? { team: { slug: q.team, tenantId: tenant.id } } : undefined;
    if (q.direction === 'inbound') {
      const k = keysetPage(INBOUND_ORDER, page);
      const rows = await this.prisma.client.inboundMessage.findMany({
        ...k,
        where: {
          AND: [
            { tenantId: tenant.id, ...(states ? { state: { in: states } } : {}), ...(q.contact ? { contactId: q.contact } : {}), ...(range ? { receivedAt: range } : {}), ...(provider ? { provider } : {}) },
            k.where,
          ],
        },
      });
      return toPage(rows, page, INBOUND_ORDER, inboundView);
    }
    const k = keysetPage(OUTBOUND_ORDER, page);
    const rows = await this.prisma.client.outboundMessage.findMany({
      ...k,
      where: {
        AND: [
          { tenantId: tenant.id, ...(states ? { state: { in: states } } : {}), ...(q.contact ? { contactId: q.contact } : {}), ...(range ? { createdAt: range } : {}), ...(provider ? { provider } : {}) },
          k.where,
        ],
      },
    });
    return toPage(rows, page, OUTBOUND_ORDER, outboundView);
  }

  /** One message (outbound or inbound) of the tenant; outbound ones with their status timeline, ordered. */
  async get(tenantSlug: string, id: string): Promise<z.input<typeof outboundDetailSchema> | z.input<typeof inboundDetailSchema>> {
    const tenant = await this.scope.tenant(tenantSlug);
    if (!isUuid(id)) throw notFound(`message ${id} not found`);
    const out = await this.prisma.client.outboundMessage.findFirst({ where: { id, tenantId: tenant.id } });
    if (out) {
      const events = await this.prisma.client.statusEvent.findMany({
        // Only statuses from the number that sent it: another number's webhook may carry the same wamid or our id. Bound
        // ones carry its wamid; unmatched ones may name it by our id.
        where: { tenantId: tenant.id, providerId: out.providerId, OR: [...(out.wamid ? [{ wamid: out.wamid }] : []), { outboundId: null, callbackId: out.id }] },
        orderBy: [{ timestamp: 'asc' }, { receivedAt: 'asc' }],
      });
      // Meta's timestamps are whole seconds: statuses of one second in the order a message goes through them.
      const at = (e: StatusEvent) => (e.timestamp ?? e.receivedAt).getTime();
      events.sort((a, b) => at(a) - at(b) || outboundRank(a.status) - outboundRank(b.status) || a.receivedAt.getTime() - b.receivedAt.getTime());
      const errors = events.filter((e) => e.errors).map((e) => ({ status: e.status, timestamp: e.timestamp, errors: e.errors }));
      return { ...outboundView(out), timeline: events.map(statusView), errors };
    }
    const inbound = await this.prisma.client.inboundMessage.findFirst({ where: { id, tenantId: tenant.id } });
    if (!inbound) throw notFound(`message ${id} not found`);
    // The links both ways: the edits and revokes of this message, and the message an edit or revoke changes.
    const [changes, original] = await Promise.all([
      this.prisma.client.inboundMessage.findMany({
        where: { tenantId: tenant.id, providerId: inbound.providerId, originalWamid: inbound.wamid },
        orderBy: [{ sentAt: 'asc' }, { arrival: 'asc' }],
      }),
      inbound.originalWamid
        ? this.prisma.client.inboundMessage.findFirst({ where: { tenantId: tenant.id, providerId: inbound.providerId, wamid: inbound.originalWamid }, select: { id: true } })
        : null,
    ]);
    return { ...inboundView(inbound), changes: changes.map(changeView), original_id: original?.id ?? null };
  }

  /**
   * Sends reply content to a wa_id through a team: contact upserted, body built and checked, row written with the
   * contact's next seq (business-initiated), job enqueued. The same Idempotency-Key sends once.
   */
  async send(tenantSlug: string, input: z.output<typeof sendMessageSchema>, idempotencyKey?: string): Promise<z.input<typeof sendResultSchema>> {
    const { tenant, team, provider } = await this.scope.provider(tenantSlug, input.team);
    const built = buildMessageBody(input.content as unknown as ReplyContent, input.to);
    if (!built.ok) {
      throw new ApiError(400, 'validation_failed', `invalid content: ${built.errors.map((e) => e.path || '(root)').join(', ')}`, built.errors.map((e) => ({ path: e.path ? `content.${e.path}` : 'content', message: e.message })));
    }
    if (built.type === 'template') {
      const synced = await this.templates.forCheck(tenant.id, team.id);
      const problems = synced?.length ? checkTemplateSend((input.content as { template: never }).template, synced) : [];
      if (problems.length) throw new ApiError(400, 'template_mismatch', problems.join('; '), problems.map((message) => ({ path: 'content.template', message })));
    }
    const causeId = idempotencyKey ? `api:${tenant.id}:${idempotencyKey}` : `api:${randomUUID()}`;
    if (idempotencyKey) {
      const previous = await this.prisma.client.outboundMessage.findFirst({ where: { causeId, ordinal: 0, tenantId: tenant.id } });
      if (previous) return { created: false, message: outboundView(previous) };
    }
    const contact = await this.contacts.upsertByWaId(tenant.id, provider.id, input.to);
    if (contact.optedOut) throw conflict(`contact ${input.to} has opted out of messages from this number; nothing was sent`, 'contact_opted_out');
    let row: OutboundMessage;
    try {
      // One statement (libs/db's outbound writer): the contact's next seq and the row, or nothing.
      [row] = await insertOutboundMessages(this.prisma.client, contact.id, [
        {
          tenantId: tenant.id,
          providerId: provider.id,
          type: built.type,
          body: built.body as unknown as Prisma.InputJsonValue,
          businessInitiated: true,
          retryOnRateLimit: input.retry_on_rate_limit,
          causeId,
          ordinal: 0,
        },
      ]);
    } catch (err) {
      // A concurrent send with the same Idempotency-Key wrote it first.
      if (idempotencyKey && isOutboundCauseTaken(err)) {
        const previous = await this.prisma.client.outboundMessage.findFirstOrThrow({ where: { causeId, ordinal: 0, tenantId: tenant.id } });
        return { created: false, message: outboundView(previous) };
      }
      throw err;
    }
    if (!row) throw notFound(`contact ${input.to} not found`); // deleted meanwhile: nothing was written
    // Enqueued with its send slot reserved (delayed until then), like the flow-runner's replies, so a tenant's
    // backlog of API sends waits in the delayed set instead of in front of other tenants' messages. The row is
    // durable already: if Redis is away, the sender's reconciler enqueues it when it is back.
    await this.producer
      .enqueue([
        {
          limits: { phoneNumberId: provider.phoneNumberId, tier: provider.tier, throughputMps: provider.throughputMps },
          messages: [{ messageId: row.id, recipient: input.to, businessInitiated: true }],
        },
      ])
      .catch((err: Error) => this.log.warn(`outbound enqueue failed (${err.message}); the sender's reconciler will pick message ${row.id} up`));
    const windowOpen = !!contact.lastInboundAt && contact.lastInboundAt.getTime() + CUSTOMER_SERVICE_WINDOW_MS > Date.now();
    return {
      created: true,
      message: outboundView(row),
      ...(built.type !== 'template' && !windowOpen
        ? { warning: 'the 24-hour window of this contact is closed: Meta only accepts template messages (error 131047)' }
        : {}),
    };
  }

  /** Streams an inbound message's media from the Graph API, resolving the short-lived URL with the provider's token now. */
  async media(tenantSlug: string, id: string): Promise<{ stream: Readable; contentType: string; contentLength?: string }> {
    const tenant = await this.scope.tenant(tenantSlug);
    const inbound = isUuid(id) ? await this.prisma.client.inboundMessage.findFirst({ where: { id, tenantId: tenant.id } }) : null;
    if (!inbound) throw notFound(`inbound message ${id} not found`);
    const media = mediaOf(inbound);
    if (!media) throw notFound(`message ${id} has no media`);
    const provider = await this.prisma.client.whatsAppProvider.findFirstOrThrow({ where: { id: inbound.providerId, tenantId: tenant.id } });
    const token = this.providers.reveal(provider.accessTokenEnc);
    try {
      const { url, mimeType } = await this.graph.getMediaUrl({ apiVersion: provider.apiVersion, mediaId: media.id, accessToken: token });
      const download = await this.graph.downloadMedia({ url, accessToken: token });
      const served = download.contentType ?? 'application/octet-stream';
      const contentType = served === 'application/octet-stream' && (mimeType || media.mimeType) ? (mimeType || media.mimeType)! : served;
      return { stream: download.body, contentType, contentLength: download.contentLength === undefined ? undefined : String(download.contentLength) };
    } catch (err) {
      if (err instanceof GraphApiError) {
        if (err.httpStatus === 404) throw notFound(`media of message ${id} is no longer available from the Graph API`);
        throw new ApiError(502, 'graph_api_error', `media download failed: ${err.message}`);
      }
      throw err;
    }
  }
}
