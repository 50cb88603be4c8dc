/**
 * The text of a row id (a Postgres uuid): "the shape of our ids", as Postgres's `~*` and JavaScript's RegExp both read
 * it (case-insensitive). The migration 20261208000000_pending_statuses_index writes the same pattern in its index.
 */
export const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

const UUID_RE = new RegExp(UUID_PATTERN, 'i');

/** Whether a text has the shape of a row id (UUID_PATTERN). */
export function isUuid(text: string): boolean {
  return UUID_RE.test(text);
}
