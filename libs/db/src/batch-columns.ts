/**
 * The values of a batch statement: the rows as one array per key, in `keys`' order (`$1` the first key's values,
 * …), for a text that `unnest`s them (`unnest($1::uuid[], $2::text[], …)`). A key whose value is undefined in a
 * row binds NULL there.
 */
export function columns<T, K extends keyof T>(rows: readonly T[], keys: readonly K[]): T[K][][] {
  return keys.map((k) => rows.map((r) => r[k]));
}
