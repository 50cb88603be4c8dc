import Redis from 'ioredis';
import { Client } from 'pg';
import type { TestProject } from 'vitest/node';
import { applyMigrations, ensureDatabase } from '../../db/src/migrate';
import { withDefaultUser } from '../../db/src/pg-url';
import { redactUrl, withDatabase } from './urls';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    redisUrl: string;
    redisPrefix: string;
  }
}

async function checkPostgres(url: string): Promise<void> {
  const client = new Client({ connectionString: withDefaultUser(withDatabase(url, 'postgres')), connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw new Error(`Postgres is not reachable at ${redactUrl(url)} (DATABASE_URL): ${(err as Error).message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function checkRedis(url: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(`Redis is not reachable at ${redactUrl(url)} (REDIS_URL): ${(err as Error).message}`);
  } finally {
    redis.disconnect();
  }
}

/**
 * Runs once per `pnpm test`: checks Postgres and Redis (failing at once with the URL if either is down),
 * creates a database of the run's own with migrations applied, and a Redis key prefix of its own; removes both after.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const baseDb = process.env.DATABASE_URL ?? 'postgresql://localhost:5432/gtc';
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  await Promise.all([checkPostgres(baseDb), checkRedis(redisUrl)]);

  const runId = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  const databaseUrl = withDatabase(baseDb, `gtc_test_${runId}`);
  const redisPrefix = `gtc-test-${runId}`;
  await ensureDatabase(databaseUrl);
  await applyMigrations(databaseUrl);
  project.provide('databaseUrl', databaseUrl);
  project.provide('redisUrl', redisUrl);
  project.provide('redisPrefix', redisPrefix);

  return async () => {
    const admin = new Client({ connectionString: withDefaultUser(withDatabase(baseDb, 'postgres')) });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "gtc_test_${runId}" WITH (FORCE)`);
    await admin.end();
    const redis = new Redis(redisUrl);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    redis.disconnect();
  };
}
