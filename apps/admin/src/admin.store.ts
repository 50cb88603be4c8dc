import { Injectable } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { batchLocksSql, deleteStatusesOfSql, eventContactSql, EVENTS_CHANNEL, IN_FLIGHT_STATES, Prisma, PrismaService, RECORD_EVENTS_CTES, sqlStates, unsentRowSql } from '@gtc/db';
import { limiterSettings } from '@gtc/queue';
import { tierUsedSql } from './stats/tier-usage';

/**
 * The `ev` CTE (see RECORD_EVENTS_CTES) of a `provider.resumed` event for each provider row `u` (id, tenant_id,
 * team_id, phone_number_id) of `from`.
 */
const resumedEvent = (from: string) => `ev AS (
    SELECT u.tenant_id, u.team_id, 'provider.resumed'::text AS type, NULL::uuid AS contact_id,
      jsonb_build_object('provider', jsonb_build_object('id', u.id, 'phone_number_id', u.phone_number_id)) AS data, NULL::uuid AS endpoint_id
    FROM ${from}
  )`;

/** Records a provider's `provider.resumed` event ($1: its id); run in the transaction that lifts its pause. */
const RECORD_RESUMED = `WITH ${resumedEvent('whatsapp_providers u WHERE u.id = $1::uuid')}, ${RECORD_EVENTS_CTES} SELECT woke FROM ev_woke`;

/** A contact's batch lock ($1: its id), as the writers of its row take it; run in the erasure's transaction. */
const LOCK_CONTACT = `SELECT count(*) FROM (${batchLocksSql('contacts', '(SELECT $1::uuid AS id) c', 'id')}) l`;

/** Deletes a contact ($1) with its outbound messages and their status events; run after LOCK_CONTACT. */
const DELETE_CONTACT = `WITH outbound AS (
    DELETE FROM outbound_messages WHERE contact_id = $1::uuid RETURNING provider_id, wamid
  ), statuses AS (
    ${deleteStatusesOfSql('outbound')}
  )
  DELETE FROM contacts WHERE id = $1::uuid`;

/** Serialises a team's flow uploads ($1: the team's id); run in the upload's transaction. */
const LOCK_TEAM = `SELECT id FROM teams WHERE id = $1::uuid FOR UPDATE`;

/** One tenant, with one of its numbers (null columns: a tenant with none). */
export interface SnapshotRow {
  tenant: string;
  slug: string;
  team: string | null;
  tier: string | null;
  paused: boolean | null;
  paused_class: string | null;
  paused_code: number | null;
  paused_reason: string | null;
  tier_used: number | null;
}

/** A row of a conversation page: which side, the message's id and where it stands in the order. */
export interface ConversationRow {
  direction: 'inbound' | 'outbound';
  id: string;
  at: Date;
  /** seq or arrival (int8, as text). */
  n: string;
}

/**
 * The admin's raw SQL (its one store, libs/db/README.md): what Prisma's model calls cannot say in one statement
 * (a change with the event it writes, counts with scalar subqueries, a keyset page across two tables, a row lock).
 * Everything else (CRUD) stays on the Prisma client in the services. Statements on the pool are named; the two that
 * must run in a caller's Prisma transaction take its client and run a constant text with bound values.
 */
@Injectable()
export class AdminStore {
  /** The tier-used expression of the deployment's counting (TIER_COUNTING): constant per process. */
  private readonly tierUsed: (p: string, sinceMs: string) => string;

  constructor(
    private readonly prisma: PrismaService,
    config: AppConfig,
  ) {
    const limits = limiterSettings(config);
    this.tierUsed = (p, sinceMs) => tierUsedSql(limits, p, sinceMs);
  }

  /** Records the `provider.resumed` event of a provider whose pause `tx` lifts. */
  async recordResumed(tx: Prisma.TransactionClient, providerId: string): Promise<void> {
    await tx.$queryRawUnsafe(RECORD_RESUMED, providerId);
  }

  /**
   * Clears a provider's pause (paused_at, reason, class, code) and, if it was paused, records its
   * `provider.resumed` event, in one statement. Returns whether it changed it, and whether it was paused.
   */
  async resumeProvider(providerId: string): Promise<{ changed: boolean; wasPaused: boolean }> {
    const { rows } = await this.prisma.pool.query<{ was_paused: boolean }>({
      name: 'admin-resume-provider',
      text: `WITH old AS (
         SELECT id, paused_at FROM whatsapp_providers WHERE id = $1 AND (paused_at IS NOT NULL OR paused_reason IS NOT NULL) FOR UPDATE
       ), upd AS (
         UPDATE whatsapp_providers p SET paused_at = NULL, paused_reason = NULL, paused_class = NULL, paused_code = NULL, updated_at = now()
         FROM old WHERE p.id = old.id
         RETURNING p.id, p.tenant_id, p.team_id, p.phone_number_id, old.paused_at IS NOT NULL AS was_paused
       ), ${resumedEvent('upd u WHERE u.was_paused')}, ${RECORD_EVENTS_CTES}
       SELECT u.was_paused FROM upd u CROSS JOIN ev_woke`,
      values: [providerId],
    });
    return { changed: rows.length > 0, wasPaused: rows[0]?.was_paused ?? false };
  }

  /** Takes the team's row lock in `tx` (flow uploads of one team go one at a time). */
  async lockTeam(tx: Prisma.TransactionClient, teamId: string): Promise<void> {
    await tx.$queryRawUnsafe(LOCK_TEAM, teamId);
  }

  /**
   * Releases a handoff (the session back to idle) and records its `conversation.handoff` event (state `released`,
   * via `api`), in one statement. Returns false when the session was not in a handoff (any more).
   */
  async releaseHandoff(sessionId: string): Promise<boolean> {
    const { rows } = await this.prisma.pool.query({
      name: 'admin-release-handoff',
      text: `WITH upd AS (
         UPDATE sessions SET status = 'idle', node_id = NULL, updated_at = now() WHERE id = $1 AND status = 'handoff' RETURNING contact_id, flow_id
       ), ev AS (
         SELECT c.tenant_id, p.team_id, 'conversation.handoff'::text AS type, c.id AS contact_id,
           jsonb_build_object('contact', ${eventContactSql('c')}, 'state', 'released', 'via', 'api')
             || CASE WHEN f.name IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('flow', f.name) END AS data,
           NULL::uuid AS endpoint_id
         FROM upd u JOIN contacts c ON c.id = u.contact_id JOIN whatsapp_providers p ON p.id = c.provider_id LEFT JOIN flows f ON f.id = u.flow_id
       ), ${RECORD_EVENTS_CTES}
       SELECT u.contact_id FROM upd u CROSS JOIN ev_woke`,
      values: [sessionId],
    });
    return rows.length > 0;
  }

  /**
   * Deletes a contact with its outbound messages and their status events (found by wamid: neither names the contact
   * or the message by key, migrations 20261207000000 and 20261207010000); its session goes by cascade, its inbound
   * messages keep no link to it. Under the contact's batch lock, taken first in a statement of its own: a writer that
   * held it has committed its messages, which the delete's snapshot then sees, and a writer after it finds no contact.
   */
  async deleteContact(contactId: string): Promise<void> {
    await this.prisma.client.$transaction(async (tx) => {
      await tx.$queryRawUnsafe(LOCK_CONTACT, contactId);
      await tx.$queryRawUnsafe(DELETE_CONTACT, contactId);
    });
  }

  /**
   * Opts a contact out or back in, with its `contact.opted_out` or `contact.opted_in` event (via `api`), in one
   * statement; a contact already in that state is left alone (no event).
   */
  async setOptOut(contactId: string, optedOut: boolean): Promise<void> {
    await this.prisma.pool.query({
      name: 'admin-set-opt-out',
      text: `WITH upd AS (
           UPDATE contacts SET opted_out = $2::boolean, opted_out_at = CASE WHEN $2::boolean THEN now() END, updated_at = now()
           WHERE id = $1 AND opted_out <> $2::boolean RETURNING *
         ), ev AS (
           SELECT c.tenant_id, p.team_id, CASE WHEN $2::boolean THEN 'contact.opted_out' ELSE 'contact.opted_in' END AS type, c.id AS contact_id,
             jsonb_build_object('contact', ${eventContactSql('c')}, 'via', 'api') AS data, NULL::uuid AS endpoint_id
           FROM upd c JOIN whatsapp_providers p ON p.id = c.provider_id
         ), ${RECORD_EVENTS_CTES}
         SELECT woke FROM ev_woke`,
      values: [contactId, optedOut],
    });
  }

  /**
   * The next `limit` rows of a contact's conversation, latest first, after the cursor (`after`: time, seq or arrival,
   * id; all null for the first page): each side's rows by its own index, then the two merged.
   */
  async conversationPage(
    tenantId: string,
    contactId: string,
    after: { at: Date | null; n: string | null; id: string | null },
    limit: number,
  ): Promise<ConversationRow[]> {
    const { rows } = await this.prisma.pool.query<ConversationRow>({
      // A page: unnamed, planned with its real cursor (a generic plan keeps the `$3 IS NULL OR …`; libs/db/README.md).
      text: `SELECT * FROM (
         (SELECT 'outbound' AS direction, id, created_at AS at, seq::bigint AS n FROM outbound_messages
          WHERE tenant_id = $1 AND contact_id = $2 AND ($3::timestamp IS NULL OR (created_at, seq::bigint, id) < ($3::timestamp, $4::bigint, $5::uuid))
          ORDER BY created_at DESC, seq DESC, id DESC LIMIT $6)
         UNION ALL
         (SELECT 'inbound', id, received_at, arrival FROM inbound_messages
          WHERE tenant_id = $1 AND contact_id = $2 AND ($3::timestamp IS NULL OR (received_at, arrival, id) < ($3::timestamp, $4::bigint, $5::uuid))
          ORDER BY received_at DESC, arrival DESC, id DESC LIMIT $6)
       ) m ORDER BY at DESC, n DESC, id DESC LIMIT $6`,
      values: [tenantId, contactId, after.at, after.n, after.id, limit],
    });
    return rows;
  }

  /** Every tenant with each of its numbers (a tenant with none: one row of nulls) and its tier use since `sinceMs`. */
  async platformSnapshot(sinceMs: number): Promise<SnapshotRow[]> {
    const { rows } = await this.prisma.pool.query<SnapshotRow>({
      name: 'admin-platform-snapshot',
      text: `SELECT t.id AS tenant, t.slug, tm.slug AS team, p.tier, p.paused_at IS NOT NULL AS paused, p.paused_class, p.paused_code,
         p.paused_reason, CASE WHEN p.id IS NOT NULL THEN ${this.tierUsed('p', '$1')} END AS tier_used
       FROM tenants t
       LEFT JOIN whatsapp_providers p ON p.tenant_id = t.id
       LEFT JOIN teams tm ON tm.id = p.team_id
       ORDER BY t.slug, tm.slug`,
      values: [sinceMs],
    });
    return rows;
  }

  /** Each number of the tenant with its tier use since `sinceMs` (tier-usage.ts), in one statement. */
  async tierUsedByProvider(tenantId: string, sinceMs: number): Promise<{ id: string; used: number }[]> {
    const { rows } = await this.prisma.pool.query<{ id: string; used: number }>({
      name: 'admin-tier-used',
      text: `SELECT p.id, ${this.tierUsed('p', '$2')} AS used FROM whatsapp_providers p WHERE p.tenant_id = $1`,
      values: [tenantId, sinceMs],
    });
    return rows;
  }

  /**
   * One number's tier use since `sinceMs`, its queued and in-flight messages, and its failures of the last 24 hours
   * (found through the tenant's (tenant_id, created_at) index over the last day and a half).
   */
  async providerCounts(providerId: string, sinceMs: number): Promise<{ used: number; queued: number; sending: number; failed: number }> {
    const { rows } = await this.prisma.pool.query<{ used: number; queued: number; sending: number; failed: number }>({
      name: 'admin-provider-counts',
      text: `SELECT ${this.tierUsed('p', '$2')} AS used,
           (SELECT count(*) FROM outbound_messages o WHERE ${unsentRowSql('o')} AND o.state = 'queued' AND o.provider_id = p.id)::int AS queued,
           (SELECT count(*) FROM outbound_messages o WHERE ${unsentRowSql('o')} AND o.state IN (${sqlStates(IN_FLIGHT_STATES)}) AND o.provider_id = p.id)::int AS sending,
           (SELECT count(*) FROM outbound_messages o WHERE o.tenant_id = p.tenant_id AND o.created_at >= now() AT TIME ZONE 'UTC' - interval '36 hours'
              AND o.provider_id = p.id AND o.failed_at >= now() AT TIME ZONE 'UTC' - interval '24 hours')::int AS failed
         FROM whatsapp_providers p WHERE p.id = $1`,
      values: [providerId, sinceMs],
    });
    return rows[0];
  }

  /** A number's sends and failures per minute since `firstMinute` (epoch ms), minutes with neither left out. */
  async providerMinutes(tenantId: string, providerId: string, firstMinute: number): Promise<{ minute: number; sent: number; failed: number }[]> {
    const { rows } = await this.prisma.pool.query<{ minute: number; sent: number; failed: number }>({
      name: 'admin-provider-minutes',
      text: `SELECT (extract(epoch FROM date_trunc('minute', x.t)) * 1000)::float8 AS minute,
           count(*) FILTER (WHERE x.k = 's')::int AS sent, count(*) FILTER (WHERE x.k = 'f')::int AS failed
         FROM (
           SELECT o.sent_at AS t, 's' AS k FROM outbound_messages o
           WHERE o.tenant_id = $1 AND o.created_at >= now() AT TIME ZONE 'UTC' - interval '36 hours' AND o.provider_id = $2
             AND o.sent_at >= to_timestamp($3::float8 / 1000) AT TIME ZONE 'UTC'
           UNION ALL
           SELECT o.failed_at, 'f' FROM outbound_messages o
           WHERE o.tenant_id = $1 AND o.created_at >= now() AT TIME ZONE 'UTC' - interval '36 hours' AND o.provider_id = $2
             AND o.failed_at >= to_timestamp($3::float8 / 1000) AT TIME ZONE 'UTC'
         ) x GROUP BY 1`,
      values: [tenantId, providerId, firstMinute],
    });
    return rows;
  }

  /**
   * Makes an endpoint's waiting deliveries due now and wakes the dispatcher (a re-enabled endpoint: the dispatcher
   * parks a disabled one's deliveries for a while). Attempts in flight stay as they are.
   */
  async wakeEndpointDeliveries(endpointId: string): Promise<void> {
    await this.prisma.pool.query({
      name: 'admin-wake-endpoint',
      text: `WITH due AS (
         UPDATE event_deliveries SET next_attempt_at = now()
         WHERE endpoint_id = $1 AND state = 'pending' AND next_attempt_at > now() AND (leased_until IS NULL OR leased_until <= now())
         RETURNING 1
       )
       SELECT count(pg_notify('${EVENTS_CHANNEL}', '')) FROM (SELECT 1 FROM due LIMIT 1) d`,
      values: [endpointId],
    });
  }

  /**
   * Makes a failed delivery, or a pending one no attempt holds (no lease, or its lease over), due now and wakes the
   * dispatcher; returns its new state, or null when an attempt holds it or it was delivered.
   */
  async retryDelivery(deliveryId: string): Promise<{ state: 'pending'; next_attempt_at: Date } | null> {
    const { rows } = await this.prisma.pool.query<{ state: 'pending'; next_attempt_at: Date }>({
      name: 'admin-retry-delivery',
      text: `WITH due AS (
         UPDATE event_deliveries SET state = 'pending', next_attempt_at = now(), failed_at = NULL
         WHERE id = $1 AND (state = 'failed' OR state = 'pending' AND (leased_until IS NULL OR leased_until <= now()))
         RETURNING state, next_attempt_at
       )
       SELECT state, next_attempt_at, pg_notify('${EVENTS_CHANNEL}', '') AS woke FROM due`,
      values: [deliveryId],
    });
    return rows[0] ?? null;
  }

  /** Records a `ping` event for one endpoint (written only if it is enabled); returns its row id, or null. */
  async recordPing(tenantId: string, teamId: string | null, endpointId: string): Promise<string | null> {
    const { rows } = await this.prisma.pool.query<{ id: string | null }>({
      name: 'admin-record-ping',
      text: `WITH ev AS (
         SELECT $1::uuid AS tenant_id, $2::uuid AS team_id, 'ping'::text AS type, NULL::uuid AS contact_id, '{}'::jsonb AS data, $3::uuid AS endpoint_id
       ), ${RECORD_EVENTS_CTES}
       SELECT (SELECT id FROM ev_rows LIMIT 1) AS id, woke FROM ev_woke`,
      values: [tenantId, teamId, endpointId],
    });
    return rows[0]?.id ?? null;
  }
}
