// Transaction-level advisory locks: held until commit, kept in memory only (a row lock taken before an update is a
// WAL record of its own: issue 14).

/** Advisory lock class ("gtc" + 1) of the contact locks; the key within it is a hash of the contact id. */
const CONTACT_LOCK_CLASS = 0x67746301;

/**
 * Advisory lock classes ("gtc" + 2, + 3) of the batch locks, by the table whose rows they stand for; the key within
 * one is a hash of the row's id.
 */
const BATCH_LOCK_CLASS = { outbound_messages: 0x67746302, contacts: 0x67746303 } as const;

/**
 * The per-contact lock that makes a contact's flow steps strictly sequential across replicas: an advisory lock, not a
 * row lock, so that ingress can keep updating the contact row (name, last message time) while a step of that contact
 * runs. The two-int advisory key of the contact whose id is the SQL expression `id`, for pg_advisory_xact_lock and
 * pg_try_advisory_xact_lock. Two contacts may share a key (a hash): they then wait for each other, nothing more.
 */
export function contactLockKeySql(id: string): string {
  return `${CONTACT_LOCK_CLASS}, hashtext(${id}::text)`;
}

/**
 * A CTE body that takes the batch locks of `table`'s rows whose ids are in `from` (a relation with a uuid column
 * `column`), in key order. The statements that change several rows of that table at once (outbound messages: a batch
 * of statuses, a batch of sends' records; contacts: ingress's upsert, a flow step's or the admin's outbound write)
 * take them before their update, so that they never wait for each other in a circle (each waits for the locks in one
 * order, and then for no row another holds). Two rows may share a key (a hash): they then wait for each other,
 * nothing more. Make the update depend on it with `batchLocksTakenSql`, so that every lock is held before the first
 * row is changed.
 */
export function batchLocksSql(table: keyof typeof BATCH_LOCK_CLASS, from: string, column: string): string {
  return `SELECT pg_advisory_xact_lock(${BATCH_LOCK_CLASS[table]}, k) FROM (SELECT DISTINCT hashtext(${column}::text) AS k FROM ${from} ORDER BY 1) k`;
}

/** A condition, always true, that makes a statement take the locks of CTE `cte` (batchLocksSql) before anything else. */
export function batchLocksTakenSql(cte: string): string {
  return `(SELECT count(*) FROM ${cte}) >= 0`;
}
