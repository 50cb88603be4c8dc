import { inject } from 'vitest';

/** The run's isolated Postgres database, Redis URL and Redis key prefix (set up by global-setup). */
export function testEnv(): { databaseUrl: string; redisUrl: string; redisPrefix: string } {
  return { databaseUrl: inject('databaseUrl'), redisUrl: inject('redisUrl'), redisPrefix: inject('redisPrefix') };
}
