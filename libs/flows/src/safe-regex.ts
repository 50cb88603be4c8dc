// Tenant-supplied regular expressions (`regex` triggers, CEL `matches()`) run on RE2 (re2js): matching takes time
// linear in the input, whatever the pattern. Patterns RE2 cannot express (backreferences, lookaround) are refused.
import { RE2JS } from 're2js';

/** Longest regular expression source accepted. */
export const MAX_REGEX_LENGTH = 256;
/**
 * Largest compiled RE2 program accepted (instructions). Matching is linear in the input, but its constant grows
 * with the program (counted repetitions such as `\p{L}{1,1000}` expand into large programs).
 */
export const MAX_REGEX_PROGRAM = 400;
/** Longest string a pattern is matched against (WhatsApp's text limit); triggers look at this much of the text. */
export const MAX_PATTERN_INPUT = 4096;

/** A compiled pattern, or why the source was refused. */
export type PatternResult = { ok: true; re: RE2JS } | { ok: false; reason: string };

const CACHE_LIMIT = 2000;
const cache = new Map<string, PatternResult>();

function explain(message: string): string {
  const detail = message.replace(/^error parsing regexp: /, '');
  if (/`\\[1-9]|`\\k/.test(detail)) {
    return 'backreferences are not supported (patterns run on RE2, which matches in linear time)';
  }
  if (/\(\?<?[=!]/.test(detail)) {
    return 'lookahead and lookbehind are not supported (patterns run on RE2, which matches in linear time)';
  }
  return `invalid regular expression (RE2 syntax): ${detail}`;
}

function build(source: string, caseInsensitive: boolean): PatternResult {
  if (source.length > MAX_REGEX_LENGTH) {
    return { ok: false, reason: `regular expression is longer than ${MAX_REGEX_LENGTH} characters` };
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(source, caseInsensitive ? RE2JS.CASE_INSENSITIVE : 0);
  } catch (e) {
    return { ok: false, reason: explain((e as Error).message) };
  }
  if (re.programSize() > MAX_REGEX_PROGRAM) {
    return {
      ok: false,
      reason: `regular expression is too complex (compiled size ${re.programSize()} > ${MAX_REGEX_PROGRAM}; use smaller repetition counts)`,
    };
  }
  return { ok: true, re };
}

/**
 * Compiles a tenant pattern on RE2 (cached). `caseInsensitive` is the trigger semantics (`(?i)`); CEL `matches()`
 * is case-sensitive unless the pattern says `(?i)`.
 */
export function compilePattern(source: string, caseInsensitive: boolean): PatternResult {
  const key = `${caseInsensitive ? 'i' : '-'}${source}`;
  let r = cache.get(key);
  if (!r) {
    r = build(source, caseInsensitive);
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
    cache.set(key, r);
  }
  return r;
}

/** Returns why `source` cannot be used as a pattern (not RE2, too long, too complex), or null if it can. */
export function unsafeRegexReason(source: string, caseInsensitive = true): string | null {
  const r = compilePattern(source, caseInsensitive);
  return r.ok ? null : r.reason;
}
