// Placeholder syntax checks and substitution.
import { describe, expect, it } from 'vitest';
import type { RunContext } from './flow.types';
import { checkPlaceholders, interpolate, scanPlaceholders } from './interpolate';

const context: RunContext = {
  event: { id: 'wamid.9', timestamp: 5, type: 'text', text: 'hello' },
  contact: { wa_id: '49151', name: 'Ada' },
  lastMessageTime: 0,
  now: 10,
};

describe('scanPlaceholders', () => {
  it('accepts names, dotted paths and inner spaces; rejects malformed ones', () => {
    expect(scanPlaceholders('{{a}} {{ b_c }} {{vars.x.y}} {{contact.name}} no braces')).toEqual({
      names: ['a', 'b_c', 'vars.x.y', 'contact.name'],
      errors: [],
    });
    expect(scanPlaceholders('{{}}').errors).toEqual(['empty placeholder "{{}}"']);
    expect(scanPlaceholders('{{1abc}}').errors[0]).toMatch(/malformed/);
    expect(scanPlaceholders('{{a-b}}').errors[0]).toMatch(/malformed/);
    expect(scanPlaceholders('hi {{name').errors[0]).toMatch(/unclosed/);
    expect(scanPlaceholders('{{message.body}}').errors[0]).toMatch(/message has the fields type, text, id, timestamp/);
    expect(scanPlaceholders('{{contact}}').errors[0]).toMatch(/unknown placeholder/);
  });

  it('reports deep paths', () => {
    expect(checkPlaceholders({ template: { components: [{ parameters: [{ text: '{{ }}' }] }] } })).toEqual([
      { path: 'template.components[0].parameters[0].text', message: 'empty placeholder "{{}}"' },
    ]);
  });
});

describe('interpolate', () => {
  it('substitutes in every nested string and leaves other values alone', () => {
    const r = interpolate(
      { a: 'Hi {{contact.name}}', b: [{ c: '{{n}} items, {{ flag }}, {{obj}}' }], d: 3, e: true, f: '{{message.text}} ({{message.id}})' },
      { vars: { n: 2, flag: false, obj: { k: 'v' } }, context },
    );
    expect(r).toEqual({
      ok: true,
      value: { a: 'Hi Ada', b: [{ c: '2 items, false, {"k":"v"}' }], d: 3, e: true, f: 'hello (wamid.9)' },
    });
  });

  it('reports every missing variable (and null ones) instead of emptying them', () => {
    expect(interpolate({ x: '{{a}} {{b}} {{a}}', y: '{{vars.c}} {{contact.user_id}}' }, { vars: { c: null }, context })).toEqual({
      ok: false,
      missing: ['a', 'b', 'vars.c', 'contact.user_id'],
    });
  });

  it('does not read inherited properties', () => {
    expect(interpolate('{{constructor}} {{toString}}', { vars: {}, context })).toEqual({ ok: false, missing: ['constructor', 'toString'] });
  });

  it('stops substituting once a string passes MAX_INTERPOLATED_LENGTH and names the string', () => {
    const big = 'x'.repeat(5000);
    expect(interpolate({ message: 'a', body: { text: '{{big}} {{big}}' } }, { vars: { big }, context })).toEqual({
      ok: false,
      missing: [],
      tooLong: ['body.text'],
    });
    expect(interpolate('{{big}}', { vars: { big }, context })).toEqual({ ok: true, value: big });
  });

  it('a substituted value is not interpolated again', () => {
    expect(interpolate('{{a}}', { vars: { a: '{{b}}', b: 'no' }, context })).toEqual({ ok: true, value: '{{b}}' });
  });
});
