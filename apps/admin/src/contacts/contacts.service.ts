import { Injectable } from '@nestjs/common';
import { Contact, Prisma, PrismaService, Session } from '@gtc/db';
import { CUSTOMER_SERVICE_WINDOW_MS } from '@gtc/whatsapp';
import { z } from 'zod';
import { AdminStore } from '../admin.store';
import { conflict, notFound } from '../common/api-error';
import { keysetPage, Page, PageRequest, SortOrder, toPage } from '../common/pagination';
import { TenantScopeService } from '../common/tenant-scope.service';
import { isUuid } from '../common/validation';
import { contactQuerySchema, contactSchema } from './contacts.schemas';

type ContactRow = Contact & { session?: Session | null; provider?: { team: { slug: string } } };

/** A contact as the API shows it: opt-out, window and session state. */
export function contactView(c: ContactRow, now = Date.now()): z.input<typeof contactSchema> {
  const expires = c.lastInboundAt ? new Date(c.lastInboundAt.getTime() + CUSTOMER_SERVICE_WINDOW_MS) : null;
  return {
    id: c.id,
    team: c.provider?.team.slug ?? null,
    wa_id: c.waId,
    user_id: c.userId,
    name: c.profileName,
    last_inbound_at: c.lastInboundAt,
    window_open: !!expires && expires.getTime() > now,
    window_expires_at: expires,
    opted_out: c.optedOut,
    opted_out_at: c.optedOutAt,
    session: c.session
      ? {
          status: c.session.status,
          flow_id: c.session.flowId,
          node_id: c.session.nodeId,
          vars: c.session.vars,
          last_error: c.session.lastError,
          updated_at: c.session.updatedAt,
        }
      : null,
    created_at: c.createdAt,
    updated_at: c.updatedAt,
  };
}

/** What a contact's view needs besides the row: its session and its team's slug. */
export const CONTACT_VIEW_INCLUDE = {
  session: true,
  provider: { select: { team: { select: { slug: true } } } },
} as const;

/** The orders of the contact list: newest first, or latest activity first (updated_at moves with every message). */
const CONTACT_ORDERS: Record<'created' | 'activity', SortOrder<'createdAt' | 'updatedAt' | 'id'>> = {
  created: [
    ['createdAt', 'desc', 'date'],
    ['id', 'asc', 'uuid'],
  ],
  activity: [
    ['updatedAt', 'desc', 'date'],
    ['id', 'asc', 'uuid'],
  ],
};

/** Contacts of a tenant: search, read, opt-out/opt-in, release a handoff, delete. */
@Injectable()
export class ContactsService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly store: AdminStore,
    private readonly scope: TenantScopeService,
  ) {}

  /** The contact of a business number with that wa_id, created if new. */
  async upsertByWaId(tenantId: string, providerId: string, waId: string): Promise<Contact> {
    try {
      return await this.prisma.client.contact.upsert({
        where: { providerId_waId: { providerId, waId } },
        create: { tenantId, providerId, waId },
        update: {},
      });
    } catch (err) {
      // Two concurrent first messages to one number: the loser reads the winner's row.
      if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
        return this.prisma.client.contact.findUniqueOrThrow({
          where: { providerId_waId: { providerId, waId } },
        });
      }
      throw err;
    }
  }

  /** Searches contacts by wa_id, user_id, name (or `q` over all three), team and opt-out state. */
  async list(
    tenantSlug: string,
    query: z.output<typeof contactQuerySchema>,
    page: PageRequest,
  ): Promise<Page<ReturnType<typeof contactView>>> {
    const tenant = await this.scope.tenant(tenantSlug);
    const where: Prisma.ContactWhereInput = { tenantId: tenant.id };
    if (query.team) where.provider = { team: { slug: query.team } };
    if (query.wa_id) where.waId = query.wa_id.replace(/^\+/, '');
    if (query.user_id) where.userId = query.user_id;
    if (query.name) where.profileName = { contains: query.name, mode: 'insensitive' };
    if (query.opted_out !== undefined) where.optedOut = query.opted_out;
    if (query.q) {
      where.OR = [
        { waId: { contains: query.q.replace(/^\+/, '') } },
        { userId: { contains: query.q } },
        { profileName: { contains: query.q, mode: 'insensitive' } },
      ];
    }
    const order = CONTACT_ORDERS[query.sort];
    const k = keysetPage(order, page);
    const rows = await this.prisma.client.contact.findMany({
      ...k,
      where: { AND: [where, k.where] },
      include: CONTACT_VIEW_INCLUDE,
    });
    return toPage(rows, page, order, (r) => contactView(r));
  }

  /** One contact of the tenant, or 404. */
  async get(tenantSlug: string, id: string) {
    return contactView(await this.find(tenantSlug, id));
  }

  /**
   * Releases a handoff: the session goes back to idle so the bot answers again. 409 if not in handoff. The
   * statement that releases it writes the `conversation.handoff` event (state `released`, via `api`).
   */
  async release(tenantSlug: string, id: string) {
    const contact = await this.find(tenantSlug, id);
    const notInHandoff = (status: string) =>
      conflict(`contact is not in a handoff (session: ${status})`, 'not_in_handoff');
    if (contact.session?.status !== 'handoff') throw notInHandoff(contact.session?.status ?? 'none');
    if (!(await this.store.releaseHandoff(contact.session.id))) throw notInHandoff('released meanwhile');
    return this.get(tenantSlug, id);
  }

  /**
   * Marks the contact opted out (no business messages) or back in. A change writes its `contact.opted_out` or
   * `contact.opted_in` event (via `api`) in the same statement; asking for the current state writes nothing.
   */
  async setOptOut(tenantSlug: string, id: string, optedOut: boolean) {
    const contact = await this.find(tenantSlug, id);
    if (contact.optedOut !== optedOut) {
      await this.store.setOptOut(contact.id, optedOut);
    }
    return this.get(tenantSlug, id);
  }

  /** Deletes a contact with its session, its outbound messages and their statuses (AdminStore.deleteContact). */
  async remove(tenantSlug: string, id: string): Promise<void> {
    const contact = await this.find(tenantSlug, id);
    await this.store.deleteContact(contact.id);
  }

  /** One contact of the tenant with what its view needs, or 404 (another tenant's contact does not exist). */
  async find(tenantSlug: string, id: string): Promise<ContactRow> {
    const tenant = await this.scope.tenant(tenantSlug);
    const row = isUuid(id)
      ? await this.prisma.client.contact.findFirst({
          where: { id, tenantId: tenant.id },
          include: CONTACT_VIEW_INCLUDE,
        })
      : null;
    if (!row) throw notFound(`contact ${id} not found`);
    return row;
  }
}
