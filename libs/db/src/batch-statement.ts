import { createHash } from 'node:crypto';
import type { QueryConfig } from 'pg';

/**
 * The values of a batch statement: the rows as one array per key, in `keys`' order (`$1` the first key's values,
 * …), for a text that `unnest`s them (`unnest($1::uuid[], $2::text[], …)`). A key whose value is undefined in a
 * row binds NULL there.
 */
export function columns<T, K extends keyof T>(rows: readonly T[], keys: readonly K[]): T[K][][] {
  return keys.map((k) => rows.map((r) => r[k]));
}

/**
 * Rows (the longest array of a batch's values) up to which batchStatement names a statement. A generic plan takes
 * each `unnest` for 10 rows and may join CTEs in nested loops, whose work grows with the square of the batch: up to
 * this size that costs less than planning the statement again (BENCH=e2e, pg_stat_statements: planning was about a
 * fifth of Postgres's time before, execution took no longer after).
 */
export const NAMED_BATCH_MAX_ROWS = 128;

const namesByText = new Map<string, string>();

/**
 * A hot-path batch statement (libs/db/README.md, "Naming statements"): named `batch-<digest of its text>` while its
 * batch holds at most NAMED_BATCH_MAX_ROWS rows, so that each connection parses it once and Postgres may reuse one
 * generic plan instead of planning every call; unnamed above, planned for its real size. `text` must be one of a
 * fixed set (a module constant, or built from a few): each distinct text is a prepared statement on every connection.
 */
export function batchStatement(text: string, values: unknown[]): QueryConfig {
  let rows = 0;
  for (const v of values) if (Array.isArray(v) && v.length > rows) rows = v.length;
  if (rows > NAMED_BATCH_MAX_ROWS) return { text, values };
  let name = namesByText.get(text);
  if (name === undefined) {
    name = `batch-${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    namesByText.set(text, name);
  }
  return { name, text, values };
}
