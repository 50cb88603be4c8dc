// CEL expressions: the page's expressions as written, absent objects, numbers, and the sandbox.
import { describe, expect, it } from 'vitest';
import { buildExpressionScope, compileExpression, evaluateExpression, fromCel, rewriteSource } from './expression';
import type { FlowEvent, RunContext } from './flow.types';

const text: FlowEvent = { id: 'wamid.1', timestamp: 1_700_000_000, type: 'text', text: 'hello there' };
const buttonReply: FlowEvent = {
  id: 'wamid.2',
  timestamp: 1_700_000_000,
  type: 'interactive',
  interactive: { type: 'button_reply', id: 'help', title: 'Get Help' },
};
const ctx = (event?: FlowEvent, extra: Partial<RunContext> = {}): RunContext => ({
  event,
  contact: { wa_id: '4915112345678', name: 'Ada' },
  lastMessageTime: 1_700_000_000,
  now: 1_700_000_100,
  ...extra,
});
const ev = (expr: string, context: RunContext = ctx(text), vars: Record<string, unknown> = {}) => {
  const r = evaluateExpression(expr, buildExpressionScope(context, vars));
  return r.ok ? r.value : { error: r.message };
};

describe('expressions as written on the page', () => {
  it("button.id == 'help' is true for the help button, false for another button and for a text message", () => {
    expect(ev("button.id == 'help'", ctx(buttonReply))).toBe(true);
    expect(ev("button.id == 'status'", ctx(buttonReply))).toBe(false);
    expect(ev("button.id == 'help'", ctx(text))).toBe(false);
    expect(ev("button.id == 'help'", ctx(undefined))).toBe(false);
  });

  it('template quick replies fill button.id (payload) and button.title (text)', () => {
    const quick: FlowEvent = { id: 'w', timestamp: 1, type: 'button', button: { payload: 'confirm', text: 'Confirm' } };
    expect(ev("button.id == 'confirm' && button.title == 'Confirm'", ctx(quick))).toBe(true);
  });

  it('last_message_time + 86400 > now: inside and outside the 24-hour window, and with no previous message', () => {
    expect(ev('last_message_time + 86400 > now', ctx(text, { lastMessageTime: 1000, now: 1000 + 86399 }))).toBe(true);
    expect(ev('last_message_time + 86400 > now', ctx(text, { lastMessageTime: 1000, now: 1000 + 86400 }))).toBe(false);
    expect(ev('last_message_time + 86400 > now', ctx(text, { lastMessageTime: 0, now: 1_700_000_000 }))).toBe(false);
  });

  it('fractional clocks are floored to int seconds so int arithmetic type-checks', () => {
    expect(ev('now - last_message_time', ctx(text, { lastMessageTime: 10.9, now: 20.2 }))).toBe(10n);
  });
});

describe('context', () => {
  it('message, contact, list, location and vars are readable', () => {
    expect(ev("message.type == 'text' && message.text == 'hello there' && message.id == 'wamid.1'")).toBe(true);
    expect(ev('message.timestamp == 1700000000')).toBe(true);
    expect(ev("contact.name == 'Ada' && contact.wa_id.startsWith('49') && !contact.opted_out")).toBe(true);
    const listReply: FlowEvent = {
      id: 'w',
      timestamp: 1,
      type: 'interactive',
      interactive: { type: 'list_reply', id: 'billing', title: 'Billing', description: 'Payment' },
    };
    expect(ev("list.id == 'billing' && list.title == 'Billing' && button.id == ''", ctx(listReply))).toBe(true);
    expect(ev("list_reply.description == 'Payment'", ctx(listReply))).toBe(true);
    const loc: FlowEvent = { id: 'w', timestamp: 1, type: 'location', location: { latitude: 52.5, longitude: 13 } };
    expect(ev('location.latitude > 50.0 && location.longitude == 13.0', ctx(loc))).toBe(true);
    expect(ev("vars.count + 1 == 3 && vars.name == 'x' && vars.ratio > 0.5", ctx(text), { count: 2, name: 'x', ratio: 0.75 })).toBe(true);
  });

  it('absent objects have empty fields: list.id on a text message is empty, not an error', () => {
    expect(ev("list.id == ''")).toBe(true);
    expect(ev("location.name == ''")).toBe(true);
  });

  it('a missing session variable is an error that names the fix; has() tests for it', () => {
    expect(ev("vars.answer == 'yes'")).toEqual({ error: expect.stringMatching(/No such key: answer.*has\(vars\.name\)/) });
    expect(ev('has(vars.answer)')).toBe(false);
    expect(ev("has(vars.answer) && vars.answer == 'yes'", ctx(text), { answer: 'yes' })).toBe(true);
  });

  it('list.x is rewritten to list_reply.x only outside string literals', () => {
    expect(rewriteSource("list.id == 'list.id'")).toBe("list_reply.id == 'list.id'");
    expect(rewriteSource('vars.list.size() > 0 && type([]) == list')).toBe('vars.list.size() > 0 && type([]) == list');
  });
});

describe('compile-time checks', () => {
  it('unknown fields and variables fail at upload time', () => {
    expect(compileExpression("button.idd == 'help'")).toMatchObject({ ok: false, message: expect.stringMatching(/idd/) });
    expect(compileExpression("buton.id == 'help'")).toMatchObject({ ok: false, message: expect.stringMatching(/buton/) });
    expect(compileExpression("button.id == ")).toMatchObject({ ok: false, message: expect.stringMatching(/invalid expression/) });
  });

  it('a condition must be boolean', () => {
    expect(compileExpression('now + 1', 'bool')).toMatchObject({ ok: false, message: expect.stringMatching(/boolean/) });
    expect(compileExpression('vars.flag', 'bool')).toMatchObject({ ok: true });
  });
});

describe('sandbox', () => {
  it('refuses prototype tricks', () => {
    for (const attack of [
      "this.constructor.constructor('return process')()",
      'constructor',
      '__proto__',
      "button.constructor.constructor('return process')()",
      'button.__proto__',
    ]) {
      expect(compileExpression(attack).ok, attack).toBe(false);
    }
    // Map access of prototype keys through vars (a dyn map) compiles but finds no such key at run time.
    for (const attack of ['vars.constructor', "vars['__proto__']", "vars['constructor']", 'vars.toString', 'vars.hasOwnProperty', 'vars.prototype']) {
      expect(ev(attack), attack).toEqual({ error: expect.stringMatching(/No such key/) });
    }
    expect(ev("has(vars.constructor) || has(vars.toString)")).toBe(false);
  });

  it('caps the source length', () => {
    const long = `${'1 + '.repeat(300)}1 > 0`;
    expect(compileExpression(long)).toMatchObject({ ok: false, message: expect.stringMatching(/longer than/) });
  });

  it('refuses nested comprehensions, chained comprehensions and cel.bind', () => {
    const range = `[${Array.from({ length: 10 }, (_, i) => i).join(',')}]`;
    expect(compileExpression(`${range}.all(a, ${range}.all(b, ${range}.all(c, a + b + c >= 0)))`)).toMatchObject({
      ok: false,
      message: expect.stringMatching(/inside another comprehension/),
    });
    expect(compileExpression(`${range}.map(a, a).map(b, b).size() > 0`)).toMatchObject({ ok: false });
    expect(compileExpression("cel.bind(a, message.text, cel.bind(b, a + a, b + b)) == ''")).toMatchObject({
      ok: false,
      message: expect.stringMatching(/cel.bind/),
    });
  });

  it('caps list literals and AST size', () => {
    const big = `[${Array.from({ length: 101 }, () => 1).join(',')}].size() > 0`;
    expect(compileExpression(big).ok).toBe(false);
  });

  it('evaluates a single comprehension over the largest input (one level deep, strings not held past it)', () => {
    const long = 'x'.repeat(4096);
    const r = ev(
      "message.text.split('').exists(c, c + vars.s + vars.s + vars.s + vars.s == 'y')",
      ctx({ id: 'w', timestamp: 1, type: 'text', text: long }),
      { s: 'z'.repeat(3000) },
    );
    expect(r).toBe(false);
  });

  it('matches() runs on RE2: a literal RE2 pattern only, not inside a comprehension, strings up to 4096 characters', () => {
    expect(compileExpression("message.text.matches('^(a+)+$')")).toMatchObject({ ok: true });
    expect(compileExpression("message.text.matches('(a)\\\\1')")).toMatchObject({ ok: false, message: expect.stringMatching(/backreference/) });
    expect(compileExpression("message.text.matches('(?!a)')")).toMatchObject({ ok: false, message: expect.stringMatching(/lookahead/) });
    expect(compileExpression('message.text.matches(message.text)')).toMatchObject({ ok: false, message: expect.stringMatching(/literal/) });
    expect(compileExpression("message.text.split(' ').exists(w, w.matches('^a'))")).toMatchObject({
      ok: false,
      message: expect.stringMatching(/matches\(\) inside a comprehension/),
    });
    expect(compileExpression("message.text.matches('a', 'b')")).toMatchObject({ ok: false, message: expect.stringMatching(/string\.matches\(string, string\)/) });
    expect(ev("message.text.matches('^hello\\\\s+\\\\w+$')")).toBe(true);
    expect(ev("message.text.matches('^HELLO')")).toBe(false);
    expect(ev("message.text.matches('(?i)^HELLO')")).toBe(true);
    expect(ev("'matches(' + message.text == 'matches(hello there'")).toBe(true);
    expect(ev("vars.s.matches('x$')", ctx(text), { s: `${'a'.repeat(4096)}x` })).toEqual({
      error: expect.stringMatching(/matches\(\): the string is longer than 4096 characters/),
    });
  });

  it('a value too large to store is refused without walking all of it', () => {
    const r = ev("message.text.split('').map(c, vars.s)", ctx({ id: 'w', timestamp: 1, type: 'text', text: 'x'.repeat(4096) }), { s: 'z'.repeat(8000) });
    expect(Array.isArray(r)).toBe(true);
    expect(fromCel(r)).toEqual({ ok: false, message: 'value is larger than 16384 bytes as JSON' });
  });

  it('evaluation errors are returned, never thrown', () => {
    expect(ev('1 / 0 == 1')).toEqual({ error: expect.any(String) });
    expect(ev('9223372036854775807 + 1 > 0')).toEqual({ error: expect.any(String) });
  });
});

describe('storing results', () => {
  it('converts CEL values to JSON values and refuses the rest', () => {
    expect(fromCel(5n)).toEqual({ ok: true, value: 5 });
    expect(fromCel([1n, 'a', { b: 2.5 }])).toEqual({ ok: true, value: [1, 'a', { b: 2.5 }] });
    expect(fromCel(new Uint8Array([1]))).toMatchObject({ ok: false });
    expect(fromCel(2n ** 60n)).toMatchObject({ ok: false });
  });
});
