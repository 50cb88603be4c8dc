// Trigger matching across a team's flows: specificity, then flow name, then trigger order.
import { describe, expect, it } from 'vitest';
import { loadFlow } from './flow.loader';
import type { CompiledFlow, FlowEvent } from './flow.types';
import { keywordInText, matchTrigger } from './trigger.matcher';

const flow = (name: string, triggers: string): CompiledFlow => {
  const r = loadFlow(`name: ${name}\nversion: "1"\nnodes:\n  - id: a\n    type: end\n  - id: b\n    type: end\ntriggers:\n${triggers}`, `${name}.ygtc`);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.flow;
};
const text = (t: string): FlowEvent => ({ id: 'w', timestamp: 1, type: 'text', text: t });
const reply = (type: 'button_reply' | 'list_reply', id: string): FlowEvent => ({
  id: 'w',
  timestamp: 1,
  type: 'interactive',
  interactive: { type, id, title: id },
});

describe('matchTrigger', () => {
  const catchAll = flow('aaa_fallback', '  - type: any\n    target: a\n');
  const welcome = flow('welcome', '  - type: message\n    keyword: [hi, hello]\n    target: a\n');
  const orders = flow('orders', '  - type: message\n    regex: "^order\\\\s+\\\\d+$"\n    target: a\n  - type: message\n    target: b\n');
  const buttons = flow('buttons', '  - type: interactive\n    target: a\n  - type: interactive\n    id: human\n    target: b\n');
  const menu = flow('menu', '  - type: interactive\n    reply_type: list_reply\n    target: a\n  - type: interactive\n    id: [billing, pricing]\n    target: b\n');
  const all = [catchAll, welcome, orders, buttons, menu];

  it('keyword: whole text (case-insensitive, whitespace-collapsed) or whole word; not inside other words', () => {
    expect(matchTrigger(all, text('Hi'))).toEqual({ flowName: 'welcome', nodeId: 'a' });
    expect(matchTrigger(all, text('  HELLO  '))).toEqual({ flowName: 'welcome', nodeId: 'a' });
    expect(matchTrigger(all, text('hi there!'))).toEqual({ flowName: 'welcome', nodeId: 'a' });
    expect(matchTrigger(all, text('this is it'))).toEqual({ flowName: 'orders', nodeId: 'b' });
    expect(keywordInText('talk to human', 'please talk to   human now'.replace(/\s+/g, ' '))).toBe(true);
    expect(keywordInText('hi', 'hiking')).toBe(false);
  });

  it('filtered before unfiltered before catch-all, regardless of flow name', () => {
    expect(matchTrigger(all, text('order 42'))).toEqual({ flowName: 'orders', nodeId: 'a' });
    expect(matchTrigger(all, text('random'))).toEqual({ flowName: 'orders', nodeId: 'b' });
    expect(matchTrigger(all, { id: 'w', timestamp: 1, type: 'image', media: { id: 'm' } })).toEqual({ flowName: 'aaa_fallback', nodeId: 'a' });
    expect(matchTrigger([welcome], { id: 'w', timestamp: 1, type: 'image' })).toBeNull();
  });

  it('interactive: id filter beats reply_type filter beats unfiltered', () => {
    expect(matchTrigger(all, reply('button_reply', 'human'))).toEqual({ flowName: 'buttons', nodeId: 'b' });
    expect(matchTrigger(all, reply('button_reply', 'help'))).toEqual({ flowName: 'buttons', nodeId: 'a' });
    expect(matchTrigger(all, reply('list_reply', 'billing'))).toEqual({ flowName: 'menu', nodeId: 'b' });
    expect(matchTrigger(all, reply('list_reply', 'technical'))).toEqual({ flowName: 'menu', nodeId: 'a' });
  });

  it('ties are broken by flow name, then by trigger order', () => {
    const x = flow('x', '  - type: message\n    keyword: hi\n    target: a\n  - type: message\n    keyword: hi\n    target: b\n');
    const y = flow('y', '  - type: message\n    keyword: hi\n    target: b\n');
    expect(matchTrigger([y, x], text('hi'))).toEqual({ flowName: 'x', nodeId: 'a' });
    expect(matchTrigger([x, y], text('hi'))).toEqual({ flowName: 'x', nodeId: 'a' });
  });

  it('an exact keyword beats a word match in a flow that sorts first', () => {
    const a = flow('a_flow', '  - type: message\n    keyword: order\n    target: a\n');
    const b = flow('b_flow', '  - type: message\n    keyword: order status\n    target: b\n');
    expect(matchTrigger([a, b], text('Order Status'))).toEqual({ flowName: 'b_flow', nodeId: 'b' });
    expect(matchTrigger([a, b], text('order status please'))).toEqual({ flowName: 'a_flow', nodeId: 'a' });
  });

  it('button (template quick reply) by payload; media by kind; location; default is an alias of any', () => {
    const f = flow(
      'misc',
      '  - type: button\n    payload: confirm\n    target: a\n  - type: button\n    target: b\n  - type: media\n    media_type: document\n    target: a\n  - type: location\n    target: b\n  - type: default\n    target: b\n',
    );
    expect(matchTrigger([f], { id: 'w', timestamp: 1, type: 'button', button: { payload: 'confirm', text: 'Confirm' } })).toEqual({ flowName: 'misc', nodeId: 'a' });
    expect(matchTrigger([f], { id: 'w', timestamp: 1, type: 'button', button: { payload: 'later', text: 'Later' } })).toEqual({ flowName: 'misc', nodeId: 'b' });
    expect(matchTrigger([f], { id: 'w', timestamp: 1, type: 'document' })).toEqual({ flowName: 'misc', nodeId: 'a' });
    expect(matchTrigger([f], { id: 'w', timestamp: 1, type: 'location', location: { latitude: 1, longitude: 2 } })).toEqual({ flowName: 'misc', nodeId: 'b' });
    expect(matchTrigger([f], text('anything'))).toEqual({ flowName: 'misc', nodeId: 'b' });
    expect(f.triggers.at(-1)).toEqual({ type: 'any', target: 'b' });
  });

  it('no flows, no match', () => {
    expect(matchTrigger([], text('hi'))).toBeNull();
  });
});
