import { Injectable } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import {
  Event,
  EventAttemptLogEntry,
  EventDelivery,
  EventEndpoint,
  eventRowId,
  Prisma,
  PrismaService,
  publicEventId,
  SecretBox,
  Tenant,
} from '@gtc/db';
import { z } from 'zod';
import { AdminStore } from '../admin.store';
import { ApiError, conflict, notFound } from '../common/api-error';
import { keysetPage, Page, PageRequest, SortOrder, toPage } from '../common/pagination';
import { TenantScopeService } from '../common/tenant-scope.service';
import { isUuid } from '../common/validation';
import {
  CreateEndpointInput,
  DeliveriesQuery,
  eventDeliveryRetrySchema,
  eventDeliverySchema,
  eventEndpointSchema,
  eventEndpointWithSecretSchema,
  eventPingSchema,
  UpdateEndpointInput,
  urlProblem,
} from './event-endpoints.schemas';
import { newEndpointSecret, PREVIOUS_SECRET_TTL_MS } from './event-secret';

type EndpointRow = EventEndpoint & { team: { slug: string } | null };

/** An endpoint as the API shows it: never its secret, only until when a rotated-out one still signs. */
export function endpointView(e: EndpointRow, now = Date.now()): z.input<typeof eventEndpointSchema> {
  const previousValid = e.previousSecretEnc !== null && e.previousSecretExpiresAt !== null && e.previousSecretExpiresAt.getTime() > now;
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    // The events column holds what the create and update schemas let through: known types or "*".
    events: e.events as z.input<typeof eventEndpointSchema>['events'],
    team: e.team?.slug ?? null,
    enabled: e.enabled,
    disabled_at: e.disabledAt,
    disabled_reason: e.disabledReason,
    failing_since: e.failingSince,
    previous_secret_expires_at: previousValid ? e.previousSecretExpiresAt : null,
    created_at: e.createdAt,
    updated_at: e.updatedAt,
  };
}

type DeliveryRow = EventDelivery & { event: Event };
type DeliveryView = z.input<typeof eventDeliverySchema>;

/** One delivery of an event to an endpoint as the API shows it: the event, its state and its attempts (the row's log). */
export function deliveryView(d: DeliveryRow): DeliveryView {
  return {
    id: publicEventId(d.eventId),
    // Text columns holding the values the schema names (see the Event and EventDelivery models).
    type: d.event.type as DeliveryView['type'],
    created_at: d.event.createdAt,
    contact_id: d.contactId,
    data: d.event.data as DeliveryView['data'],
    state: d.state as DeliveryView['state'],
    attempt_count: d.attempts,
    next_attempt_at: d.state === 'pending' ? d.nextAttemptAt : null,
    last_attempt_at: d.lastAttemptAt,
    delivered_at: d.deliveredAt,
    failed_at: d.failedAt,
    last_status: d.lastStatus,
    last_error: d.lastError,
    // The log as the dispatcher writes it (EventAttemptLogEntry), oldest first.
    attempts: (d.attemptLog as unknown as EventAttemptLogEntry[]).map((a) => ({ at: new Date(a.at), status_code: a.status_code, latency_ms: a.latency_ms, error: a.error })),
  };
}

const withTeam = { team: { select: { slug: true } } } as const;

/** The cursor of GET …/deliveries: the seq of the last delivery shown (newest first, so the next page is older). */
function deliveriesCursor(seq: bigint): string {
  return Buffer.from(`s:${seq}`, 'utf8').toString('base64url');
}

/** The seq a deliveries cursor holds; 400 naming `cursor` when it is not one. */
function cursorSeq(cursor: string): bigint {
  const m = /^s:(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw new ApiError(400, 'validation_failed', 'invalid query: cursor', [{ path: 'cursor', message: 'must be a next_cursor value' }]);
  return BigInt(m[1]);
}

/** The order of the endpoint list: oldest first. */
const ENDPOINT_ORDER: SortOrder<'createdAt' | 'id'> = [
  ['createdAt', 'asc', 'date'],
  ['id', 'asc', 'uuid'],
];

/**
 * Event endpoints of a tenant (event webhooks): create (the signing secret shown once), list, read, change, delete,
 * rotate the secret (the old one signs for 24 h more), list deliveries with their attempts, retry one, send a test ping.
 * Every lookup is scoped by the tenant: another tenant's endpoint does not exist (404).
 */
@Injectable()
export class EventEndpointsService {
  private readonly box: SecretBox;
  private readonly httpsOnly: boolean;

  constructor(
    private readonly prisma: PrismaService,
    private readonly scope: TenantScopeService,
    private readonly store: AdminStore,
    config: AppConfig,
  ) {
    this.box = new SecretBox(config.secretsKey);
    this.httpsOnly = config.env.NODE_ENV === 'production';
  }

  /** Creates an endpoint; answers it with its secret, the only time the secret is shown. */
  async create(tenantSlug: string, input: CreateEndpointInput): Promise<z.input<typeof eventEndpointWithSecretSchema>> {
    const tenant = await this.scope.tenant(tenantSlug);
    this.checkUrl(input.url);
    const teamId = input.team ? await this.teamId(tenant, input.team) : null;
    const secret = newEndpointSecret();
    const row = await this.prisma.client.eventEndpoint.create({
      data: { tenantId: tenant.id, teamId, url: input.url, description: input.description ?? null, events: input.events, secretEnc: this.box.encrypt(secret) },
      include: withTeam,
    });
    return { ...endpointView(row), secret };
  }

  /** The tenant's endpoints, oldest first. */
  async list(tenantSlug: string, page: PageRequest): Promise<Page<z.input<typeof eventEndpointSchema>>> {
    const tenant = await this.scope.tenant(tenantSlug);
    const k = keysetPage(ENDPOINT_ORDER, page);
    const rows = await this.prisma.client.eventEndpoint.findMany({ ...k, where: { AND: [{ tenantId: tenant.id }, k.where] }, include: withTeam });
    return toPage(rows, page, ENDPOINT_ORDER, (r) => endpointView(r));
  }

  /** One endpoint, or 404. */
  async get(tenantSlug: string, id: string) {
    return endpointView(await this.find(tenantSlug, id));
  }

  /**
   * Changes url, events, description or enabled; writes nothing when nothing changes. Disabling records when;
   * enabling clears an automatic disable (410, failing for days) and its reason.
   */
  async update(tenantSlug: string, id: string, input: UpdateEndpointInput) {
    const existing = await this.find(tenantSlug, id);
    const data: Prisma.EventEndpointUpdateInput = {};
    if (input.url !== undefined && input.url !== existing.url) {
      this.checkUrl(input.url);
      data.url = input.url;
    }
    if (input.events !== undefined && input.events.join('\n') !== existing.events.join('\n')) data.events = input.events;
    if (input.description !== undefined && input.description !== existing.description) data.description = input.description;
    if (input.enabled === false && existing.enabled) Object.assign(data, { enabled: false, disabledAt: new Date(), disabledReason: 'disabled through the API' });
    if (input.enabled === true && !existing.enabled) Object.assign(data, { enabled: true, disabledAt: null, disabledReason: null, failingSince: null });
    if (!Object.keys(data).length) return endpointView(existing);
    const row = await this.prisma.client.eventEndpoint.update({ where: { id: existing.id }, data, include: withTeam });
    if (data.enabled === true) await this.wakeParked(existing.id);
    return endpointView(row);
  }

  /**
   * Makes a re-enabled endpoint's waiting deliveries due now and wakes the dispatcher (it parks a disabled endpoint's
   * deliveries for a while; without this they would resume only at its next look). Attempts in flight stay as they are.
   */
  private async wakeParked(endpointId: string): Promise<void> {
    await this.store.wakeEndpointDeliveries(endpointId);
  }

  /** Deletes an endpoint with its deliveries. */
  async remove(tenantSlug: string, id: string): Promise<void> {
    const existing = await this.find(tenantSlug, id);
    await this.prisma.client.eventEndpoint.delete({ where: { id: existing.id } });
  }

  /** A new signing secret (shown in this answer only); the current one keeps signing for 24 hours. */
  async rotateSecret(tenantSlug: string, id: string): Promise<z.input<typeof eventEndpointWithSecretSchema>> {
    const existing = await this.find(tenantSlug, id);
    const secret = newEndpointSecret();
    const row = await this.prisma.client.eventEndpoint.update({
      where: { id: existing.id },
      data: {
        secretEnc: this.box.encrypt(secret),
        previousSecretEnc: existing.secretEnc,
        previousSecretExpiresAt: new Date(Date.now() + PREVIOUS_SECRET_TTL_MS),
      },
      include: withTeam,
    });
    return { ...endpointView(row), secret };
  }

  /** The endpoint's deliveries, newest first, each with its event, state and attempts (oldest first). */
  async deliveries(tenantSlug: string, id: string, query: DeliveriesQuery): Promise<Page<z.input<typeof eventDeliverySchema>>> {
    const endpoint = await this.find(tenantSlug, id);
    const where: Prisma.EventDeliveryWhereInput = { endpointId: endpoint.id };
    if (query.state) where.state = query.state;
    if (query.cursor) where.seq = { lt: cursorSeq(query.cursor) };
    const rows = await this.prisma.client.eventDelivery.findMany({
      where,
      include: { event: true },
      orderBy: { seq: 'desc' },
      take: query.limit + 1,
    });
    const more = rows.length > query.limit;
    const page = more ? rows.slice(0, query.limit) : rows;
    return { data: page.map(deliveryView), next_cursor: more ? deliveriesCursor(page[page.length - 1].seq) : null };
  }

  /**
   * Makes a failed or pending delivery due now (state pending, next attempt now) and wakes the dispatcher; one
   * being attempted right now is left to that attempt (`in_flight: true`). 404 for an unknown event of this
   * endpoint; 409 for a delivered one or a disabled endpoint.
   */
  async retry(tenantSlug: string, id: string, eventId: string): Promise<z.input<typeof eventDeliveryRetrySchema>> {
    const endpoint = await this.find(tenantSlug, id);
    const rowId = eventRowId(eventId);
    const delivery = rowId
      ? await this.prisma.client.eventDelivery.findUnique({ where: { eventId_endpointId: { eventId: rowId, endpointId: endpoint.id } } })
      : null;
    if (!delivery) throw notFound(`event ${eventId} has no delivery to endpoint ${id}`);
    if (!endpoint.enabled) throw conflict(`endpoint ${id} is disabled: enable it first (PATCH enabled: true)`, 'endpoint_disabled');
    // An attempt in flight (leased, its lease not over) is left alone: making it due would send it twice at once.
    const retried = await this.store.retryDelivery(delivery.id);
    if (retried) return { id: eventId, ...retried };
    const current = await this.prisma.client.eventDelivery.findUniqueOrThrow({ where: { id: delivery.id } });
    if (current.state === 'delivered') throw conflict(`event ${eventId} was already delivered to endpoint ${id}`, 'already_delivered');
    // Not delivered, so pending (an attempt in flight) or failed (since the update above).
    return { id: eventId, state: current.state as 'pending' | 'failed', next_attempt_at: current.nextAttemptAt, in_flight: current.state === 'pending' };
  }

  /** Records a `ping` event for this endpoint only (the dispatcher sends it like any event); answers its id. */
  async test(tenantSlug: string, id: string): Promise<z.input<typeof eventPingSchema>> {
    const endpoint = await this.find(tenantSlug, id);
    if (!endpoint.enabled) throw conflict(`endpoint ${id} is disabled: enable it first (PATCH enabled: true)`, 'endpoint_disabled');
    const rowId = await this.store.recordPing(endpoint.tenantId, endpoint.teamId, endpoint.id);
    // Disabled between the read and the write (the outbox writes only to enabled endpoints).
    if (!rowId) throw conflict(`endpoint ${id} is disabled: enable it first (PATCH enabled: true)`, 'endpoint_disabled');
    return { id: publicEventId(rowId), type: 'ping', endpoint: endpoint.id };
  }

  private checkUrl(url: string): void {
    const problem = this.httpsOnly ? urlProblem(url, true) : null;
    if (problem) throw new ApiError(400, 'validation_failed', 'invalid request body: url', [{ path: 'url', message: problem }]);
  }

  private async teamId(tenant: Tenant, slug: string): Promise<string> {
    const team = await this.prisma.client.team.findUnique({ where: { tenantId_slug: { tenantId: tenant.id, slug } } });
    if (!team) throw new ApiError(400, 'validation_failed', 'invalid request body: team', [{ path: 'team', message: `no team '${slug}' in tenant '${tenant.slug}'` }]);
    return team.id;
  }

  private async find(tenantSlug: string, id: string): Promise<EndpointRow> {
    const tenant = await this.scope.tenant(tenantSlug);
    const row = isUuid(id) ? await this.prisma.client.eventEndpoint.findFirst({ where: { id, tenantId: tenant.id }, include: withTeam }) : null;
    if (!row) throw notFound(`event endpoint ${id} not found`);
    return row;
  }
}
