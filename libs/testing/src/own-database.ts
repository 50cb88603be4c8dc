// Each of these e2e files gets a database of its own (cloned schema from the migrations), so that counting rows
// is exact even when other test files run at the same time against the run's shared database.
import { applyMigrations, createPrismaClient, ensureDatabase } from '@gtc/db';
import { testEnv } from './test-env';
import { withDatabase } from './urls';

/** Creates `<run database>_<suffix>` with migrations applied; returns its URL and a function that drops it. */
export async function ownDatabase(suffix: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = testEnv().databaseUrl;
  const name = `${new URL(base).pathname.slice(1)}_${suffix}`;
  const url = withDatabase(base, name);
  await ensureDatabase(url);
  await applyMigrations(url);
  return {
    url,
    drop: async () => {
      const admin = createPrismaClient(base, { max: 1 });
      try {
        await admin.$executeRawUnsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await admin.$disconnect();
      }
    },
  };
}
