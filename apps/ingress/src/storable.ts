import { createHash } from 'node:crypto';
import { isPgText, UNSTORABLE_CHAR } from '@gtc/db';

/** Something in a webhook item that Postgres could not store as is, and what was stored instead. */
export interface StorageProblem {
  /** Where in the item, e.g. `raw.text.body`, `timestamp`, `wamid`. */
  path: string;
  /**
   * `escaped`: the string held NUL or a lone surrogate and was escaped (reversible with `restoreString`);
   * `too_deep`: a value nested deeper than Postgres can take was stored as its JSON text (or null if even that failed);
   * `timestamp_out_of_range`: replaced with the receive time; `key_too_long`: an indexed key replaced with its SHA-256.
   */
  problem: 'escaped' | 'too_deep' | 'timestamp_out_of_range' | 'key_too_long';
  /** The original value when short (a timestamp), else its size. */
  detail?: string;
}

/** NUL (Postgres text and jsonb refuse it) and lone surrogates (not UTF-8); `\` too, so the escape is reversible. */
const ESCAPED = new RegExp(`\\\\|${UNSTORABLE_CHAR.source}`, 'g');
/** Deeper JSON than this is kept as text: Postgres's jsonb parser (and JSON.stringify) recurse. */
const MAX_DEPTH = 64;
/** Btree index entries are limited to ~2.7 kB; real wamids, phone numbers and user ids are far shorter. */
const MAX_KEY_BYTES = 512;
/** A message or status dated more than this into the future is taken as received now. */
const MAX_FUTURE_SECONDS = 24 * 3600;

/** `s` with `\`, NUL and lone surrogates written as `\\` and `\uXXXX`; `restoreString` undoes it. */
export function escapeString(s: string): string {
  return s.replace(ESCAPED, (c) => (c === '\\' ? '\\\\' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

/** The inverse of `escapeString`: the exact original string. */
export function restoreString(s: string): string {
  return s.replace(/\\(\\|u([0-9a-f]{4}))/g, (_, c: string, hex?: string) => (hex ? String.fromCharCode(parseInt(hex, 16)) : c));
}

/**
 * A copy of a JSON-like value that Postgres can store in text and jsonb columns: strings and keys holding NUL
 * or lone surrogates escaped (only those strings), values nested deeper than jsonb takes kept as JSON text.
 * Each change is pushed to `problems`. Values that need nothing come back equal: an object as a copy of its top
 * level, its members shared with the original.
 */
export function storableJson(value: unknown, problems: StorageProblem[], path = '', depth = 0): unknown {
  // Nearly every webhook needs nothing: checked without building a path per value, and then copied one level
  // deep only (callers set top-level fields of the copy).
  if (!isStorable(value, depth)) return copyStorable(value, problems, path, depth);
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? { ...value } : value;
}

/** Whether a value needs no change at all (no string or key to escape, nothing too deep). */
function isStorable(value: unknown, depth: number): boolean {
  if (typeof value === 'string') return isPgText(value);
  if (value === null || typeof value !== 'object') return true;
  if (depth >= MAX_DEPTH) return false;
  if (Array.isArray(value)) {
    for (const v of value) if (!isStorable(v, depth + 1)) return false;
    return true;
  }
  for (const k in value) {
    if (!Object.hasOwn(value, k)) continue;
    if (!isPgText(k) || !isStorable((value as Record<string, unknown>)[k], depth + 1)) return false;
  }
  return true;
}

function copyStorable(value: unknown, problems: StorageProblem[], path: string, depth: number): unknown {
  if (typeof value === 'string') return storableText(value, problems, path);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) {
    let text: string | null = null;
    try {
      text = JSON.stringify(value);
    } catch {
      // Deeper than JSON.stringify's stack: kept only in the raw body.
    }
    problems.push({ path, problem: 'too_deep', detail: text === null ? 'not kept as text' : `${text.length} characters` });
    return text === null ? null : storableText(text, problems, path);
  }
  if (Array.isArray(value)) return value.map((v, i) => copyStorable(v, problems, `${path}[${i}]`, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const key = !isPgText(k) ? escapeString(k) : k;
    const here = path ? `${path}.${key}` : key;
    if (key !== k) problems.push({ path: here, problem: 'escaped', detail: 'key' });
    out[key] = copyStorable(v, problems, here, depth + 1);
  }
  return out;
}

/** `s` itself, or escaped (and noted in `problems`) when it holds NUL or a lone surrogate. */
export function storableText(s: string, problems: StorageProblem[], path: string): string {
  if (isPgText(s)) return s;
  problems.push({ path, problem: 'escaped' });
  return escapeString(s);
}

/** An indexed key (wamid, wa_id, …) short enough for its index: longer ones become `sha256:<hex>`, the same each time. */
export function storableKey(key: string, problems: StorageProblem[], path: string): string {
  const bytes = Buffer.byteLength(key);
  if (bytes <= MAX_KEY_BYTES) return key;
  problems.push({ path, problem: 'key_too_long', detail: `${bytes} bytes` });
  return `sha256:${createHash('sha256').update(key).digest('hex')}`;
}

/** An epoch-seconds timestamp Postgres (and JavaScript dates) can hold: one beyond tomorrow becomes `nowSeconds`. */
export function storableTimestamp(ts: number, nowSeconds: number, problems: StorageProblem[], path = 'timestamp'): number {
  if (Number.isFinite(ts) && ts >= 0 && ts <= nowSeconds + MAX_FUTURE_SECONDS) return ts;
  problems.push({ path, problem: 'timestamp_out_of_range', detail: String(ts).slice(0, 40) });
  return nowSeconds;
}
