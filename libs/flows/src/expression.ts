// Sandboxed CEL expressions (branch conditions, set values) on @marcbachmann/cel-js: typed context, bounded cost.
import { Environment } from '@marcbachmann/cel-js';
import type { FlowEvent, RunContext } from './flow.types';
import { MAX_PATTERN_INPUT, compilePattern } from './safe-regex';

/** Longest expression source accepted. */
export const MAX_EXPRESSION_LENGTH = 1024;
/** Largest session-variable set (as JSON) an expression may read or a run may store. */
export const MAX_VARS_JSON_BYTES = 16 * 1024;
/** Longest string in the expression context (WhatsApp's text limit). */
export const MAX_CONTEXT_STRING = 4096;
/** Macros that iterate; they may not be nested (or chained) inside one another. */
const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);
/**
 * cel-js implements `matches()` with JavaScript's backtracking RegExp and its overload cannot be replaced, so the
 * source's `.matches(` calls are renamed to this RE2-backed function before parsing (see rewriteSource).
 */
const RE2_MATCHES = 'matches_re2';

/** `string.matches(pattern)` on RE2: the pattern was checked at compile time; the string is capped. */
function re2Matches(text: string, pattern: string): boolean {
  if (text.length > MAX_PATTERN_INPUT) {
    throw new Error(`matches(): the string is longer than ${MAX_PATTERN_INPUT} characters`);
  }
  const r = compilePattern(pattern, false);
  if (!r.ok) throw new Error(`matches(): ${r.reason}`);
  return r.re.test(text);
}

/** The CEL environment: every top-level name is declared with a type, so typos fail at upload time. */
const env = new Environment({
  limits: { maxAstNodes: 256, maxDepth: 32, maxListElements: 100, maxMapEntries: 100, maxCallArguments: 8 },
})
  .registerVariable({
    name: 'message',
    schema: { type: 'string', text: 'string', id: 'string', timestamp: 'int' },
    description: 'The inbound message',
  })
  .registerVariable({ name: 'button', schema: { id: 'string', title: 'string' }, description: 'Pressed button' })
  .registerVariable({ name: 'list_reply', schema: { id: 'string', title: 'string', description: 'string' } })
  .registerVariable({ name: 'location', schema: { latitude: 'double', longitude: 'double', name: 'string', address: 'string' } })
  .registerVariable({ name: 'contact', schema: { wa_id: 'string', user_id: 'string', name: 'string', opted_out: 'bool' } })
  .registerVariable({
    name: 'referral',
    schema: { source_url: 'string', source_id: 'string', source_type: 'string', headline: 'string', body: 'string', media_type: 'string', ctwa_clid: 'string' },
    description: 'The click-to-WhatsApp ad or post the user came from (empty strings when none)',
  })
  .registerVariable({
    name: 'referred_product',
    schema: { catalog_id: 'string', product_retailer_id: 'string' },
    description: 'The catalog product the user asked about (empty strings when none)',
  })
  .registerVariable('vars', 'map')
  .registerVariable('last_message_time', 'int')
  .registerVariable('now', 'int')
  .registerFunction(`string.${RE2_MATCHES}(string): bool`, re2Matches);

/** The values an expression sees, already converted to CEL types (ints as bigint). */
export type ExpressionScope = Record<string, unknown>;

type Program = ReturnType<typeof env.parse>;
interface AstNode {
  op: string;
  args: unknown;
  start?: number;
}

/** Outcome of compiling or evaluating an expression. */
export type ExpressionResult<T> = { ok: true; value: T } | { ok: false; message: string };

const cache = new Map<string, Program>();
const CACHE_LIMIT = 2000;

/** Returns why the parsed AST is too costly or unsafe, or null. */
function astPolicy(node: AstNode, insideComprehension: boolean): string | null {
  const { op, args } = node;
  const visit = (n: unknown, inside: boolean): string | null =>
    n && typeof n === 'object' && 'op' in n ? astPolicy(n as AstNode, inside) : null;
  if (op === 'rcall' || op === 'call') {
    const [name, a, b] = args as [string, unknown, unknown];
    const receiver = op === 'rcall' ? (a as AstNode) : undefined;
    const callArgs = (op === 'rcall' ? b : a) as AstNode[];
    if (name === 'bind') return 'cel.bind is not allowed';
    const iterates = op === 'rcall' && COMPREHENSIONS.has(name);
    if (iterates && insideComprehension) return `${name}() inside another comprehension is not allowed (cost limit)`;
    // Only the method form is renamed to the RE2 function; any other `matches` would reach JavaScript's RegExp.
    if (name === 'matches') return 'matches() is only available as a method: text.matches(pattern)';
    if (name === RE2_MATCHES) {
      if (insideComprehension) return 'matches() inside a comprehension is not allowed (cost limit)';
      const pattern = callArgs[callArgs.length - 1];
      if (!pattern || pattern.op !== 'value' || typeof pattern.args !== 'string') {
        return 'matches() needs a string literal pattern';
      }
      const compiled = compilePattern(pattern.args, false);
      if (!compiled.ok) return `matches(): ${compiled.reason}`;
    }
    if (receiver) {
      const r = visit(receiver, insideComprehension || iterates);
      if (r) return r;
    }
    for (const arg of callArgs) {
      const r = visit(arg, insideComprehension || iterates);
      if (r) return r;
    }
    return null;
  }
  if (Array.isArray(args)) {
    for (const a of args) {
      if (Array.isArray(a)) {
        for (const x of a) {
          const r = visit(x, insideComprehension);
          if (r) return r;
        }
      } else {
        const r = visit(a, insideComprehension);
        if (r) return r;
      }
    }
  }
  return null;
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e)
    .split('\n')[0]
    .replaceAll(RE2_MATCHES, 'matches');
}

const IDENT_START = /[A-Za-z_]/;
const IDENT = /[A-Za-z0-9_]/;

/**
 * Rewrites an expression before parsing, outside string literals: `list` is CEL's list type name and cannot be a
 * variable, so `list.<field>` becomes `list_reply.<field>`; and the method `.matches(` becomes the RE2-backed
 * `.matches_re2(`. Everything else is left as written.
 */
export function rewriteSource(source: string): string {
  let out = '';
  let i = 0;
  let prev = ''; // previous non-space character outside literals
  while (i < source.length) {
    const c = source[i];
    if (c === '"' || c === "'") {
      const raw = /[rR]/.test(source[i - 1] ?? '') && !IDENT.test(source[i - 2] ?? '');
      const triple = source.startsWith(c.repeat(3), i);
      const end = triple ? c.repeat(3) : c;
      let j = i + end.length;
      while (j < source.length && !source.startsWith(end, j)) j += !raw && source[j] === '\\' ? 2 : 1;
      j = Math.min(source.length, j + end.length);
      out += source.slice(i, j);
      prev = c;
      i = j;
      continue;
    }
    if (IDENT_START.test(c) && !IDENT.test(source[i - 1] ?? '')) {
      let j = i;
      while (j < source.length && IDENT.test(source[j])) j++;
      const word = source.slice(i, j);
      let k = j;
      while (k < source.length && /\s/.test(source[k])) k++;
      if (word === 'list' && prev !== '.' && source[k] === '.') out += 'list_reply';
      else if (word === 'matches' && prev === '.' && source[k] === '(') out += RE2_MATCHES;
      else out += word;
      prev = word[word.length - 1];
      i = j;
      continue;
    }
    if (!/\s/.test(c)) prev = c;
    out += c;
    i++;
  }
  return out;
}

/** Compiles (parses, type-checks, cost-checks) an expression; `expect: 'bool'` also requires a boolean result. */
export function compileExpression(source: string, expect: 'bool' | 'any' = 'any'): ExpressionResult<Program> {
  if (typeof source !== 'string' || source.trim() === '') return { ok: false, message: 'expression is empty' };
  if (source.length > MAX_EXPRESSION_LENGTH) {
    return { ok: false, message: `expression is longer than ${MAX_EXPRESSION_LENGTH} characters` };
  }
  const rewritten = rewriteSource(source);
  let program: Program;
  try {
    program = env.parse(rewritten);
  } catch (e) {
    return { ok: false, message: `invalid expression: ${firstLine(e)}` };
  }
  const policy = astPolicy(program.ast as unknown as AstNode, false);
  if (policy) return { ok: false, message: `expression not allowed: ${policy}` };
  const checked = env.check(rewritten);
  if (!checked.valid) return { ok: false, message: `invalid expression: ${firstLine(checked.error)}` };
  const type = String(checked.type);
  if (expect === 'bool' && type !== 'bool' && type !== 'dyn') {
    return { ok: false, message: `condition must be a boolean expression, but it is of type ${type}` };
  }
  return { ok: true, value: program };
}

function program(source: string): ExpressionResult<Program> {
  const hit = cache.get(source);
  if (hit) return { ok: true, value: hit };
  const compiled = compileExpression(source);
  if (!compiled.ok) return compiled;
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(source, compiled.value);
  return compiled;
}

/** Evaluates an expression against a scope from buildExpressionScope; never throws. */
export function evaluateExpression(source: string, scope: ExpressionScope): ExpressionResult<unknown> {
  const p = program(source);
  if (!p.ok) return p;
  try {
    const value: unknown = p.value(scope);
    if (value instanceof Promise) return { ok: false, message: 'asynchronous expressions are not supported' };
    return { ok: true, value };
  } catch (e) {
    const message = firstLine(e);
    const hint = /No such key/.test(message) ? ' (use has(vars.name) to test whether a variable is set)' : '';
    return { ok: false, message: `${message}${hint}` };
  }
}

/** Converts stored (JSON) values into CEL values: whole numbers become ints (bigint), other numbers doubles. */
export function toCel(value: unknown, depth = 0): unknown {
  if (depth > 16) throw new Error('value is nested too deeply');
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map((v) => toCel(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) out[k] = toCel(v, depth + 1);
    }
    return out;
  }
  return value;
}

/**
 * Converts a CEL result into a JSON value for the session; rejects bytes, durations and other non-JSON values,
 * and stops as soon as the value would take more than MAX_VARS_JSON_BYTES as JSON (never walks a huge result).
 */
export function fromCel(value: unknown): ExpressionResult<unknown> {
  return toJson(value, 0, { left: MAX_VARS_JSON_BYTES });
}

function toJson(value: unknown, depth: number, budget: { left: number }): ExpressionResult<unknown> {
  if (depth > 16) return { ok: false, message: 'value is nested too deeply' };
  budget.left -= typeof value === 'string' ? value.length + 2 : 8;
  if (budget.left < 0) return { ok: false, message: `value is larger than ${MAX_VARS_JSON_BYTES} bytes as JSON` };
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return { ok: true, value };
  if (typeof value === 'bigint') {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      return { ok: false, message: 'integer is too large to store' };
    }
    return { ok: true, value: Number(value) };
  }
  if (typeof value === 'number') {
    return Number.isFinite(value) ? { ok: true, value } : { ok: false, message: 'number is not finite' };
  }
  if (value instanceof Date) return { ok: true, value: value.toISOString() };
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const v of value) {
      const r = toJson(v, depth + 1, budget);
      if (!r.ok) return r;
      out.push(r.value);
    }
    return { ok: true, value: out };
  }
  const entries: Array<[unknown, unknown]> | null =
    value instanceof Map
      ? [...value.entries()]
      : value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype
        ? Object.entries(value)
        : null;
  if (!entries) return { ok: false, message: `a value of this type cannot be stored in a variable` };
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) {
    if (typeof k !== 'string') return { ok: false, message: 'only maps with string keys can be stored' };
    budget.left -= k.length + 3;
    const r = toJson(v, depth + 1, budget);
    if (!r.ok) return r;
    Object.defineProperty(out, k, { value: r.value, enumerable: true, writable: true, configurable: true });
  }
  return { ok: true, value: out };
}

const cap = (s: string | undefined): string => (s ?? '').slice(0, MAX_CONTEXT_STRING);

/** The text a message carries: text body, button/list title, template button text, media caption, location name. */
export function eventText(event: FlowEvent | undefined): string {
  if (!event) return '';
  return cap(
    event.text ?? event.interactive?.title ?? event.button?.text ?? event.media?.caption ?? event.location?.name ?? '',
  );
}

const seconds = (n: number | undefined): bigint => BigInt(Number.isFinite(n) ? Math.floor(n as number) : 0);

/** Builds the CEL scope; absent objects (no button on a text message, …) have empty-string / zero / false fields. Throws on vars nested deeper than 16. */
export function buildExpressionScope(context: RunContext, vars: Record<string, unknown>): ExpressionScope {
  const e = context.event;
  const button =
    e?.interactive?.type === 'button_reply'
      ? { id: e.interactive.id, title: e.interactive.title }
      : e?.button
        ? { id: e.button.payload, title: e.button.text }
        : { id: '', title: '' };
  const list =
    e?.interactive?.type === 'list_reply'
      ? { id: e.interactive.id, title: e.interactive.title, description: e.interactive.description ?? '' }
      : { id: '', title: '', description: '' };
  const loc = e?.location;
  return {
    message: {
      type: e?.type ?? '',
      text: eventText(e),
      id: e?.id ?? '',
      timestamp: seconds(e?.timestamp),
    },
    button: { id: cap(button.id), title: cap(button.title) },
    list_reply: { id: cap(list.id), title: cap(list.title), description: cap(list.description) },
    location: {
      latitude: loc?.latitude ?? 0,
      longitude: loc?.longitude ?? 0,
      name: cap(loc?.name),
      address: cap(loc?.address),
    },
    referral: {
      source_url: cap(e?.referral?.source_url),
      source_id: cap(e?.referral?.source_id),
      source_type: cap(e?.referral?.source_type),
      headline: cap(e?.referral?.headline),
      body: cap(e?.referral?.body),
      media_type: cap(e?.referral?.media_type),
      ctwa_clid: cap(e?.referral?.ctwa_clid),
    },
    referred_product: {
      catalog_id: cap(e?.referred_product?.catalog_id),
      product_retailer_id: cap(e?.referred_product?.product_retailer_id),
    },
    contact: {
      wa_id: context.contact.wa_id ?? '',
      user_id: context.contact.user_id ?? '',
      name: cap(context.contact.name),
      opted_out: context.contact.opted_out ?? false,
    },
    vars: toCel(vars),
    last_message_time: seconds(context.lastMessageTime),
    now: seconds(context.now),
  };
}
