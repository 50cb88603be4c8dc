import { z } from 'zod';

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const url = (fallback: string, protocols: string[]) =>
  z
    .string()
    .default(fallback)
    .refine((v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    }, `must be a URL (${protocols.join(' or ')})`);

/**
 * Every environment variable gtc reads, with its default and meaning. The README's configuration table,
 * docker-compose.yml and the compose check test are all held to this one list.
 */
export const envSchema = z.object({
  /** `development`, `test` or `production`. Production refuses development defaults for secrets. */
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  /** Postgres connection string. */
  DATABASE_URL: url('postgresql://localhost:5432/gtc', ['postgresql:', 'postgres:']),
  /** Most Postgres connections one process opens. */
  DATABASE_POOL_SIZE: positiveInt(10),
  /** Redis connection string (queues, limits, ordering gates). */
  REDIS_URL: url('redis://127.0.0.1:6379', ['redis:', 'rediss:']),
  /** Prefix of every Redis key gtc writes (lets several stacks or test runs share one Redis). */
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]+$/, 'letters, digits, :, _ or -').default('gtc'),
  /** 32-byte key (64 hex chars or base64) for AES-256-GCM encryption of provider secrets. */
  SECRETS_KEY: z.string().optional(),
  /** Bootstrap admin API key (at least 16 characters; 32 in production). */
  ADMIN_API_KEY: z.string().min(16, 'at least 16 characters').optional(),
  /** Base URL of Meta's Graph API (graph-sim's URL in compose and `pnpm start`). */
  GRAPH_API_BASE_URL: url('https://graph.facebook.com', ['http:', 'https:']),
  /** Public base URL of ingress, used when a provider does not set its own (default: http://localhost:<INGRESS_PORT>). */
  PUBLIC_BASE_URL: url('http://localhost:3000', ['http:', 'https:']),
  /** Log level: trace, debug, info, warn, error, fatal or silent. */
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /** Human-readable logs instead of JSON lines. */
  LOG_PRETTY: bool(false),
  /** Address the /health and /metrics server of the workers (flow-runner, sender, event-dispatcher) listens on. */
  METRICS_HOST: z.string().regex(/^[0-9A-Za-z.:_-]+$/, 'an IP address or host name').default('127.0.0.1'),
  /** Bearer token a scraper on another machine presents for /metrics (loopback peers need none; unset = loopback only). */
  METRICS_TOKEN: z.string().min(16, 'at least 16 characters').optional(),
  /** Failed authentications (missing or wrong key) one client address may make per AUTH_FAILURE_WINDOW_MS before 429. */
  AUTH_FAILURE_LIMIT: positiveInt(30),
  /** Window of AUTH_FAILURE_LIMIT, in ms. */
  AUTH_FAILURE_WINDOW_MS: positiveInt(60_000),
  /** Port of ingress. */
  INGRESS_PORT: port(3000),
  /** Port of the admin API. */
  ADMIN_PORT: port(3001),
  /** Port of graph-sim. */
  GRAPH_SIM_PORT: port(3002),
  /** Port of flow-runner's /health and /metrics. */
  FLOW_RUNNER_PORT: port(3010),
  /** Port of sender's /health and /metrics (0 = any free port, for replicas). */
  SENDER_PORT: port(3020),
  /** Largest webhook body ingress accepts, in bytes (Meta sends up to ~3 MB). */
  INGRESS_BODY_LIMIT_BYTES: positiveInt(4 * 1024 * 1024),
  /**
   * Most webhook body bytes ingress reads at once (each request counts its declared length, or the body limit when it
   * declares none); beyond it a webhook waits in line, unread, and gets 503 with Retry-After (which Meta retries) if
   * no room came within INGRESS_BODY_WAIT_MS. Bounds ingress's memory: a webhook being read and recorded holds several
   * times its bytes (256 connections posting webhooks of 100 statuses: peak RSS 179 MB with 8 MiB, 203 with 32).
   */
  INGRESS_BODIES_IN_FLIGHT_BYTES: positiveInt(8 * 1024 * 1024),
  /** How long a webhook waits in line, its body unread, for room under INGRESS_BODIES_IN_FLIGHT_BYTES before it gets 503, in ms. */
  INGRESS_BODY_WAIT_MS: positiveInt(2_000),
  /** Time given to in-flight requests and jobs on SIGTERM, in ms. */
  SHUTDOWN_TIMEOUT_MS: positiveInt(10_000),
  /** Inbound jobs processed in parallel by one flow-runner (different contacts). */
  FLOW_RUNNER_CONCURRENCY: positiveInt(8),
  /**
   * Threads that run the flow engine in one flow-runner. One keeps up with its event loop (a step's engine work is a
   * fraction of its database and queue work) and each more holds about 30 MB under load; more threads let steps of
   * other contacts go on beside a slow one (each has a 2 s budget). To use more cores, run more flow-runners.
   */
  FLOW_ENGINE_THREADS: z.coerce.number().int().min(1).max(8).default(1),
  /** Outbound jobs processed in parallel by one sender. */
  SENDER_CONCURRENCY: positiveInt(32),
  /** Timeout of one Graph API request, in ms. */
  GRAPH_API_TIMEOUT_MS: positiveInt(10_000),
  /** How long a send with an unknown outcome waits for a status webhook before it is retried, in ms. */
  UNKNOWN_SEND_RECONCILE_MS: positiveInt(120_000),
  /** Attempts for transient failures before a message is failed. */
  SEND_MAX_ATTEMPTS: positiveInt(8),
  /** Moving window of the tier limit, in seconds (24 h; shorter only for tests). */
  TIER_WINDOW_SECONDS: positiveInt(86_400),
  /** Daily limits of tiers 1, 2 and 3, comma-separated (the provider docs' numbers by default). */
  TIER_LIMITS: z
    .string()
    .default('1000,10000,100000')
    .refine((v) => /^\d+,\d+,\d+$/.test(v), 'three whole numbers separated by commas, e.g. 1000,10000,100000'),
  /** Tier counting rule: "messages" (every business message) or "recipients" (unique business-initiated recipients). */
  TIER_COUNTING: z.enum(['messages', 'recipients']).default('messages'),
  /** Per-recipient pair limit: messages allowed per PAIR_RATE_WINDOW_MS to one user. */
  PAIR_RATE_LIMIT: positiveInt(10),
  /** Window of the per-recipient pair limit, in ms. */
  PAIR_RATE_WINDOW_MS: positiveInt(6_000),
  /** Safety margin added to the tier and pair limit windows, in ms: absorbs jitter between our clock and Meta's count. */
  LIMIT_MARGIN_MS: z.coerce.number().int().min(0).max(60_000).default(200),
  /** Sends of a number are paced at this fraction of its throughput limit, so that they leave evenly with room for jitter. */
  THROUGHPUT_PACE: z.coerce.number().gt(0).max(1).default(0.96),
  /** Margin of the throughput limit's hard cap, in ms: actual sends at least (1000 + this) / limit ms apart, so at most the limit in any (1000 + this) ms (a request leaving more than half of it after its slot takes its slot again). THROUGHPUT_PACE may be at most 1000 / (1000 + this). */
  THROUGHPUT_MARGIN_MS: z.coerce.number().int().min(0).max(1_000).default(30),
  /** Interval of the reconciler that re-enqueues unfinished rows, in ms. */
  RECONCILE_INTERVAL_MS: positiveInt(5_000),
  /** Days processed messages and status events are kept. */
  RETENTION_DAYS: positiveInt(30),
  /** How often the retention job runs, in ms. */
  RETENTION_INTERVAL_MS: positiveInt(3_600_000),
  /** Create the demo tenant/team connected to graph-sim at start-up. */
  DEMO_SEED: bool(false),
  /** Port of event-dispatcher's /health and /metrics. */
  EVENT_DISPATCHER_PORT: port(3030),
  /** Timeout of one event webhook delivery attempt (connect, answer and body), in ms. */
  EVENT_TIMEOUT_MS: positiveInt(10_000),
  /** Waits between the attempts of an event delivery, in ms, comma-separated (jittered; after the last, the delivery is failed). */
  EVENT_RETRY_SCHEDULE_MS: z
    .string()
    .default('5000,30000,120000,600000,1800000,7200000,21600000,43200000,86400000')
    .refine((v) => /^\d+(,\d+)*$/.test(v), 'whole numbers of ms separated by commas, e.g. 5000,30000,120000'),
  /** Deliver event webhooks to loopback, private, link-local, CGNAT and other non-public addresses (demo and tests only). */
  EVENT_ALLOW_PRIVATE_NETWORKS: bool(false),
  /** Event deliveries one event-dispatcher has in flight to one endpoint at once. */
  EVENT_ENDPOINT_CONCURRENCY: positiveInt(4),
  /** Event deliveries one event-dispatcher has in flight at once, all endpoints together. */
  EVENT_CONCURRENCY: positiveInt(64),
  /** An endpoint whose every delivery has failed for this long is disabled, in ms (3 days). */
  EVENT_DISABLE_AFTER_MS: positiveInt(3 * 24 * 3_600_000),
});

/** The raw validated environment. */
export type Env = z.infer<typeof envSchema>;
