// Tenant patterns on RE2: catastrophic-for-backtracking patterns are accepted and match in linear time;
// what RE2 cannot express is refused at upload with file:line:col.
import { describe, expect, it } from 'vitest';
import { buildExpressionScope, evaluateExpression } from './expression';
import { formatIssue, loadFlow } from './flow.loader';
import type { FlowEvent, RunContext } from './flow.types';
import { compilePattern, MAX_PATTERN_INPUT, unsafeRegexReason } from './safe-regex';
import { matchTrigger } from './trigger.matcher';

/** Patterns that take exponential or high-polynomial time on a backtracking engine. */
const CATASTROPHIC = ['\\d+\\d+\\d+\\d+x', '.*.*.*=', '[a-z]*[a-z]*[a-z]*!', '(a+)+$', '(x|xx)+y', '^(\\w+\\s?)*$'];

const text = (t: string): FlowEvent => ({ id: 'w', timestamp: 1, type: 'text', text: t });
const ctx = (t: string): RunContext => ({ event: text(t), contact: { wa_id: '49151' }, lastMessageTime: 0, now: 1 });
const yamlString = (s: string) => JSON.stringify(s);
const flowWith = (regex: string, condition: string) =>
  [
    'name: hostile',
    'version: "1"',
    'nodes:',
    '  - id: check',
    '    type: branch',
    '    config:',
    '      conditions:',
    `        - expression: ${yamlString(condition)}`,
    '          next: yes',
    '      default: no',
    '  - id: "yes"',
    '    type: end',
    '  - id: "no"',
    '    type: end',
    'triggers:',
    '  - type: message',
    `    regex: ${yamlString(regex)}`,
    '    target: check',
    '',
  ].join('\n');

describe('compilePattern / unsafeRegexReason (RE2)', () => {
  it.each(['^hi$', '^order\\s+(\\d+)$', '(yes|no)', '^[a-z]+@[a-z]+\\.com$', '(?:ab)?c', '^(\\w+)?$', 'a{2,3}', '(?<id>\\d+)', '\\x{e9}t\\x{E9}', '\\p{Lu}\\pN', ...CATASTROPHIC])(
    'accepts %s',
    (re) => {
      expect(unsafeRegexReason(re)).toBeNull();
    },
  );

  it.each([
    ['(a)\\1', /backreferences are not supported/],
    ['(?<x>a)\\k<x>', /backreferences are not supported/],
    ['(?=a)', /lookahead and lookbehind are not supported/],
    ['x(?!a)', /lookahead and lookbehind are not supported/],
    ['(?<=a)b', /lookahead and lookbehind are not supported/],
    ['([', /invalid regular expression \(RE2 syntax\)/],
    ['a{1001}', /invalid repeat count/],
    ['[\\p{L}\\p{N}]{200,300}', /too complex/],
    ['\\u00e9', /invalid escape sequence/],
    ['x'.repeat(300), /longer than 256/],
  ])('refuses %s', (re, reason) => {
    expect(unsafeRegexReason(re)).toMatch(reason);
  });

  it('triggers are case-insensitive; matches() is case-sensitive unless the pattern says (?i)', () => {
    const trigger = compilePattern('^hello', true);
    const cel = compilePattern('^hello', false);
    expect(trigger.ok && trigger.re.test('HELLO there')).toBe(true);
    expect(cel.ok && cel.re.test('HELLO there')).toBe(false);
    const inline = compilePattern('(?i)^hello', false);
    expect(inline.ok && inline.re.test('HELLO there')).toBe(true);
  });
});

describe('hostile input against catastrophic patterns (3,000 characters)', () => {
  const hostile: Record<string, string> = {
    '\\d+\\d+\\d+\\d+x': '1'.repeat(3000),
    '.*.*.*=': 'a'.repeat(3000),
    '[a-z]*[a-z]*[a-z]*!': 'a'.repeat(3000),
    '(a+)+$': `${'a'.repeat(3000)}!`,
    '(x|xx)+y': 'x'.repeat(3000),
    '^(\\w+\\s?)*$': `${'ab '.repeat(1000)}!`,
  };

  it.each(CATASTROPHIC)('%s as a trigger: loads, does not match the hostile text, matches a real one', (re) => {
    const loaded = loadFlow(flowWith(re, 'true'), 'flows/hostile.ygtc');
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    expect(matchTrigger([loaded.flow], text(hostile[re]))).toBeNull();
    const fits: Record<string, string> = {
      '\\d+\\d+\\d+\\d+x': `${'1'.repeat(2990)}x`,
      '.*.*.*=': `${'a'.repeat(2990)}=`,
      '[a-z]*[a-z]*[a-z]*!': `${'a'.repeat(2990)}!`,
      '(a+)+$': 'a'.repeat(3000),
      '(x|xx)+y': `${'x'.repeat(2990)}y`,
      '^(\\w+\\s?)*$': 'ab '.repeat(1000),
    };
    expect(matchTrigger([loaded.flow], text(fits[re]))).toEqual({ flowName: 'hostile', nodeId: 'check' });
  });

  it.each(CATASTROPHIC)('%s in matches(): compiles in a flow and evaluates to false on the hostile text', (re) => {
    const condition = `message.text.matches(${JSON.stringify(re)})`;
    expect(loadFlow(flowWith('^start$', condition), 'flows/hostile.ygtc').ok).toBe(true);
    const r = evaluateExpression(condition, buildExpressionScope(ctx(hostile[re]), {}));
    expect(r).toEqual({ ok: true, value: false });
  });

  it('a trigger sees the first 4096 characters of the text only', () => {
    const loaded = loadFlow(flowWith('x$', 'true'), 'flows/tail.ygtc');
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
    expect(matchTrigger([loaded.flow], text(`${'a'.repeat(MAX_PATTERN_INPUT - 1)}x`))).not.toBeNull();
    expect(matchTrigger([loaded.flow], text(`${'a'.repeat(MAX_PATTERN_INPUT)}x`))).toBeNull();
  });
});

describe('patterns RE2 cannot express are refused at upload with file:line:col', () => {
  it('a backreference in a regex trigger', () => {
    const r = loadFlow(flowWith('(a)\\1', 'true'), 'flows/backref.ygtc');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map(formatIssue)).toEqual([
      'flows/backref.ygtc:17:12 triggers[0].regex: backreferences are not supported (patterns run on RE2, which matches in linear time)',
    ]);
  });

  it('a lookahead in matches()', () => {
    const r = loadFlow(flowWith('^start$', "message.text.matches('(?=a)')"), 'flows/lookahead.ygtc');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map(formatIssue)).toEqual([
      'flows/lookahead.ygtc:8:23 nodes[0].config.conditions[0].expression: expression not allowed: matches(): lookahead and lookbehind are not supported (patterns run on RE2, which matches in linear time)',
    ]);
  });

  it('a stored pattern RE2 refuses (uploaded before this check) never matches instead of failing the team', () => {
    const loaded = loadFlow(flowWith('^hi', 'true'), 'flows/old.ygtc');
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
    const old = { ...loaded.flow, triggers: [{ ...loaded.flow.triggers[0], regex: 'h(?=i)' }] };
    expect(matchTrigger([old], text('hi'))).toBeNull();
  });
});
