// `{{name}}` placeholders in reply content: syntax checks at upload time, substitution at run time.
import { eventText } from './expression';
import type { RunContext } from './flow.types';

/**
 * Longest string interpolation produces, in UTF-16 code units: WhatsApp's longest field is 4096 characters (code
 * points, so up to 8192 units). Substitution stops there, so a reply never builds a huge string only to refuse it.
 */
export const MAX_INTERPOLATED_LENGTH = 8192;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/** Names a placeholder may not use anywhere in its path: they name JavaScript's object machinery, never data. */
const RESERVED = new Set(['__proto__', 'constructor', 'prototype']);

/** Objects a placeholder can name besides session variables, with their fields. */
export const PLACEHOLDER_ROOTS: Record<string, readonly string[]> = {
  contact: ['wa_id', 'user_id', 'name', 'opted_out'],
  message: ['type', 'text', 'id', 'timestamp'],
  button: ['id', 'title'],
  list: ['id', 'title', 'description'],
  location: ['latitude', 'longitude', 'name', 'address'],
  referral: ['source_url', 'source_id', 'source_type', 'headline', 'body', 'media_type', 'ctwa_clid'],
  referred_product: ['catalog_id', 'product_retailer_id'],
};

/** A placeholder or syntax problem found in one string. */
export interface PlaceholderScan {
  names: string[];
  errors: string[];
}

/** Finds the `{{name}}` placeholders of a string and reports malformed ones (unclosed, empty, bad names, unknown fields). */
export function scanPlaceholders(text: string): PlaceholderScan {
  const names: string[] = [];
  const errors: string[] = [];
  let i = 0;
  for (;;) {
    const open = text.indexOf('{{', i);
    if (open < 0) break;
    const close = text.indexOf('}}', open + 2);
    if (close < 0) {
      errors.push(`unclosed placeholder "${text.slice(open, open + 20)}…" (missing "}}")`);
      break;
    }
    const inner = text.slice(open + 2, close).trim();
    if (inner === '') errors.push('empty placeholder "{{}}"');
    else if (!NAME.test(inner)) {
      errors.push(`malformed placeholder "{{${inner}}}": use {{name}} or {{object.field}} (letters, digits, _ and dots)`);
    } else if (inner.split('.').some((part) => RESERVED.has(part))) {
      errors.push(`reserved placeholder name "{{${inner}}}": __proto__, constructor and prototype cannot be used`);
    } else {
      const [root, field, ...rest] = inner.split('.');
      const fields = Object.hasOwn(PLACEHOLDER_ROOTS, root) ? PLACEHOLDER_ROOTS[root] : undefined;
      if (fields && (field === undefined || !fields.includes(field) || rest.length > 0)) {
        errors.push(`unknown placeholder "{{${inner}}}": ${root} has the fields ${fields.join(', ')}`);
      } else names.push(inner);
    }
    i = close + 2;
  }
  return { names, errors };
}

/** Walks every string of a value (deeply) and reports malformed placeholders with their path (e.g. `template.components[0]…`). */
export function checkPlaceholders(value: unknown, path = ''): Array<{ path: string; message: string }> {
  const out: Array<{ path: string; message: string }> = [];
  walkStrings(value, path, (s, p) => {
    for (const message of scanPlaceholders(s).errors) out.push({ path: p, message });
  });
  return out;
}

function walkStrings(value: unknown, path: string, fn: (s: string, path: string) => void): void {
  if (typeof value === 'string') fn(value, path);
  else if (Array.isArray(value)) value.forEach((v, i) => walkStrings(v, `${path}[${i}]`, fn));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) walkStrings(v, path ? `${path}.${k}` : k, fn);
  }
}

/** What placeholders resolve against: session variables and the run's context. */
export interface InterpolationScope {
  vars: Record<string, unknown>;
  context: RunContext;
}

function lookup(name: string, scope: InterpolationScope): unknown {
  const [root, ...rest] = name.split('.');
  const e = scope.context.event;
  let base: unknown;
  let path = rest;
  switch (root) {
    case 'contact':
      base = scope.context.contact;
      break;
    case 'message':
      base = e ? { type: e.type, text: eventText(e) || undefined, id: e.id, timestamp: e.timestamp } : undefined;
      break;
    case 'button':
      base =
        e?.interactive?.type === 'button_reply'
          ? { id: e.interactive.id, title: e.interactive.title }
          : e?.button
            ? { id: e.button.payload, title: e.button.text }
            : undefined;
      break;
    case 'list':
      base = e?.interactive?.type === 'list_reply' ? e.interactive : undefined;
      break;
    case 'location':
      base = e?.location;
      break;
    case 'referral':
      base = e?.referral;
      break;
    case 'referred_product':
      base = e?.referred_product;
      break;
    case 'vars':
      base = scope.vars;
      break;
    default:
      base = scope.vars;
      path = [root, ...rest];
  }
  for (const key of path) {
    if (base === null || typeof base !== 'object' || !Object.hasOwn(base, key)) return undefined;
    base = (base as Record<string, unknown>)[key];
  }
  return base;
}

function format(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
}

/**
 * Result of interpolating: the new value, the placeholders that had no value, or the paths of strings that grew
 * past MAX_INTERPOLATED_LENGTH.
 */
export type InterpolationResult<T> = { ok: true; value: T } | { ok: false; missing: string[]; tooLong?: string[] };

/** Replaces `{{name}}` in every string of `value` (deeply); a placeholder without a value (or null) is reported, never emptied. */
export function interpolate<T>(value: T, scope: InterpolationScope): InterpolationResult<T> {
  const missing = new Set<string>();
  const tooLong: string[] = [];
  const replaceIn = (s: string, path: string): string => {
    // Counts the output as it is built; past the cap, substitution stops and the string is reported.
    let length = s.length;
    let over = false;
    const out = s.replace(/\{\{([^{}]*)\}\}/g, (whole, inner: string) => {
      const name = inner.trim();
      if (over || !NAME.test(name)) return whole;
      const v = lookup(name, scope);
      if (v === undefined || v === null) {
        missing.add(name);
        return whole;
      }
      const text = format(v);
      length += text.length - whole.length;
      if (length > MAX_INTERPOLATED_LENGTH) {
        over = true;
        tooLong.push(path);
        return whole;
      }
      return text;
    });
    return over ? '' : out;
  };
  const walk = (v: unknown, path: string): unknown => {
    if (typeof v === 'string') return replaceIn(v, path);
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}[${i}]`));
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, path ? `${path}.${k}` : k);
      return out;
    }
    return v;
  };
  const result = walk(value, '') as T;
  if (missing.size > 0) return { ok: false, missing: [...missing] };
  if (tooLong.length > 0) return { ok: false, missing: [], tooLong };
  return { ok: true, value: result };
}
