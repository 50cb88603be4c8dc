// The step engine: branch semantics, set, interpolation in replies, wait+branch, handoff, step cap, error handling.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resumeWait, runFlow } from './flow.engine';
import { loadFlow } from './flow.loader';
import type { CompiledFlow, FlowEvent, RunContext } from './flow.types';

const flowOf = (source: string): CompiledFlow => {
  const r = loadFlow(source, 'test.ygtc');
  if (!r.ok) throw new Error(JSON.stringify(r.errors, null, 2));
  return r.flow;
};
const textEvent = (text: string, id = 'wamid.x'): FlowEvent => ({ id, timestamp: 1_700_000_000, type: 'text', text });
const buttonEvent = (id: string, title = id): FlowEvent => ({
  id: 'wamid.b',
  timestamp: 1_700_000_000,
  type: 'interactive',
  interactive: { type: 'button_reply', id, title },
});
const ctx = (event?: FlowEvent, extra: Partial<RunContext> = {}): RunContext => ({
  event,
  contact: { wa_id: '15550001111', name: 'Ada' },
  lastMessageTime: 1_700_000_000 - 60,
  now: 1_700_000_000,
  ...extra,
});

const onButton = flowOf(`name: handle_button
version: "1.0"
nodes:
  - id: route_button
    type: branch
    config:
      conditions:
        - expression: "button.id == 'help'"
          next: show_help
        - expression: "button.id == 'status' || button.id == 'help'"
          next: check_status
        - expression: "button.id == 'human'"
          next: escalate
      default: unknown
  - id: show_help
    type: reply
    config:
      message: "Here's how I can help..."
  - id: check_status
    type: reply
    config:
      message: "Order {{order_id}} is on its way"
  - id: escalate
    type: handoff
  - id: unknown
    type: reply
    config:
      message: "Sorry, I did not get that."
triggers:
  - type: interactive
    target: route_button
`);

describe('branch', () => {
  it('the first matching condition wins (help matches conditions 0 and 1)', () => {
    const r = runFlow({ flow: onButton, startNodeId: 'route_button', context: ctx(buttonEvent('help')) });
    expect(r.error).toBeUndefined();
    expect(r.trace).toEqual(['route_button', 'show_help']);
    expect(r.replies).toEqual([{ nodeId: 'show_help', content: { message: "Here's how I can help..." }, retryOnRateLimit: true }]);
    expect(r.session).toEqual({ status: 'idle', vars: {} });
  });

  it('falls through to default when nothing matches, including for a text message', () => {
    const r = runFlow({ flow: onButton, startNodeId: 'route_button', context: ctx(textEvent('what?')) });
    expect(r.trace).toEqual(['route_button', 'unknown']);
    expect(r.replies[0].content).toEqual({ message: 'Sorry, I did not get that.' });
  });

  it('a branch without default and no match ends the run without replies', () => {
    const flow = flowOf(`name: nd
version: "1"
nodes:
  - id: b
    type: branch
    config:
      conditions:
        - expression: "message.text == 'x'"
          next: r
  - id: r
    type: reply
    config:
      message: "x!"
`);
    const r = runFlow({ flow, startNodeId: 'b', context: ctx(textEvent('y')) });
    expect(r).toEqual({ replies: [], session: { status: 'idle', vars: {} }, trace: ['b'] });
  });

  it('24-hour window: freeform inside, template outside', () => {
    const flow = flowOf(readFileSync(join(__dirname, '..', '..', '..', 'examples', 'flows', 'check_window.ygtc'), 'utf8'));
    const inside = runFlow({ flow, startNodeId: 'check_window', context: ctx(textEvent('hi'), { lastMessageTime: 1000, now: 2000 }) });
    expect(inside.replies.map((r) => r.nodeId)).toEqual(['send_freeform']);
    const outside = runFlow({ flow, startNodeId: 'check_window', context: ctx(textEvent('hi'), { lastMessageTime: 1000, now: 1000 + 86400 }) });
    expect(outside.replies.map((r) => r.nodeId)).toEqual(['send_template']);
    expect(outside.replies[0].content).toEqual({ template: { name: 'follow_up', language: 'en' } });
  });
});

describe('interpolation in replies', () => {
  it('fills {{placeholders}} from vars, contact and message deeply (template parameters, interactive titles)', () => {
    const flow = flowOf(`name: i
version: "1"
nodes:
  - id: t
    type: reply
    config:
      template:
        name: order_confirmation
        language: en
        components:
          - type: body
            parameters:
              - type: text
                text: "{{order_id}}"
              - type: text
                text: "{{ customer_name }} ({{contact.wa_id}})"
    next: b
  - id: b
    type: reply
    config:
      interactive:
        type: button
        body:
          text: "You said: {{message.text}}"
        action:
          buttons:
            - type: reply
              reply:
                id: "ok-{{order_id}}"
                title: "OK {{contact.name}}"
`);
    const r = runFlow({ flow, startNodeId: 't', context: ctx(textEvent('hello')), session: { vars: { order_id: 4711, customer_name: 'Ada L.' } } });
    expect(r.error).toBeUndefined();
    expect(r.replies[0].content).toEqual({
      template: {
        name: 'order_confirmation',
        language: 'en',
        components: [{ type: 'body', parameters: [{ type: 'text', text: '4711' }, { type: 'text', text: 'Ada L. (15550001111)' }] }],
      },
    });
    expect(r.replies[1].content).toMatchObject({
      interactive: { body: { text: 'You said: hello' }, action: { buttons: [{ reply: { id: 'ok-4711', title: 'OK Ada' } }] } },
    });
  });

  it('a missing variable is an error of the run naming node and variable; replies before it are dropped', () => {
    const flow = flowOf(`name: m
version: "1"
nodes:
  - id: hello
    type: reply
    config:
      message: "Hello"
    next: confirm
  - id: confirm
    type: reply
    config:
      message: "Order {{order_id}} for {{customer_name}}"
`);
    const r = runFlow({ flow, startNodeId: 'hello', context: ctx(textEvent('x')), session: { vars: { customer_name: 'Ada', keep: 1 } } });
    expect(r.error).toEqual({ nodeId: 'confirm', message: 'missing variable: {{order_id}}' });
    expect(r.replies).toEqual([]);
    expect(r.session).toEqual({ status: 'idle', vars: { customer_name: 'Ada', keep: 1 } });
    expect(r.trace).toEqual(['hello', 'confirm']);
  });

  it('an absent object is missing too: {{button.title}} on a text message is an error, not an empty string', () => {
    const flow = flowOf(`name: a
version: "1"
nodes:
  - id: r
    type: reply
    config:
      message: "You pressed {{button.title}}"
`);
    expect(runFlow({ flow, startNodeId: 'r', context: ctx(textEvent('x')) }).error).toEqual({
      nodeId: 'r',
      message: 'missing variable: {{button.title}}',
    });
    expect(runFlow({ flow, startNodeId: 'r', context: ctx(buttonEvent('h', 'Get Help')) }).replies[0].content).toEqual({
      message: 'You pressed Get Help',
    });
  });

  it('content that breaks a WhatsApp limit after interpolation is an error of the run', () => {
    const flow = flowOf(`name: l
version: "1"
nodes:
  - id: r
    type: reply
    config:
      message: "{{long}}"
`);
    const r = runFlow({ flow, startNodeId: 'r', context: ctx(), session: { vars: { long: 'x'.repeat(4097) } } });
    expect(r.error?.nodeId).toBe('r');
    expect(r.error?.message).toMatch(/4096/);
  });
});

describe('set', () => {
  it('assigns variables in order from expressions; later ones see earlier ones; results are JSON', () => {
    const flow = flowOf(`name: s
version: "1"
nodes:
  - id: s
    type: set
    config:
      vars:
        count: "has(vars.count) ? vars.count + 1 : 1"
        double: "vars.count * 2"
        greeting: "'Hi ' + contact.name"
        tags: "['a', 'b']"
        ratio: "1.5"
    next: r
  - id: r
    type: reply
    config:
      message: "{{greeting}} #{{count}}"
`);
    const first = runFlow({ flow, startNodeId: 's', context: ctx(textEvent('x')) });
    expect(first.session.vars).toEqual({ count: 1, double: 2, greeting: 'Hi Ada', tags: ['a', 'b'], ratio: 1.5 });
    expect(first.replies[0].content).toEqual({ message: 'Hi Ada #1' });
    const second = runFlow({ flow, startNodeId: 's', context: ctx(textEvent('x')), session: JSON.parse(JSON.stringify(first.session)) });
    expect(second.session.vars).toMatchObject({ count: 2, double: 4 });
  });

  it('an expression error is an error of the run at that node', () => {
    const flow = flowOf(`name: e
version: "1"
nodes:
  - id: s
    type: set
    config:
      vars:
        x: "vars.nope + 1"
`);
    const r = runFlow({ flow, startNodeId: 's', context: ctx() });
    expect(r.error).toMatchObject({ nodeId: 's', message: expect.stringMatching(/vars\.x.*No such key: nope/) });
  });
});

describe('wait + branch', () => {
  const survey = flowOf(`name: survey
version: "1"
nodes:
  - id: ask
    type: reply
    config:
      message: "Did that help? (yes/no)"
    next: wait_answer
  - id: wait_answer
    type: wait
    config:
      var: answer
    next: route
  - id: route
    type: branch
    config:
      conditions:
        - expression: "vars.answer.lowerAscii() == 'yes'"
          next: thanks
        - expression: "vars.answer.lowerAscii() == 'no'"
          next: sorry
      default: ask
  - id: thanks
    type: reply
    config:
      message: "Great, thanks {{contact.name}}! You said {{answer}}."
  - id: sorry
    type: handoff
    config:
      reason: "survey said no"
triggers:
  - type: message
    keyword: survey
    target: ask
`);

  it('asks, waits, stores the next message and branches on it', () => {
    const first = runFlow({ flow: survey, startNodeId: 'ask', context: ctx(textEvent('survey')) });
    expect(first.replies.map((r) => r.nodeId)).toEqual(['ask']);
    expect(first.session).toEqual({ status: 'waiting', flowName: 'survey', nodeId: 'wait_answer', vars: {} });
    const stored = JSON.parse(JSON.stringify(first.session));
    const second = resumeWait({ flow: survey, session: stored, context: ctx(textEvent('YES')) });
    expect(second.error).toBeUndefined();
    expect(second.trace).toEqual(['wait_answer', 'route', 'thanks']);
    expect(second.replies).toEqual([{ nodeId: 'thanks', content: { message: 'Great, thanks Ada! You said YES.' }, retryOnRateLimit: true }]);
    expect(second.session).toEqual({ status: 'idle', vars: { answer: 'YES' } });
  });

  it('an unexpected answer loops back to the question and waits again', () => {
    const waiting = { status: 'waiting' as const, flowName: 'survey', nodeId: 'wait_answer', vars: {} };
    const r = resumeWait({ flow: survey, session: waiting, context: ctx(textEvent('maybe')) });
    expect(r.trace).toEqual(['wait_answer', 'route', 'ask', 'wait_answer']);
    expect(r.session).toMatchObject({ status: 'waiting', nodeId: 'wait_answer', vars: { answer: 'maybe' } });
  });

  it('"no" hands off: the session stays in handoff for an operator', () => {
    const waiting = { status: 'waiting' as const, flowName: 'survey', nodeId: 'wait_answer', vars: {} };
    const r = resumeWait({ flow: survey, session: waiting, context: ctx(textEvent('no')) });
    expect(r.replies).toEqual([]);
    expect(r.session).toEqual({ status: 'handoff', flowName: 'survey', nodeId: 'sorry', vars: { answer: 'no' } });
  });

  it('a button pressed while waiting stores its title; the branch can also read button.id', () => {
    const waiting = { status: 'waiting' as const, flowName: 'survey', nodeId: 'wait_answer', vars: {} };
    const r = resumeWait({ flow: survey, session: waiting, context: ctx(buttonEvent('y', 'Yes')) });
    expect(r.session.vars).toEqual({ answer: 'Yes' });
    expect(r.trace.at(-1)).toBe('thanks');
  });

  it('refuses to resume a session that is not waiting in this flow', () => {
    expect(resumeWait({ flow: survey, session: { status: 'idle', vars: {} }, context: ctx(textEvent('x')) }).error?.message).toMatch(/not waiting/);
    expect(
      resumeWait({ flow: survey, session: { status: 'waiting', flowName: 'other', nodeId: 'wait_answer', vars: {} }, context: ctx(textEvent('x')) })
        .error?.message,
    ).toMatch(/other/);
    expect(
      resumeWait({ flow: survey, session: { status: 'waiting', flowName: 'survey', nodeId: 'ask', vars: {} }, context: ctx(textEvent('x')) })
        .error?.message,
    ).toMatch(/not a wait node/);
  });
});

describe('handoff and end', () => {
  it('handoff after a reply keeps the reply and parks the session', () => {
    const flow = flowOf(`name: h
version: "1"
nodes:
  - id: r
    type: reply
    config:
      message: "Connecting you to a human..."
    next: h
  - id: h
    type: handoff
`);
    const r = runFlow({ flow, startNodeId: 'r', context: ctx(textEvent('human')) });
    expect(r.replies.map((x) => x.nodeId)).toEqual(['r']);
    expect(r.session).toEqual({ status: 'handoff', flowName: 'h', nodeId: 'h', vars: {} });
  });

  it('end stops the run; nothing after it happens', () => {
    const flow = flowOf(`name: e
version: "1"
nodes:
  - id: s
    type: set
    config:
      vars:
        done: "true"
    next: e
  - id: e
    type: end
`);
    expect(runFlow({ flow, startNodeId: 's', context: ctx() })).toEqual({ replies: [], session: { status: 'idle', vars: { done: true } }, trace: ['s', 'e'] });
  });
});

describe('step cap', () => {
  it('a cycle without a wait stops after 100 nodes with an error and no replies', () => {
    const flow = flowOf(`name: loop
version: "1"
nodes:
  - id: a
    type: reply
    config:
      message: "again"
    next: b
  - id: b
    type: set
    config:
      vars:
        n: "has(vars.n) ? vars.n + 1 : 1"
    next: a
`);
    const r = runFlow({ flow, startNodeId: 'a', context: ctx(), session: { vars: { before: true } } });
    expect(r.trace).toHaveLength(100);
    expect(r.error).toMatchObject({ nodeId: 'a', message: expect.stringMatching(/step limit/) });
    expect(r.replies).toEqual([]);
    expect(r.session).toEqual({ status: 'idle', vars: { before: true } });
  });

  it('an unknown start node is an error', () => {
    expect(runFlow({ flow: onButton, startNodeId: 'nope', context: ctx() }).error).toEqual({
      nodeId: 'nope',
      message: 'node "nope" does not exist in flow "handle_button"',
    });
    expect(runFlow({ flow: onButton, startNodeId: 'constructor', context: ctx() }).error?.message).toMatch(/does not exist/);
  });

  it('oversized session variables are refused', () => {
    const r = runFlow({ flow: onButton, startNodeId: 'route_button', context: ctx(), session: { vars: { big: 'x'.repeat(20_000) } } });
    expect(r.error?.message).toMatch(/exceed/);
  });
});

describe('robustness', () => {
  const flow = flowOf(`name: r
version: "1"
nodes:
  - id: grow
    type: set
    config:
      vars:
        s: "vars.s + vars.s"
    next: check
  - id: check
    type: branch
    config:
      conditions:
        - expression: "vars.s.size() > 5000"
          next: done
  - id: done
    type: end
`);

  it('long strings built by set nodes stay readable; deep nesting and bad clocks are errors or harmless, never throws', () => {
    const r = runFlow({ flow, startNodeId: 'grow', context: ctx(textEvent('x')), session: { vars: { s: 'y'.repeat(3000) } } });
    expect(r.error).toBeUndefined();
    expect(r.trace).toEqual(['grow', 'check', 'done']);
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 30; i++) deep = { d: deep };
    const nested = runFlow({ flow, startNodeId: 'check', context: ctx(), session: { vars: { deep } } });
    expect(nested.error).toMatchObject({ nodeId: 'check', message: expect.stringMatching(/nested too deeply/) });
    const clocks = runFlow({ flow: onButton, startNodeId: 'route_button', context: ctx(textEvent('x'), { now: Number.NaN, lastMessageTime: Number.NaN }) });
    expect(clocks.error).toBeUndefined();
  });
});
