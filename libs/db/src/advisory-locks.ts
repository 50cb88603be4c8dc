// Transaction-level advisory locks: held until commit, kept in memory only (a row lock taken before an update is a
// WAL record of its own: issue 14).

/** Advisory lock class ("gtc" + 1) of the contact locks; the key within it is a hash of the contact id. */
const CONTACT_LOCK_CLASS = 0x67746301;

/** Advisory lock class ("gtc" + 2) of the outbound message locks; the key within it is a hash of the message id. */
const OUTBOUND_LOCK_CLASS = 0x67746302;

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
 * A CTE body that takes the outbound message locks of the ids in `from` (a relation with a uuid column `column`), in
 * key order: the statements that change several messages at once (a batch of statuses, a batch of sends' records)
 * take them before their update, so that they never wait for each other in a circle (each waits for the locks in one
 * order, and then for no row another holds). Two messages may share a key (a hash): they then wait for each other,
 * nothing more. Make the update depend on it with `outboundLocksTakenSql`, so that every lock is held before the first
 * row is changed.
 */
export function outboundLocksSql(from: string, column: string): string {
  return `SELECT pg_advisory_xact_lock(${OUTBOUND_LOCK_CLASS}, k) FROM (SELECT DISTINCT hashtext(${column}::text) AS k FROM ${from} ORDER BY 1) k`;
}

/** A condition, always true, that makes a statement take the locks of CTE `cte` (outboundLocksSql) before anything else. */
export function outboundLocksTakenSql(cte: string): string {
  return `(SELECT count(*) FROM ${cte}) >= 0`;
}
