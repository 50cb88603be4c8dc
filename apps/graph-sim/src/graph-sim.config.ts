import { isRecord } from '@gtc/whatsapp';
import { z } from 'zod';

// graph-sim's own settings. Every knob of the simulation lives in one `SimConfig` object: its start value comes
// from GRAPH_SIM_* environment variables (validated here, a bad one stops the process naming the variable) and
// it is changed at run time with `POST /sim/config` (partial, deep-merged) and restored by `POST /sim/reset`.

const probability = z.number().min(0).max(1);
const ms = z.number().int().min(0);

/** A send-time error rule: the next `count` sends (or each send with `probability`) matching the filters fail. */
export const sendErrorRuleSchema = z
  .object({
    /** HTTP status of the error answer, e.g. 500, 400, 401, 429; by default the one Meta answers the code with. */
    http_status: z.number().int().min(400).max(599).optional(),
    /** Graph `error.code`, e.g. 131000, 131047, 190, 130429, 131031 (any code of @gtc/whatsapp's GRAPH_ERROR_CODES). */
    code: z.number().int(),
    /** `error.error_subcode`, when Meta sets one. */
    error_subcode: z.number().int().optional(),
    /** `error.message`; defaults to Meta's text for the code. */
    message: z.string().optional(),
    /** `error.error_data.details`; defaults to Meta's text for the code. */
    details: z.string().optional(),
    /** How many matching sends fail; absent = unlimited (use with `probability`). */
    count: z.number().int().positive().optional(),
    /** Chance that a matching send fails (default 1). */
    probability: probability.default(1),
    /** Only sends to these recipients. */
    to: z.array(z.string()).optional(),
    /** Only sends from this phone number id. */
    phone_number_id: z.string().optional(),
  })
  .strict();

/** One send-time error rule. */
export type SendErrorRule = z.infer<typeof sendErrorRuleSchema>;

/** Every knob of the simulator (see README.md for each one). */
export const simConfigSchema = z
  .object({
    /** Seed of the deterministic RNG behind every probability and jitter. */
    seed: z.number().int(),
    /** Delay before answering a Graph API send, in ms. */
    response_latency_ms: ms,
    /** Delay of each status after the send was accepted, in ms. */
    status_latency_ms: z.object({ sent: ms, delivered: ms, read: ms }).strict(),
    /** Random extra delay (0..jitter) added to each status, in ms. */
    status_jitter_ms: ms,
    /** Chance that a delivered message is also read. */
    read_probability: probability,
    /** Chance that a message's `delivered` is emitted before its `sent`. */
    reorder_probability: probability,
    /** Chance that a webhook POST is sent twice (same bytes). */
    duplicate_probability: probability,
    /** Chance that the first attempt of a webhook is lost (not sent; redelivered after the retry delay). */
    loss_probability: probability,
    /** Recipients whose phones are off: they get `sent` only; `delivered`/`read` follow when they leave this list. */
    offline: z.array(z.string()),
    /** Failed deliveries: a `failed` status with this error instead of `delivered`. */
    fail: z
      .object({
        recipients: z.array(z.string()),
        probability,
        code: z.number().int(),
        title: z.string(),
        message: z.string(),
        details: z.string(),
      })
      .strict(),
    /** Send-time errors, tried in order; a rule whose `count` runs out is removed. */
    send_errors: z.array(sendErrorRuleSchema),
    /** Throughput limit per phone number, messages per second (0 = off); over it: 400 / 130429. */
    throughput_mps: z.number().int().min(0),
    /** Pair rate limit: at most `max` messages to one recipient per `window_ms` (max 0 = off); over it: 400 / 131056. */
    pair_limit: z.object({ max: z.number().int().min(0), window_ms: z.number().int().positive() }).strict(),
    /** 24-hour window: when enforced, a non-template message to a user silent for `seconds` fails with 131047. */
    window: z.object({ enforce: z.boolean(), seconds: z.number().int().positive() }).strict(),
    /** Check template sends against the template list (132001 unknown, 132000 parameter count). */
    validate_templates: z.boolean(),
    /** Webhook delivery: retries with exponential backoff, timeouts, concurrency, status batching. */
    webhook: z
      .object({
        retry_base_ms: z.number().int().positive(),
        retry_max_ms: z.number().int().positive(),
        max_attempts: z.number().int().positive(),
        max_age_ms: z.number().int().positive(),
        timeout_ms: z.number().int().positive(),
        concurrency: z.number().int().positive(),
        batch_window_ms: ms,
        batch_max: z.number().int().positive(),
      })
      .strict(),
    /** Inbound messages of one number carried per webhook by /sim/inbound/batch (1 = one webhook each). */
    inbound_batch_size: z.number().int().positive(),
    /** Most sent messages kept for inspection; the oldest are forgotten. */
    max_messages: z.number().int().positive(),
  })
  .strict();

/** The simulator's knobs. */
export type SimConfig = z.infer<typeof simConfigSchema>;

const int = (fallback: number) => z.coerce.number().int().min(0).default(fallback);
const prob = z.coerce.number().min(0).max(1).default(0);
const list = z
  .string()
  .default('')
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean));
const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** GRAPH_SIM_* environment variables: the start values of the knobs (documented in README.md). */
export const graphSimEnvSchema = z.object({
  GRAPH_SIM_SEED: z.coerce.number().int().default(42),
  GRAPH_SIM_RESPONSE_LATENCY_MS: int(0),
  GRAPH_SIM_STATUS_SENT_MS: int(20),
  GRAPH_SIM_STATUS_DELIVERED_MS: int(60),
  GRAPH_SIM_STATUS_READ_MS: int(150),
  GRAPH_SIM_STATUS_JITTER_MS: int(0),
  GRAPH_SIM_READ_PROBABILITY: z.coerce.number().min(0).max(1).default(1),
  GRAPH_SIM_REORDER_PROBABILITY: prob,
  GRAPH_SIM_DUPLICATE_PROBABILITY: prob,
  GRAPH_SIM_LOSS_PROBABILITY: prob,
  GRAPH_SIM_OFFLINE: list,
  GRAPH_SIM_FAIL_RECIPIENTS: list,
  GRAPH_SIM_FAIL_PROBABILITY: prob,
  GRAPH_SIM_FAIL_CODE: z.coerce.number().int().default(131026),
  GRAPH_SIM_THROUGHPUT_MPS: int(0),
  GRAPH_SIM_PAIR_LIMIT: int(0),
  GRAPH_SIM_PAIR_WINDOW_MS: z.coerce.number().int().positive().default(6000),
  GRAPH_SIM_ENFORCE_WINDOW: bool(false),
  GRAPH_SIM_WINDOW_SECONDS: z.coerce.number().int().positive().default(86_400),
  GRAPH_SIM_VALIDATE_TEMPLATES: bool(true),
  GRAPH_SIM_WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().positive().default(500),
  GRAPH_SIM_WEBHOOK_RETRY_MAX_MS: z.coerce.number().int().positive().default(30_000),
  GRAPH_SIM_WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().positive().default(50),
  GRAPH_SIM_WEBHOOK_MAX_AGE_MS: z.coerce.number().int().positive().default(3_600_000),
  GRAPH_SIM_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  GRAPH_SIM_WEBHOOK_CONCURRENCY: z.coerce.number().int().positive().default(256),
  GRAPH_SIM_WEBHOOK_BATCH_WINDOW_MS: int(0),
  GRAPH_SIM_WEBHOOK_BATCH_MAX: z.coerce.number().int().positive().default(100),
  GRAPH_SIM_INBOUND_BATCH_SIZE: z.coerce.number().int().positive().default(1),
  GRAPH_SIM_MAX_MESSAGES: z.coerce.number().int().positive().default(200_000),
  GRAPH_SIM_DEFAULT_WABA_ID: z.string().regex(/^\d+$/, 'digits only').default('102290129340398'),
  GRAPH_SIM_PUBLIC_URL: z.string().url().optional(),
});

/** Validated GRAPH_SIM_* settings. */
export type GraphSimEnv = z.infer<typeof graphSimEnvSchema>;

/** Reads and validates GRAPH_SIM_* variables; throws an Error naming every bad variable. */
export function loadGraphSimEnv(env: NodeJS.ProcessEnv = process.env): GraphSimEnv {
  const parsed = graphSimEnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid graph-sim configuration:\n  ${lines.join('\n  ')}`);
  }
  return parsed.data;
}

/** The knobs' start values, from the environment. */
export function defaultSimConfig(env: GraphSimEnv): SimConfig {
  return {
    seed: env.GRAPH_SIM_SEED,
    response_latency_ms: env.GRAPH_SIM_RESPONSE_LATENCY_MS,
    status_latency_ms: {
      sent: env.GRAPH_SIM_STATUS_SENT_MS,
      delivered: env.GRAPH_SIM_STATUS_DELIVERED_MS,
      read: env.GRAPH_SIM_STATUS_READ_MS,
    },
    status_jitter_ms: env.GRAPH_SIM_STATUS_JITTER_MS,
    read_probability: env.GRAPH_SIM_READ_PROBABILITY,
    reorder_probability: env.GRAPH_SIM_REORDER_PROBABILITY,
    duplicate_probability: env.GRAPH_SIM_DUPLICATE_PROBABILITY,
    loss_probability: env.GRAPH_SIM_LOSS_PROBABILITY,
    offline: env.GRAPH_SIM_OFFLINE,
    fail: {
      recipients: env.GRAPH_SIM_FAIL_RECIPIENTS,
      probability: env.GRAPH_SIM_FAIL_PROBABILITY,
      code: env.GRAPH_SIM_FAIL_CODE,
      title: 'Message undeliverable',
      message: 'Message undeliverable',
      details: 'Message failed to send because the recipient could not be reached.',
    },
    send_errors: [],
    throughput_mps: env.GRAPH_SIM_THROUGHPUT_MPS,
    pair_limit: { max: env.GRAPH_SIM_PAIR_LIMIT, window_ms: env.GRAPH_SIM_PAIR_WINDOW_MS },
    window: { enforce: env.GRAPH_SIM_ENFORCE_WINDOW, seconds: env.GRAPH_SIM_WINDOW_SECONDS },
    validate_templates: env.GRAPH_SIM_VALIDATE_TEMPLATES,
    webhook: {
      retry_base_ms: env.GRAPH_SIM_WEBHOOK_RETRY_BASE_MS,
      retry_max_ms: env.GRAPH_SIM_WEBHOOK_RETRY_MAX_MS,
      max_attempts: env.GRAPH_SIM_WEBHOOK_MAX_ATTEMPTS,
      max_age_ms: env.GRAPH_SIM_WEBHOOK_MAX_AGE_MS,
      timeout_ms: env.GRAPH_SIM_WEBHOOK_TIMEOUT_MS,
      concurrency: env.GRAPH_SIM_WEBHOOK_CONCURRENCY,
      batch_window_ms: env.GRAPH_SIM_WEBHOOK_BATCH_WINDOW_MS,
      batch_max: env.GRAPH_SIM_WEBHOOK_BATCH_MAX,
    },
    inbound_batch_size: env.GRAPH_SIM_INBOUND_BATCH_SIZE,
    max_messages: env.GRAPH_SIM_MAX_MESSAGES,
  };
}

/** Deep-merges a partial update into a config (objects merge, arrays and scalars replace); not validated. */
export function mergeConfig(base: unknown, patch: unknown): unknown {
  if (!isRecord(base) || !isRecord(patch)) return patch === undefined ? base : patch;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
    out[k] = Object.hasOwn(base, k) ? mergeConfig(base[k], v) : v;
  }
  return out;
}
