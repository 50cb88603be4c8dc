import { Injectable } from '@nestjs/common';
import { batchStatement, columns, contactLockKeySql, deleteStatusesOfSql, DONE_STATES, earlierMessagesSql, eventContactSql, eventsCtes, type GateInput, INBOUND_DONE_STATES, openGates, outboundWriteCtes, PoolClient, PrismaService, sqlStates } from '@gtc/db';
import type { CompiledFlow } from '@gtc/flows';

/** The contact of a step, as the step reads it. */
export interface ContactRow {
  id: string;
  tenant_id: string;
  provider_id: string;
  wa_id: string | null;
  user_id: string | null;
  profile_name: string | null;
  opted_out: boolean;
}

/** What a step reads in one statement: the contact, its oldest pending message, its session. */
export interface StepRow extends ContactRow {
  message_id: string;
  type: string;
  payload: unknown;
  received_at: Date;
  session_status: string | null;
  node_id: string | null;
  vars: Record<string, unknown> | null;
  flow_name: string | null;
  waiting_flow: CompiledFlow | null;
  previous_at: number | null;
}

/** One contact's step as the round's statement writes it (JSON columns as JSON text). */
export interface StepWriteRow {
  contactId: string;
  tenantId: string;
  providerId: string;
  /** The inbound message the step processed. */
  messageId: string;
  /** Replies written (seqs taken). */
  n: number;
  /** The contact's new opt-out state, null when the step did not change it. */
  optedOut: boolean | null;
  businessInitiated: boolean;
  /** Whether the step writes the session (the four columns below). */
  hasSession: boolean;
  flowId: string | null;
  nodeId: string | null;
  status: string;
  vars: string;
  error: string | null;
  /** The inbound message's new state. */
  state: string;
  flowRun: string;
  /** The event the step is for the tenant's endpoints (null: none), and what it adds to the contact. */
  eventType: string | null;
  eventExtra: string;
}

/** A reply of a step: its Graph API body as JSON text. */
export interface ReplyWriteRow {
  contactId: string;
  ordinal: number;
  type: string;
  body: string;
  retryOnRateLimit: boolean;
}

/** A provider's settings and its team's active flows, as the catalog reads them. */
export interface CatalogRow {
  id: string;
  tenant_id: string;
  phone_number_id: string;
  tier: string;
  throughput_mps: number;
  enabled: boolean;
  opt_out_keywords: string[];
  opt_in_keywords: string[];
  opt_out_confirmation: string;
  opt_in_confirmation: string;
  flows: { id: string; name: string; compiled: CompiledFlow }[];
}

/**
 * The step's outbound rows and contact changes (libs/db's one outbound writer): each contact of `step` takes its
 * next `n` seqs, with the opt-out state the step changed, and its replies (`reply`) are written at them.
 */
const STEP_OUTBOUND_CTES = outboundWriteCtes({
  contacts: 'step',
  messages: 'reply',
  returning: 'id, contact_id, provider_id, seq, ordinal',
  setContact: `opted_out = COALESCE(x.opted_out, c.opted_out),
      opted_out_at = CASE WHEN x.opted_out IS NULL THEN c.opted_out_at WHEN x.opted_out THEN now() ELSE NULL END`,
});

/**
 * An outbound row a round wrote (none: all null), with its gate's input: the earlier messages to its contact that may
 * hold it (its first reply's; a later reply of the same step is held by the first).
 */
export interface OutboundRowWritten extends GateInput {
  id: string | null;
  contact_id: string | null;
  ordinal: number | null;
}

/** Rows one retention statement deletes at most. */
export const PRUNE_BATCH = 1_000;

/** What retention prunes: each a statement deleting up to PRUNE_BATCH finished rows older than `$1` days. */
export type PruneKind = 'inbound' | 'outbound' | 'statuses' | 'events';

// Sweeps: unnamed, planned with their real cutoff (libs/db/README.md).
const PRUNE: Record<PruneKind, string> = {
  inbound: `DELETE FROM inbound_messages WHERE id IN (SELECT id FROM inbound_messages
           WHERE state IN (${sqlStates(INBOUND_DONE_STATES)}) AND received_at < now() - make_interval(days => $1) LIMIT ${PRUNE_BATCH})`,
  // Found tenant by tenant through (tenant_id, created_at), the state read in the row (no index names it: migration
  // 20261206040000): a message last changed before the cutoff was created before it too. Its status events go with
  // it, found by its wamid (migration 20261207000000); one row returned per message.
  outbound: `WITH gone AS (DELETE FROM outbound_messages WHERE id IN (SELECT o.id FROM tenants t CROSS JOIN LATERAL (
             SELECT id FROM outbound_messages o WHERE o.tenant_id = t.id AND o.created_at < now() - make_interval(days => $1)
               AND o.state IN (${sqlStates(DONE_STATES)}) AND o.updated_at < now() - make_interval(days => $1) LIMIT ${PRUNE_BATCH}) o
           LIMIT ${PRUNE_BATCH}) RETURNING provider_id, wamid
           ), statuses AS (${deleteStatusesOfSql('gone')})
           SELECT 1 FROM gone`,
  // Statuses no message matched (never applied: through the partial index of unapplied ones).
  statuses: `DELETE FROM status_events WHERE id IN (SELECT id FROM status_events
           WHERE applied_at IS NULL AND outbound_id IS NULL AND received_at < now() - make_interval(days => $1) LIMIT ${PRUNE_BATCH})`,
  events: `DELETE FROM webhook_events WHERE id IN (SELECT id FROM webhook_events
           WHERE received_at < now() - make_interval(days => $1) LIMIT ${PRUNE_BATCH})`,
};

/**
 * The flow-runner's SQL (its one store, libs/db/README.md). A step's statements run on the connection of the
 * step's transaction (`db`, checked out by FlowStepService); retention's on the pool.
 */
@Injectable()
export class FlowRunnerStore {
  constructor(private readonly prisma: PrismaService) {}

  async begin(db: PoolClient): Promise<void> {
    await db.query('BEGIN');
  }

  async commit(db: PoolClient): Promise<void> {
    await db.query('COMMIT');
  }

  async rollback(db: PoolClient): Promise<void> {
    await db.query('ROLLBACK');
  }

  /**
   * The contacts' step locks (contactLockKeySql, advisory: ingress keeps writing the contact rows meanwhile), in a
   * statement of their own. With `skipLocked`, those another transaction holds are skipped; without, the first
   * contact's lock is waited for. Returns the contacts locked.
   */
  async lockContacts(db: PoolClient, contactIds: string[], skipLocked: boolean): Promise<string[]> {
    const { rows } = await db.query<{ id: string }>(
      skipLocked
        ? { name: 'step-lock-try', text: `SELECT id FROM unnest($1::uuid[]) AS c(id) WHERE pg_try_advisory_xact_lock(${contactLockKeySql('id')})`, values: [contactIds] }
        : { name: 'step-lock', text: `SELECT $1::uuid AS id, pg_advisory_xact_lock(${contactLockKeySql('$1::uuid')})`, values: [contactIds[0]] },
    );
    return rows.map((r) => r.id);
  }

  /** Each contact that has a pending message, with its oldest one (arrival order), its session and waiting flow. */
  async readRound(db: PoolClient, contactIds: string[]): Promise<StepRow[]> {
    const { rows } = await db.query<StepRow>({
      // Contacts by primary key, each joined to its own rows by index: named (libs/db/README.md, "Naming statements").
      name: 'flow-runner-read-round',
      text: `SELECT c.id, c.tenant_id, c.provider_id, c.wa_id, c.user_id, c.profile_name, c.opted_out,
              m.id AS message_id, m.type, m.payload, m.received_at,
              s.status AS session_status, s.node_id, s.vars, f.name AS flow_name,
              CASE WHEN s.status = 'waiting' THEN f.compiled END AS waiting_flow,
              (SELECT extract(epoch FROM COALESCE(p.sent_at, p.received_at))::float8 FROM inbound_messages p
                WHERE p.contact_id = c.id AND p.arrival < m.arrival AND p.type <> 'flow_start'
                ORDER BY p.arrival DESC LIMIT 1) AS previous_at
       FROM contacts c
       JOIN LATERAL (SELECT id, type, payload, arrival, received_at FROM inbound_messages
                     WHERE contact_id = c.id AND state = 'pending' ORDER BY arrival LIMIT 1) m ON true
       LEFT JOIN sessions s ON s.contact_id = c.id
       LEFT JOIN flows f ON f.id = s.flow_id
       WHERE c.id = ANY($1::uuid[])`,
      values: [contactIds],
    });
    return rows;
  }

  /**
   * Writes a round's steps in one statement (one row per contact in each table it touches): the contacts' seqs and
   * opt-out state, the outbound rows, the sessions, the messages processed, the events (the events CTEs only when
   * a step has one). Returns the outbound rows written in contact and reply order, each with what its recipient's
   * ordering gate needs (OutboundRowWritten).
   */
  async writeRound(db: PoolClient, steps: StepWriteRow[], replies: ReplyWriteRow[]): Promise<OutboundRowWritten[]> {
    const { rows } = await db.query<OutboundRowWritten>(
      batchStatement(
        `WITH step AS (
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::int[], $6::bool[], $7::bool[],
                              $8::bool[], $9::uuid[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])
           AS x(contact_id, tenant_id, provider_id, message_id, n, opted_out, business_initiated,
                has_session, flow_id, node_id, status, vars, error, state, flow_run)
       ), reply AS (
         SELECT r.contact_id, r.ordinal AS pos, x.tenant_id, x.provider_id, x.message_id AS cause_id, r.ordinal, r.ty AS type,
                r.b::jsonb AS body, x.business_initiated, r.retry AS retry_on_rate_limit
         FROM unnest($16::uuid[], $17::int[], $18::text[], $19::text[], $20::bool[]) AS r(contact_id, ordinal, ty, b, retry)
         JOIN step x ON x.contact_id = r.contact_id
       ), ${STEP_OUTBOUND_CTES}, sess_upd AS (
         -- An existing session is updated, a new one inserted (an upsert would first lock the row, or confirm its
         -- insert: a WAL record more). Only a step creates sessions, under its contact's lock: no insert races this one.
         UPDATE sessions s SET flow_id = x.flow_id, node_id = x.node_id, status = x.status, vars = x.vars::jsonb,
           last_error = x.error, updated_at = now()
         FROM step x WHERE x.has_session AND s.contact_id = x.contact_id
         RETURNING s.contact_id
       ), sess AS (
         INSERT INTO sessions (tenant_id, contact_id, flow_id, node_id, status, vars, last_error, updated_at)
         SELECT x.tenant_id, x.contact_id, x.flow_id, x.node_id, x.status, x.vars::jsonb, x.error, now() FROM step x
         WHERE x.has_session AND NOT EXISTS (SELECT 1 FROM sess_upd u WHERE u.contact_id = x.contact_id)
       ), inb AS (
         -- clock_timestamp(): when the step ran under the lock (now() would be when the transaction began).
         UPDATE inbound_messages m SET state = x.state, processed_at = clock_timestamp(), error = x.error, flow_run = x.flow_run::jsonb
         FROM step x WHERE m.id = x.message_id AND m.state = 'pending'
       ), ev AS (
         -- Events of the step (opt-out or opt-in by keyword, a flow handing the contact over), for the endpoints that want them.
         SELECT x.tenant_id, pr.team_id, e.type, x.contact_id, jsonb_build_object('contact', ${eventContactSql('c')}) || e.extra AS data, NULL::uuid AS endpoint_id
         FROM unnest($1::uuid[], $21::text[], $22::jsonb[]) AS e(contact_id, type, extra)
         JOIN step x ON x.contact_id = e.contact_id JOIN contacts c ON c.id = e.contact_id JOIN whatsapp_providers pr ON pr.id = x.provider_id
         WHERE e.type IS NOT NULL
       ), ${eventsCtes(steps.some((x) => x.eventType))}
       SELECT o.id, o.contact_id, o.ordinal, pr.ordering, pr.ordering_timeout_ms,
              CASE WHEN o.ordinal = 0 AND pr.ordering <> 'none' THEN ${earlierMessagesSql('o')} ELSE '[]' END AS earlier
       FROM ev_woke LEFT JOIN outb o ON true LEFT JOIN whatsapp_providers pr ON pr.id = o.provider_id
       ORDER BY o.contact_id, o.ordinal`,
        [
          ...columns(steps, ['contactId', 'tenantId', 'providerId', 'messageId', 'n', 'optedOut', 'businessInitiated', 'hasSession', 'flowId', 'nodeId', 'status', 'vars', 'error', 'state', 'flowRun']),
          ...columns(replies, ['contactId', 'ordinal', 'type', 'body', 'retryOnRateLimit']),
          ...columns(steps, ['eventType', 'eventExtra']),
        ],
      ),
    );
    return rows;
  }

  /** Of these outbound messages, the queued ones whose recipient's gate lets them go now (libs/db openGates). */
  withOpenGate(ids: string[]): Promise<string[]> {
    return openGates(this.prisma.pool, ids);
  }

  /** A provider's settings and its team's active flows (by name), or undefined; on the step's connection. */
  async catalog(db: PoolClient, providerId: string): Promise<CatalogRow | undefined> {
    const { rows } = await db.query<CatalogRow>({
      name: 'catalog-load',
      text: `SELECT p.id, p.tenant_id, p.phone_number_id, p.tier, p.throughput_mps, p.enabled, p.opt_out_keywords, p.opt_in_keywords,
                    p.opt_out_confirmation, p.opt_in_confirmation,
                    COALESCE((SELECT json_agg(json_build_object('id', f.id, 'name', f.name, 'compiled', f.compiled) ORDER BY f.name)
                              FROM flows f WHERE f.team_id = p.team_id AND f.active), '[]') AS flows
             FROM whatsapp_providers p WHERE p.id = $1::uuid`,
      values: [providerId],
    });
    return rows[0];
  }

  /** Deletes up to PRUNE_BATCH rows of a kind older than `days`; returns how many. */
  async prune(kind: PruneKind, days: number): Promise<number> {
    const { rowCount } = await this.prisma.pool.query({ text: PRUNE[kind], values: [days] });
    return rowCount ?? 0;
  }
}
