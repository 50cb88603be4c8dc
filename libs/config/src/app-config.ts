import { createHash } from 'node:crypto';
import { z } from 'zod';
import { Env, envSchema } from './env.schema';

/** A missing or bad environment variable; its message names every offending variable. */
export class ConfigError extends Error {
  constructor(readonly issues: { variable: string; message: string }[]) {
    super(
      `Invalid configuration:\n${issues.map((i) => `  ${i.variable}: ${i.message}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

/** The typed configuration every service receives (the DI token is this class). */
export abstract class AppConfig {
  abstract readonly env: Env;
  /** 32-byte key for secrets at rest. */
  abstract readonly secretsKey: Buffer;
  abstract readonly adminApiKey: string;
  /** Warnings about development defaults in use, logged at boot. */
  abstract readonly warnings: string[];
}

const DEV_ADMIN_KEY = 'dev-admin-key-change-me-before-production';

/** The METRICS_TOKEN docker-compose.yml gives the demo (and its Prometheus): public, so refused in production. */
const DEV_METRICS_TOKEN = 'dev-metrics-token-change-me';
/** Shortest bootstrap admin key production accepts (the bootstrap key opens every tenant). */
const MIN_PRODUCTION_ADMIN_KEY_LENGTH = 32;

function parseSecretsKey(raw: string): Buffer | null {
  if (/^[0-9a-fA-F]{64}$/.test(raw)) return Buffer.from(raw, 'hex');
  const b = Buffer.from(raw, 'base64');
  return b.length === 32 ? b : null;
}

/**
 * Validates the environment into an AppConfig. Throws ConfigError naming each bad variable.
 * Outside production, a missing SECRETS_KEY or ADMIN_API_KEY gets a development default and a warning.
 */
/** SECRETS_KEY values published in this repository's history: refused in production. */
const PUBLIC_SECRETS_KEYS = ['0000000000000000000000000000000000000000000000000000000000000001'];

export function loadConfig(source: Record<string, string | undefined> = process.env): AppConfig {
  // Empty strings count as unset, as in most twelve-factor tooling.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i: z.core.$ZodIssue) => ({ variable: String(i.path[0] ?? '?'), message: i.message })),
    );
  }
  const env = parsed.data;
  // Every URL a process derives follows the port variables: ingress's public URL follows INGRESS_PORT.
  if (!cleaned.PUBLIC_BASE_URL) env.PUBLIC_BASE_URL = `http://localhost:${env.INGRESS_PORT}`;
  const warnings: string[] = [];
  const issues: { variable: string; message: string }[] = [];
  const production = env.NODE_ENV === 'production';

  let secretsKey: Buffer;
  if (env.SECRETS_KEY) {
    const key = parseSecretsKey(env.SECRETS_KEY);
    if (!key) issues.push({ variable: 'SECRETS_KEY', message: 'must be 32 bytes as 64 hex characters or base64' });
    secretsKey = key ?? Buffer.alloc(32);
  } else if (production) {
    issues.push({ variable: 'SECRETS_KEY', message: 'required in production' });
    secretsKey = Buffer.alloc(32);
  } else {
    warnings.push('SECRETS_KEY is not set: using an insecure development key. Never do this in production.');
    secretsKey = createHash('sha256').update('gtc-development-secrets-key').digest();
  }

  let adminApiKey = env.ADMIN_API_KEY ?? '';
  if (!adminApiKey) {
    if (production) issues.push({ variable: 'ADMIN_API_KEY', message: 'required in production' });
    else {
      warnings.push(`ADMIN_API_KEY is not set: using the development key "${DEV_ADMIN_KEY}".`);
      adminApiKey = DEV_ADMIN_KEY;
    }
  } else if (production && adminApiKey.length < MIN_PRODUCTION_ADMIN_KEY_LENGTH) {
    issues.push({ variable: 'ADMIN_API_KEY', message: `at least ${MIN_PRODUCTION_ADMIN_KEY_LENGTH} characters in production` });
  } else if (production && adminApiKey === DEV_ADMIN_KEY) {
    issues.push({ variable: 'ADMIN_API_KEY', message: 'the public development key is not allowed in production' });
  }
  if (production && env.METRICS_TOKEN === DEV_METRICS_TOKEN) {
    issues.push({ variable: 'METRICS_TOKEN', message: "the demo compose file's public token is not allowed in production" });
  }
  if (production && env.SECRETS_KEY && PUBLIC_SECRETS_KEYS.includes(env.SECRETS_KEY.toLowerCase())) {
    issues.push({ variable: 'SECRETS_KEY', message: 'a publicly known key (a former compose default) is not allowed in production' });
  }
  if (env.INGRESS_BODIES_IN_FLIGHT_BYTES < env.INGRESS_BODY_LIMIT_BYTES) {
    issues.push({ variable: 'INGRESS_BODIES_IN_FLIGHT_BYTES', message: `at least INGRESS_BODY_LIMIT_BYTES (${env.INGRESS_BODY_LIMIT_BYTES}), or a body of that size is never accepted` });
  }
  // The plan may not lie closer together than the send log's spacing ((1000 + margin) / mps), or a busy number's
  // backlog would grow without end, each send pushed past its plan.
  const fastestPace = 1000 / (1000 + env.THROUGHPUT_MARGIN_MS);
  if (env.THROUGHPUT_PACE > fastestPace) {
    issues.push({ variable: 'THROUGHPUT_PACE', message: `at most 1000 / (1000 + THROUGHPUT_MARGIN_MS) = ${fastestPace.toFixed(4)}, or sends are planned faster than they may leave` });
  }
  if (issues.length) throw new ConfigError(issues);
  return { env, secretsKey, adminApiKey, warnings };
}
