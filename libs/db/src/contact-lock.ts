// The per-contact lock that makes a contact's flow steps strictly sequential across replicas: a transaction-level
// advisory lock, not a row lock, so that ingress can keep updating the contact row (name, last message time) while
// a step of that contact runs.

/** Advisory lock class ("gtc" + 1) of the contact locks; the key within it is a hash of the contact id. */
const CONTACT_LOCK_CLASS = 0x67746301;

/**
 * The two-int advisory key of the contact whose id is the SQL expression `id`, for pg_advisory_xact_lock and
 * pg_try_advisory_xact_lock. Two contacts may share a key (a hash): they then wait for each other, nothing more.
 */
export function contactLockKeySql(id: string): string {
  return `${CONTACT_LOCK_CLASS}, hashtext(${id}::text)`;
}
