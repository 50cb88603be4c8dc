import { userInfo } from 'node:os';

/**
 * The Postgres URL with a user filled in when it names none, as libpq does (the OS user):
 * `postgresql://localhost:5432/gtc` then works out of the box with local trust auth.
 */
export function withDefaultUser(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  if (!url.username) url.username = process.env.PGUSER || process.env.USER || userInfo().username;
  return url.toString();
}
