import { defineConfig } from 'prisma/config';

/** Prisma CLI configuration: the schema, its migrations and the database to migrate. */
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost:5432/gtc' },
});
