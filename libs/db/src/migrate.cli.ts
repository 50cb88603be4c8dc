#!/usr/bin/env node
/**
 * `pnpm migrate`: creates the database if missing and applies prisma/migrations without Prisma's native engine.
 * The Docker image runs `prisma migrate deploy` instead; both record history in `_prisma_migrations`.
 */
import { loadConfig } from '@gtc/config';
import { applyMigrations, ensureDatabase } from './migrate';

async function main(): Promise<void> {
  const { env } = loadConfig();
  const created = await ensureDatabase(env.DATABASE_URL);
  if (created) console.log(`created database ${new URL(env.DATABASE_URL).pathname.slice(1)}`);
  const { applied, alreadyApplied } = await applyMigrations(env.DATABASE_URL);
  console.log(`migrations: ${applied.length} applied${applied.length ? ` (${applied.join(', ')})` : ''}, ${alreadyApplied.length} already applied`);
}

main().catch((err: Error) => {
  console.error(`migrate failed: ${err.message}`);
  process.exit(1);
});
