// The SQL of the dispatcher: claim the deliveries that may go now, record what their attempts came to.
import { Injectable } from '@nestjs/common';
import { EVENT_ATTEMPT_LOG_MAX, EVENTS_CHANNEL, PoolClient, PrismaService } from '@gtc/db';

/** A delivery leased to this process, with what its attempt needs. */
export interface ClaimedDelivery {
  id: string;
  /** The lease as the database wrote it: the attempt's result is applied only while it still holds. */
  leasedUntil: string;
  /** Length of the lease from the claim, ms. */
  leaseMs: number;
  /** Attempts made before this one. */
  attempts: number;
  endpointId: string;
  contactId: string | null;
  seq: string;
  eventId: string;
  type: string;
  /** ISO-8601 (UTC). */
  createdAt: string;
  data: unknown;
  tenant: string;
  team: string | null;
  url: string;
  secretEnc: string;
  /** The rotated-out secret while it is still valid, else null. */
  previousSecretEnc: string | null;
}

/** What this process holds of one endpoint, and how many more of its deliveries it takes. */
export interface EndpointLoad {
  /** Leased deliveries held (in flight and waiting for a slot). */
  held: number;
  /** How many more it takes now (0 or less: none; its due heads are spread). */
  room: number;
  /** Recent attempt latency, ms (a waiting delivery's lease covers its expected wait). */
  latencyMs: number;
  /** Ms from now at which its first delivery beyond `room` is due again (its held ones' expected time; spread after that by latency / slots). */
  horizonMs: number;
}

/** What the claim needs to know of this process's own load. */
export interface ClaimRequest {
  /** Most deliveries to lease. */
  free: number;
  /** Rows to look at (due, oldest first). */
  scan: number;
  /** Endpoints this process holds deliveries of. */
  loads: Map<string, EndpointLoad>;
  /** How many deliveries of an endpoint this process holds nothing of it takes. */
  defaultRoom: number;
  /** `horizonMs` of an endpoint this process holds nothing of. */
  defaultHorizonMs: number;
}

/** The outcome of one attempt, as it is applied. */
export type Outcome = 'delivered' | 'retry' | 'failed' | 'gone';

/** One attempt's result to record. */
export interface Completion {
  delivery: ClaimedDelivery;
  status: number | null;
  latencyMs: number;
  error: string | null;
  outcome: Outcome;
  /** For `retry` and `gone`: when the delivery is due again, ms from now. */
  delayMs: number;
}

/** How long the deliveries of a disabled endpoint wait before they are looked at again (a re-enabled one resumes). */
export const DISABLED_RECHECK_MS = 60_000;
/** Latency assumed for an endpoint this process has not sent to yet. */
export const DEFAULT_LATENCY_MS = 10;
/** Longest lease, in leases of one attempt (a delivery waiting behind slow ones of its endpoint). */
const MAX_LEASES = 6;
/**
 * A full endpoint whose slots this process expects to be free again sooner than this (a busy endpoint, not a slow or
 * dead one) is skipped by the claim rather than its due heads put off: putting a row off is an update (WAL, an index
 * entry), and a busy endpoint's rows would be put off again and again, each time they came due while it was full.
 */
const MIN_PARK_MS = 1_000;
/** Furthest a due delivery an endpoint has no room for is put off, ms (it is looked at again then). */
export const MAX_SPREAD_MS = 60_000;

/** Settings of the store, from the environment. */
export interface StoreSettings {
  /** Lease of one attempt, ms (longer than the attempt timeout). */
  leaseMs: number;
  perEndpoint: number;
  disableAfterMs: number;
}

/**
 * Claims, in one statement, due deliveries that may go: due (`next_attempt_at` passed) and not leased (no
 * `leased_until`, or it passed: a delivery whose dispatcher died is due again when the lease ends), of an enabled
 * endpoint, and
 * the head of their (endpoint, contact): the delivery before it of the same endpoint and contact (null contact: one
 * key) is not pending. Deliveries complete in `seq` order per key, so no earlier one is pending either (a failed one
 * retried by hand after later ones went is the exception, and does not hold them back). Rows are locked
 * `FOR UPDATE SKIP LOCKED`, so concurrent dispatchers take disjoint sets; at most `room` are taken per endpoint,
 * round-robin between endpoints. Each lease covers one
 * attempt plus the expected wait for a slot of its endpoint in this process. What is due but may not go now is put
 * off, so that it does not fill the next scans (and other endpoints' deliveries behind it are reached): a delivery
 * behind a pending one until that one's next attempt (at least a lease; the completion of the one before makes it
 * due at once), a disabled endpoint's deliveries for DISABLED_RECHECK_MS, the heads an endpoint has no room for
 * spread over the time its slots are expected to take them (at most MAX_SPREAD_MS ahead) unless that is sooner than
 * MIN_PARK_MS (a busy endpoint: they are left as they are). A full endpoint with room again within MIN_PARK_MS is left
 * out of the scan: its rows are neither taken nor put off.
 *
 * The lease writes `leased_until` only, a column no index holds, so it can be a HOT update (no index entry; the
 * table keeps room on its pages for it, fillfactor 70): the rows in flight stay in the due index at their due time
 * and the scan steps over them (as many as are in flight).
 */
const CLAIM_SQL = `
WITH due AS (
  SELECT d.id, d.endpoint_id, d.contact_id, d.seq, d.next_attempt_at
  FROM event_deliveries d
  WHERE d.state = 'pending' AND d.next_attempt_at <= now() AND (d.leased_until IS NULL OR d.leased_until <= now())
    AND NOT EXISTS (SELECT 1 FROM unnest($4::uuid[], $5::int[], $11::int[]) AS b(endpoint_id, room, horizon_ms)
                    WHERE b.endpoint_id = d.endpoint_id AND b.room <= 0 AND b.horizon_ms < ${MIN_PARK_MS})
  ORDER BY d.next_attempt_at
  LIMIT $1
  FOR UPDATE SKIP LOCKED
), judged AS (
  -- The previous delivery as of the statement's snapshot, then (if that says pending) its latest committed
  -- version: FOR SHARE reads past a completion committed after the snapshot, whose wake of this row came too early
  -- to count (the park below would outlast it). A previous delivery another transaction holds is "busy": this one
  -- is neither taken nor put off, and is looked at again by the next claim.
  SELECT due.*, ep.enabled,
    CASE WHEN snap.state IS DISTINCT FROM 'pending' THEN snap.state WHEN fresh.state IS NULL THEN 'busy' ELSE fresh.state END AS prev_state,
    fresh.next_attempt_at AS prev_at
  FROM due
  JOIN event_endpoints ep ON ep.id = due.endpoint_id
  LEFT JOIN LATERAL (
    SELECT p.id, p.state FROM event_deliveries p
    WHERE due.contact_id IS NOT NULL AND p.endpoint_id = due.endpoint_id AND p.contact_id = due.contact_id AND p.seq < due.seq
    ORDER BY p.seq DESC LIMIT 1
  ) snap_c ON true
  LEFT JOIN LATERAL (
    SELECT p.id, p.state FROM event_deliveries p
    WHERE due.contact_id IS NULL AND p.endpoint_id = due.endpoint_id AND p.contact_id IS NULL AND p.seq < due.seq
    ORDER BY p.seq DESC LIMIT 1
  ) snap_n ON true
  CROSS JOIN LATERAL (SELECT COALESCE(snap_c.id, snap_n.id) AS id, COALESCE(snap_c.state, snap_n.state) AS state) snap
  LEFT JOIN LATERAL (
    SELECT f.state, GREATEST(f.next_attempt_at, f.leased_until) AS next_attempt_at FROM event_deliveries f
    WHERE f.id = snap.id AND snap.state = 'pending' FOR SHARE SKIP LOCKED
  ) fresh ON true
), ready AS (
  SELECT j.id, j.next_attempt_at, COALESCE(b.room, $8::int) AS room,
    row_number() OVER (PARTITION BY j.endpoint_id ORDER BY j.next_attempt_at, j.seq) AS rn,
    COALESCE(b.held, 0) AS held, COALESCE(b.latency_ms, ${DEFAULT_LATENCY_MS}) AS latency_ms,
    COALESCE(b.horizon_ms, $10::int) AS horizon_ms, j.endpoint_id
  FROM judged j
  LEFT JOIN unnest($4::uuid[], $5::int[], $6::int[], $9::int[], $11::int[]) AS b(endpoint_id, room, latency_ms, held, horizon_ms)
    ON b.endpoint_id = j.endpoint_id
  WHERE j.enabled AND (j.prev_state IS NULL OR j.prev_state NOT IN ('pending', 'busy'))
), picked AS (
  SELECT id, ($7::int + LEAST(${MAX_LEASES - 1} * $7::int, 2 * latency_ms * ((held + rn - 1) / $3::int)))::int AS lease_ms
  FROM ready WHERE rn <= room ORDER BY rn, next_attempt_at LIMIT $2
), leased AS (
  UPDATE event_deliveries d
  SET leased_until = now() + make_interval(secs => picked.lease_ms / 1000.0)
  FROM picked WHERE d.id = picked.id
  RETURNING d.id, d.leased_until, picked.lease_ms, d.attempts, d.endpoint_id, d.contact_id, d.seq, d.event_id
), parked AS (
  UPDATE event_deliveries d
  SET next_attempt_at = CASE
    WHEN NOT j.enabled THEN now() + make_interval(secs => ${DISABLED_RECHECK_MS / 1000})
    ELSE GREATEST(j.prev_at, now() + make_interval(secs => $7::int / 1000.0)) END
  FROM judged j WHERE d.id = j.id AND (NOT j.enabled OR j.prev_state = 'pending')
  RETURNING 1
), spread AS (
  UPDATE event_deliveries d
  SET next_attempt_at = now() + make_interval(secs => LEAST(${MAX_SPREAD_MS}, r.horizon_ms + (r.rn - r.room - 1) * r.latency_ms / $3::int) / 1000.0)
  FROM ready r WHERE d.id = r.id AND r.rn > r.room AND r.horizon_ms >= ${MIN_PARK_MS}
  RETURNING 1
)
SELECT c.n AS "parkedCount", x.* FROM (SELECT (SELECT count(*) FROM parked)::int + (SELECT count(*) FROM spread)::int AS n) c
LEFT JOIN (
  SELECT l.id, l.leased_until::text AS "leasedUntil", l.lease_ms AS "leaseMs", l.attempts, l.endpoint_id AS "endpointId",
    l.contact_id AS "contactId", l.seq::text AS seq, l.event_id AS "eventId", e.type,
    to_char(e.created_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt", e.data, t.slug AS tenant, tm.slug AS team,
    ep.url, ep.secret_enc AS "secretEnc",
    CASE WHEN ep.previous_secret_expires_at > now() THEN ep.previous_secret_enc END AS "previousSecretEnc"
  FROM leased l
  JOIN events e ON e.id = l.event_id
  JOIN event_endpoints ep ON ep.id = l.endpoint_id
  JOIN tenants t ON t.id = e.tenant_id
  LEFT JOIN teams tm ON tm.id = e.team_id
) x ON true`;

/** A claim's deliveries, and how many due rows it put off (when some were, more may be due behind them). */
export interface ClaimResult {
  deliveries: ClaimedDelivery[];
  parked: number;
}

/**
 * Applies a batch of attempt results in one statement: a delivery whose lease still holds moves to delivered, failed
 * or its next attempt, and the attempt is appended to its `attempt_log` (the last EVENT_ATTEMPT_LOG_MAX kept;
 * `attempts` counts every one); the delivery after each one that finished (same endpoint and contact) is made due at
 * once when it is pending and not leased (a follower waits for this; see EVENT_FOLLOWER_WAIT_S);
 * an endpoint's `failing_since` is cleared by a 2xx and set by a failure,
 * and the endpoint is disabled (`enabled` false, `disabled_at`, `disabled_reason`) on a 410 or when every delivery
 * has failed for EVENT_DISABLE_AFTER_MS. Endpoint rows that change are locked in id order first (no deadlock
 * between batches).
 *
 * No lost wake: the next delivery is found in the statement's snapshot and updated without looking at its
 * `next_attempt_at` there, so a claim that put it off concurrently (it read the finished delivery FOR SHARE, so the
 * `done` update waits for that claim to commit) is seen: Postgres re-checks the row's latest version (pending, not
 * leased) before updating it. Only a follower recorded by a transaction that commits after this statement began is
 * not seen; it is due at its EVENT_FOLLOWER_WAIT_S.
 */
const COMPLETE_SQL = `
WITH r AS (
  SELECT * FROM unnest($1::uuid[], $2::timestamp[], $3::uuid[], $4::uuid[], $5::bigint[], $6::int[], $7::int[], $8::text[], $9::text[], $10::int[])
    AS r(id, leased_until, endpoint_id, contact_id, seq, status, latency_ms, error, outcome, delay_ms)
), done AS (
  -- A lease is only ever set on a pending delivery and cleared when it ends: a matching lease means pending.
  -- The log entry's time is last_attempt_at's value (as Prisma reads a timestamp column: UTC).
  UPDATE event_deliveries d SET
    attempts = d.attempts + 1, last_attempt_at = now(), last_status = r.status, last_error = r.error, leased_until = NULL,
    attempt_log = CASE WHEN jsonb_array_length(d.attempt_log) >= ${EVENT_ATTEMPT_LOG_MAX} THEN d.attempt_log - 0 ELSE d.attempt_log END
      || jsonb_build_array(jsonb_build_object('at', to_char(now()::timestamp(3), 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'status_code', r.status, 'latency_ms', r.latency_ms, 'error', r.error)),
    state = CASE r.outcome WHEN 'delivered' THEN 'delivered' WHEN 'failed' THEN 'failed' ELSE 'pending' END,
    delivered_at = CASE WHEN r.outcome = 'delivered' THEN now() ELSE d.delivered_at END,
    failed_at = CASE WHEN r.outcome = 'failed' THEN now() ELSE d.failed_at END,
    next_attempt_at = CASE WHEN r.outcome IN ('retry', 'gone') THEN now() + make_interval(secs => r.delay_ms / 1000.0) ELSE d.next_attempt_at END
  FROM r WHERE d.id = r.id AND d.leased_until = r.leased_until
  RETURNING d.id
), woke AS (
  UPDATE event_deliveries s SET next_attempt_at = LEAST(s.next_attempt_at, now())
  FROM (
    SELECT COALESCE(nc.id, nn.id) AS id
    FROM r JOIN done ON done.id = r.id
    LEFT JOIN LATERAL (
      SELECT n.id FROM event_deliveries n
      WHERE r.contact_id IS NOT NULL AND n.endpoint_id = r.endpoint_id AND n.contact_id = r.contact_id AND n.seq > r.seq
      ORDER BY n.seq LIMIT 1
    ) nc ON true
    LEFT JOIN LATERAL (
      SELECT n.id FROM event_deliveries n
      WHERE r.contact_id IS NULL AND n.endpoint_id = r.endpoint_id AND n.contact_id IS NULL AND n.seq > r.seq
      ORDER BY n.seq LIMIT 1
    ) nn ON true
    WHERE r.outcome IN ('delivered', 'failed')
  ) w
  -- Only after a result that was applied (reading \`done\` runs it first). A delivery being attempted (leased) is
  -- never made due; one of this batch is leased in the snapshot.
  WHERE s.id = w.id AND s.state = 'pending' AND s.leased_until IS NULL
  RETURNING 1
), ep AS (
  SELECT r.endpoint_id, bool_or(r.outcome = 'delivered') AS ok, bool_or(r.outcome = 'gone') AS gone,
    (array_agg(r.error ORDER BY r.seq DESC) FILTER (WHERE r.outcome <> 'delivered'))[1] AS error
  FROM r GROUP BY r.endpoint_id
), verdict AS (
  SELECT e.id, ep.ok, e.failing_since,
    CASE WHEN NOT e.enabled THEN NULL
         WHEN ep.gone THEN 'the endpoint answered 410 Gone'
         WHEN NOT ep.ok AND e.failing_since <= now() - make_interval(secs => $11::bigint / 1000.0)
           THEN format('every delivery failed since %s UTC (last error: %s)', to_char(e.failing_since, 'YYYY-MM-DD HH24:MI'), left(ep.error, 200))
    END AS disable_reason
  FROM event_endpoints e JOIN ep ON ep.endpoint_id = e.id
  -- Only endpoints that change are locked (a healthy endpoint's row is not touched).
  WHERE ep.ok AND e.failing_since IS NOT NULL
     OR NOT ep.ok AND (e.failing_since IS NULL OR e.enabled AND (ep.gone OR e.failing_since <= now() - make_interval(secs => $11::bigint / 1000.0)))
  ORDER BY e.id
  FOR UPDATE OF e
), endpoints AS (
  UPDATE event_endpoints e SET
    failing_since = CASE WHEN v.ok THEN NULL ELSE COALESCE(e.failing_since, now()) END,
    enabled = e.enabled AND v.disable_reason IS NULL,
    disabled_at = CASE WHEN v.disable_reason IS NOT NULL THEN now() ELSE e.disabled_at END,
    disabled_reason = COALESCE(v.disable_reason, e.disabled_reason),
    updated_at = now()
  FROM verdict v
  WHERE e.id = v.id
  RETURNING e.id, v.disable_reason
)
SELECT (SELECT coalesce(array_agg(id), '{}') FROM done) AS applied, (SELECT count(*) FROM woke)::int AS woke,
  (SELECT coalesce(json_agg(json_build_object('id', id, 'reason', disable_reason)), '[]') FROM endpoints WHERE disable_reason IS NOT NULL) AS disabled`;

/** What a batch of completions changed. */
export interface CompleteResult {
  /** Deliveries whose lease still held (their state moved). */
  applied: Set<string>;
  /** Endpoints this batch disabled, with the reason. */
  disabled: { id: string; reason: string }[];
  /** Deliveries made due at once because the one before them finished. */
  woke: number;
}

/** The dispatcher's queries. */
@Injectable()
export class DeliveryStore {
  private settings!: StoreSettings;

  constructor(private readonly prisma: PrismaService) {}

  /** Sets lease, per-endpoint limit and disable delay (from the environment, at boot). */
  configure(settings: StoreSettings): void {
    this.settings = settings;
  }

  /** Subscribes a dedicated connection to the outbox's wake-ups (NOTIFY on EVENTS_CHANNEL). */
  async listen(client: PoolClient): Promise<void> {
    await client.query(`LISTEN ${EVENTS_CHANNEL}`);
  }

  /** True when some pending delivery is due (the idle poll: one indexed probe). */
  async anyDue(): Promise<boolean> {
    const { rows } = await this.prisma.pool.query<{ due: boolean }>({
      name: 'event-any-due',
      text: `SELECT EXISTS (SELECT 1 FROM event_deliveries WHERE state = 'pending' AND next_attempt_at <= now() AND (leased_until IS NULL OR leased_until <= now())) AS due`,
    });
    return rows[0]?.due ?? false;
  }

  /** Leases deliveries that may go now (see CLAIM_SQL). */
  async claim(req: ClaimRequest): Promise<ClaimResult> {
    const { leaseMs, perEndpoint } = this.settings;
    const loads = [...req.loads];
    const { rows } = await this.prisma.pool.query<ClaimedDelivery & { parkedCount: number }>({
      // Batch statements (claim, release, complete, wake): unnamed (libs/db/README.md).
      text: CLAIM_SQL,
      values: [
        req.scan,
        req.free,
        perEndpoint,
        loads.map(([id]) => id),
        loads.map(([, l]) => l.room),
        loads.map(([, l]) => Math.round(l.latencyMs)),
        leaseMs,
        req.defaultRoom,
        loads.map(([, l]) => l.held),
        req.defaultHorizonMs,
        loads.map(([, l]) => Math.round(l.horizonMs)),
      ],
    });
    // One row with a null id when nothing was leased (the count is still there).
    const deliveries = rows.filter((r) => r.id !== null).map(({ parkedCount: _, ...d }) => d);
    return { deliveries, parked: rows[0]?.parkedCount ?? 0 };
  }

  /** Gives leased deliveries back at once (due now), unless their lease has changed hands meanwhile. */
  async release(deliveries: ClaimedDelivery[]): Promise<void> {
    if (!deliveries.length) return;
    await this.prisma.pool.query({
      text: `UPDATE event_deliveries d SET leased_until = NULL
        FROM unnest($1::uuid[], $2::timestamp[]) AS r(id, leased_until)
        WHERE d.id = r.id AND d.state = 'pending' AND d.leased_until = r.leased_until`,
      values: [deliveries.map((d) => d.id), deliveries.map((d) => d.leasedUntil)],
    });
  }

  /** Records a batch of attempt results and wakes the deliveries after the finished ones (COMPLETE_SQL). */
  async complete(batch: Completion[]): Promise<CompleteResult> {
    const { rows } = await this.prisma.pool.query<{ applied: string[]; woke: number; disabled: { id: string; reason: string }[] }>({
      text: COMPLETE_SQL,
      values: [
        batch.map((c) => c.delivery.id),
        batch.map((c) => c.delivery.leasedUntil),
        batch.map((c) => c.delivery.endpointId),
        batch.map((c) => c.delivery.contactId),
        batch.map((c) => c.delivery.seq),
        batch.map((c) => c.status),
        batch.map((c) => c.latencyMs),
        batch.map((c) => c.error),
        batch.map((c) => c.outcome),
        batch.map((c) => Math.round(c.delayMs)),
        this.settings.disableAfterMs,
      ],
    });
    const applied = new Set(rows[0].applied);
    const woke = rows[0].woke;
    return { applied, disabled: rows[0].disabled, woke };
  }
}
