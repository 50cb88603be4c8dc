// The event outbox: what happened that tenants' systems may want to hear of (event webhooks), written in the same
// transaction as the change that caused it, and only when one of the tenant's endpoints subscribes to it.
import type { Pool, PoolClient } from 'pg';

/** Every event type an endpoint can subscribe to (`*`: all). `ping` is sent only by an endpoint's test. */
export const EVENT_TYPES = [
  'message.received',
  'message.status',
  'message.failed',
  'contact.opted_out',
  'contact.opted_in',
  'conversation.handoff',
  'provider.paused',
  'provider.resumed',
] as const;

/** A subscribable event type. */
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * What `data` holds, per type (snake_case, as the API): every producer follows these shapes.
 * - `message.received`, `message.status`, `message.failed`: `{ message: { id, direction: 'inbound' | 'outbound',
 *   wamid, type, content, state, error?: { code, title, message } }, contact }`; `message.status` adds
 *   `status: 'sent' | 'delivered' | 'read' | 'failed'` and `timestamp` (ISO-8601, Meta's), `message.failed` adds
 *   `reason: { class, text }` (why we gave up: limit, window, opted_out, permanent error…).
 * - `contact.opted_out`, `contact.opted_in`: `{ contact, via: 'keyword' | 'api' }`.
 * - `conversation.handoff`: `{ contact, state: 'started' | 'released', flow?, via: 'flow' | 'api' }`.
 * - `provider.paused`, `provider.resumed`: `{ provider: { id, phone_number_id }, reason?: { class, code, text } }`.
 * - `ping`: `{}`.
 * where `contact` is `{ id, wa_id, user_id, name }` (nulls where unknown).
 */
export type EventData = Record<string, unknown>;

/** The `contact` member of event data, as SQL over a `contacts` row aliased `c`. */
export function eventContactSql(c: string): string {
  return `jsonb_build_object('id', ${c}.id, 'wa_id', ${c}.wa_id, 'user_id', ${c}.user_id, 'name', ${c}.profile_name)`;
}

/** The `message` member of event data for an outbound message, as SQL over an `outbound_messages` row aliased `o`. */
export function eventOutboundSql(o: string): string {
  return `jsonb_build_object('id', ${o}.id, 'direction', 'outbound', 'wamid', ${o}.wamid, 'type', ${o}.type, 'content', ${o}.body,
    'state', ${o}.state, 'error', CASE WHEN ${o}.error_code IS NOT NULL OR ${o}.state = 'failed'
      THEN jsonb_build_object('code', ${o}.error_code, 'class', ${o}.error_class, 'message', ${o}.last_error) END)`;
}

/** The `message` member of event data for an inbound message, as SQL over an `inbound_messages` row aliased `i` (content without Meta's raw object). */
export function eventInboundSql(i: string): string {
  return `jsonb_build_object('id', ${i}.id, 'direction', 'inbound', 'wamid', ${i}.wamid, 'type', ${i}.type, 'content', ${i}.payload - 'raw', 'state', ${i}.state)`;
}

/** The public id of an event (`evt_` and its row id without dashes), as deliveries and the API show it. */
export function publicEventId(rowId: string): string {
  return `evt_${rowId.replace(/-/g, '')}`;
}

/** The row id of a public event id; null when it is not one. */
export function eventRowId(publicId: string): string | null {
  const m = /^evt_([0-9a-f]{8})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{12})$/.exec(publicId);
  return m ? m.slice(1).join('-') : null;
}

/**
 * Attempts a delivery row keeps in its `attempt_log` (the latest, oldest first); its `attempts` counts every one.
 * The retry schedule makes at most 10 attempts; only retries by hand go past it.
 */
export const EVENT_ATTEMPT_LOG_MAX = 20;

/** One entry of a delivery's `attempt_log`, as the dispatcher writes it (the API's attempt fields). */
export interface EventAttemptLogEntry {
  /** ISO-8601 (UTC), the delivery's `last_attempt_at` at the time. */
  at: string;
  /** The endpoint's HTTP status; null when no answer came (timeout, refused, refused address). */
  status_code: number | null;
  latency_ms: number;
  error: string | null;
}

/** The NOTIFY channel on which a statement that wrote deliveries wakes the event dispatcher. */
export const EVENTS_CHANNEL = 'gtc_events';

/** One event to record. */
export interface EventInput {
  tenantId: string;
  /** The team it belongs to (endpoints of that team, and tenant-wide ones, get it); null for tenant-wide events. */
  teamId: string | null;
  type: EventType | 'ping';
  /** The contact it concerns: deliveries of one contact to one endpoint go out in order. */
  contactId: string | null;
  /** The `data` member of the delivered body (see EventData). */
  data: EventData;
  /** Only this endpoint (an endpoint's test ping); otherwise every enabled endpoint that subscribes. */
  endpointId?: string;
}

/**
 * How long a delivery recorded behind a pending one of its endpoint and contact (a *follower*) waits at most before
 * the dispatcher looks at it, seconds. The completion of the one before makes it due at once (the statement that
 * records that result wakes it), so a follower is not looked at, locked or rewritten while its predecessor is in
 * flight; this wait only covers a follower that completion could not see yet (recorded by a transaction that
 * committed after the completion's statement began) and a predecessor slower than this (a retry, a slow endpoint),
 * which the claim then puts off again until its next attempt.
 */
export const EVENT_FOLLOWER_WAIT_S = 15;

/**
 * The SQL of a CTE chain that records events given as the CTE `ev(tenant_id, team_id, type, contact_id, data,
 * endpoint_id)` (data jsonb): each event an enabled endpoint of its tenant subscribes to (its team or all teams;
 * the type or `*`) becomes an `events` row and one `event_deliveries` row per such endpoint; events nobody wants
 * are not written. Embed it after a `WITH ev AS (...)` of your own (so that the events of a change are written by
 * the statement that makes it); it defines the CTEs `ev_match`, `ev_rows`, `ev_deliveries` and `ev_woke` (one row;
 * wakes the dispatcher when deliveries were written): reference `ev_woke` in the final query (`CROSS JOIN ev_woke`),
 * or the wake-up is skipped. Deliveries get their `seq` in the order of `ev`; one whose endpoint and contact (a null
 * contact is one key) has a pending delivery already, or an earlier one in this statement, is a follower: due only
 * EVENT_FOLLOWER_WAIT_S from now (the completion of the one before wakes it), so the dispatcher's claim never
 * scans it meanwhile.
 */
export const RECORD_EVENTS_CTES = `ev_match AS (
    SELECT e.*, gen_random_uuid() AS event_id, ep.endpoint_ids
    FROM (SELECT e.*, row_number() OVER () AS ev_ord FROM ev e) e
    JOIN LATERAL (
      SELECT array_agg(p.id ORDER BY p.id) AS endpoint_ids FROM event_endpoints p
      WHERE p.tenant_id = e.tenant_id AND p.enabled
        AND (e.endpoint_id IS NOT NULL AND p.id = e.endpoint_id
             OR e.endpoint_id IS NULL AND (p.team_id IS NULL OR p.team_id = e.team_id) AND (e.type = ANY(p.events) OR '*' = ANY(p.events)))
    ) ep ON ep.endpoint_ids IS NOT NULL
  ), ev_rows AS (
    INSERT INTO events (id, tenant_id, team_id, type, contact_id, data)
    SELECT event_id, tenant_id, team_id, type, contact_id, data FROM ev_match
    RETURNING id
  ), ev_lanes AS (
    SELECT m.event_id, u.endpoint_id, m.contact_id, m.ev_ord,
      row_number() OVER (PARTITION BY u.endpoint_id, m.contact_id ORDER BY m.ev_ord) AS lane_rank
    FROM ev_match m JOIN ev_rows r ON r.id = m.event_id CROSS JOIN LATERAL unnest(m.endpoint_ids) AS u(endpoint_id)
  ), ev_deliveries AS (
    INSERT INTO event_deliveries (event_id, endpoint_id, contact_id, next_attempt_at)
    SELECT l.event_id, l.endpoint_id, l.contact_id,
      CASE WHEN l.lane_rank > 1 OR pc.state = 'pending' OR pn.state = 'pending'
        THEN now() + make_interval(secs => ${EVENT_FOLLOWER_WAIT_S}) ELSE now() END
    FROM ev_lanes l
    LEFT JOIN LATERAL (
      SELECT p.state FROM event_deliveries p
      WHERE l.lane_rank = 1 AND l.contact_id IS NOT NULL AND p.endpoint_id = l.endpoint_id AND p.contact_id = l.contact_id
      ORDER BY p.seq DESC LIMIT 1
    ) pc ON true
    LEFT JOIN LATERAL (
      SELECT p.state FROM event_deliveries p
      WHERE l.lane_rank = 1 AND l.contact_id IS NULL AND p.endpoint_id = l.endpoint_id AND p.contact_id IS NULL
      ORDER BY p.seq DESC LIMIT 1
    ) pn ON true
    ORDER BY l.ev_ord, l.endpoint_id
    RETURNING 1
  ), ev_woke AS (
    SELECT count(pg_notify('${EVENTS_CHANNEL}', '')) AS woke FROM (SELECT 1 FROM ev_deliveries LIMIT 1) d
  )`;

/**
 * What a statement embeds instead of RECORD_EVENTS_CTES when it makes no events: `ev_woke` alone. Its `ev` CTE is
 * then referenced by nothing, so Postgres neither plans nor runs it; RECORD_EVENTS_CTES costs a hot statement about
 * 1 ms of planning and builds every row's event data before looking for an endpoint.
 */
export const NO_EVENTS_CTES = `ev_woke AS (SELECT 0::bigint AS woke)`;

/** RECORD_EVENTS_CTES when the statement's changes make events, else NO_EVENTS_CTES. */
export function eventsCtes(wanted: boolean): string {
  return wanted ? RECORD_EVENTS_CTES : NO_EVENTS_CTES;
}

/** The SQLSTATE of the guard of unwantedEventsCtes (migration events_wanted_guard): an endpoint wants the events. */
const EVENTS_WANTED_SQLSTATE = 'GTCEW';

/**
 * What a statement whose changes make events of `type` embeds instead of RECORD_EVENTS_CTES while no endpoint of its
 * tenants (`tenantsSql`: an expression of type uuid[]) is known to want them: `ev_woke` as in NO_EVENTS_CTES, with a
 * guard. When, in the statement's own snapshot, an enabled endpoint of one of those tenants subscribes to `type` (or
 * `*`), the guard fails the statement (SQLSTATE GTCEW, the tenant as detail: EventSubscriptions.learned), which then
 * changed nothing, for its producer to write it again with RECORD_EVENTS_CTES. The guard is one lookup of the
 * tenants' endpoints in the statement; asking before it would cost a round trip.
 */
export function unwantedEventsCtes(type: EventType, tenantsSql: string): string {
  return `ev_woke AS (
    SELECT COALESCE((SELECT gtc_events_wanted(p.tenant_id) FROM event_endpoints p
      WHERE p.tenant_id = ANY(${tenantsSql}) AND p.enabled AND ('${type}' = ANY(p.events) OR '*' = ANY(p.events)) LIMIT 1), 0) AS woke
  )`;
}

/** How long a tenant known to have an endpoint for a type is taken to have it without asking again, ms. */
const SUBSCRIBED_TTL_MS = 5_000;

/**
 * Tells a producer whether to write a batch's statement with its events (RECORD_EVENTS_CTES) or without them
 * (unwantedEventsCtes). "Yes" is what a statement's guard said (learned) in the last SUBSCRIBED_TTL_MS: a stale yes
 * costs only the CTEs, which then find nobody. "No" is never remembered: a statement written without its events
 * carries the guard, which looks in the statement's own snapshot, so an endpoint gets the events of every change
 * written after the endpoint was saved (its 201 answered).
 */
export class EventSubscriptions {
  private readonly subscribed = new Map<string, number>();

  /** Whether a statement's guard said, lately, that an endpoint of one of `tenantIds` wants events of `type`. */
  wanted(type: EventType, tenantIds: Iterable<string>): boolean {
    const now = Date.now();
    for (const t of tenantIds) if ((this.subscribed.get(`${t}|${type}`) ?? 0) > now) return true;
    return false;
  }

  /**
   * Whether `err` is the guard's of a statement written without its events of `type` (unwantedEventsCtes): then its
   * tenant is remembered as subscribed, and the caller writes the statement again with its events.
   */
  learned(type: EventType, err: unknown): boolean {
    const e = err as { code?: unknown; detail?: unknown };
    if (e?.code !== EVENTS_WANTED_SQLSTATE || typeof e.detail !== 'string') return false;
    if (this.subscribed.size > 10_000) this.subscribed.clear();
    this.subscribed.set(`${e.detail}|${type}`, Date.now() + SUBSCRIBED_TTL_MS);
    return true;
  }
}

/**
 * Records events in one statement on the caller's connection (pass the client of the change's transaction), and
 * wakes the dispatcher if any delivery was written. Returns how many deliveries were written.
 */
export async function recordEvents(db: Pool | PoolClient, events: EventInput[]): Promise<number> {
  if (!events.length) return 0;
  const { rows } = await db.query<{ n: number }>({
    // A batch statement: unnamed (README.md).
    text: `WITH ev AS (
        SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::jsonb[], $6::uuid[])
          AS e(tenant_id, team_id, type, contact_id, data, endpoint_id)
      ), ${RECORD_EVENTS_CTES}
      SELECT (SELECT count(*)::int FROM ev_deliveries) AS n, woke FROM ev_woke`,
    values: [
      events.map((e) => e.tenantId),
      events.map((e) => e.teamId),
      events.map((e) => e.type),
      events.map((e) => e.contactId),
      events.map((e) => JSON.stringify(e.data)),
      events.map((e) => e.endpointId ?? null),
    ],
  });
  return rows[0]?.n ?? 0;
}
