// What Postgres cannot store in text and jsonb: the NUL character, and lone UTF-16 surrogates (not valid UTF-8).
// One definition for every boundary: the admin API refuses such text (400), ingress escapes it reversibly.

/** NUL or a lone surrogate, anywhere in a string. */
export const UNSTORABLE_CHAR = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** True when Postgres can store the string (in text or inside jsonb): no NUL character, no lone surrogate. */
export function isPgText(value: string): boolean {
  return !UNSTORABLE_CHAR.test(value);
}
