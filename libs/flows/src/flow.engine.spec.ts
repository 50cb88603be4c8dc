// The step engine: branch semantics, set, interpolation in replies, wait+branch, handoff, step cap, error handling.
// Every case is a row: a flow, where the run starts (runFlow) or the waiting session it resumes (resumeWait), what
// the run sees, and what must come out (only the parts a row names are compared).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resumeWait, runFlow } from './flow.engine';
import { loadFlow } from './flow.loader';
import type { CompiledFlow, FlowEvent, FlowSession, RunContext, RunReply, RunResult } from './flow.types';

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

/** The flows the cases run (YAML as a flow author writes it). */
const flows = {
  onButton: flowOf(`name: handle_button
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
`),
  noDefault: flowOf(`name: nd
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
`),
  checkWindow: flowOf(readFileSync(join(__dirname, '..', '..', '..', 'examples', 'flows', 'check_window.ygtc'), 'utf8')),
  interpolation: flowOf(`name: i
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
`),
  missing: flowOf(`name: m
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
`),
  absent: flowOf(`name: a
version: "1"
nodes:
  - id: r
    type: reply
    config:
      message: "You pressed {{button.title}}"
`),
  long: flowOf(`name: l
version: "1"
nodes:
  - id: r
    type: reply
    config:
      message: "{{long}}"
`),
  set: flowOf(`name: s
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
`),
  setError: flowOf(`name: e
version: "1"
nodes:
  - id: s
    type: set
    config:
      vars:
        x: "vars.nope + 1"
`),
  survey: flowOf(`name: survey
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
`),
  handoff: flowOf(`name: h
version: "1"
nodes:
  - id: r
    type: reply
    config:
      message: "Connecting you to a human..."
    next: h
  - id: h
    type: handoff
`),
  end: flowOf(`name: e
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
`),
  loop: flowOf(`name: loop
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
`),
  robustness: flowOf(`name: r
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
`),
};

/** What must come out of a run; only the parts given are compared (toEqual, so matchers may stand in for values). */
interface Outcome {
  /** The whole result. */
  whole?: RunResult;
  /** No error. */
  ok?: true;
  error?: RunResult['error'];
  trace?: string[];
  traceLength?: number;
  replies?: RunReply[];
  /** Node ids of the replies. */
  replyNodes?: string[];
  /** Contents of the replies. */
  contents?: unknown[];
  session?: FlowSession;
  vars?: Record<string, unknown>;
}

/** One run: from `start` (runFlow, with session `vars`), or resuming `waiting` (resumeWait). */
interface Case {
  name: string;
  flow: keyof typeof flows;
  start?: string;
  vars?: Record<string, unknown>;
  waiting?: FlowSession;
  context?: RunContext;
  out: Outcome;
}

function run(c: Case): RunResult {
  const flow = flows[c.flow];
  const context = c.context ?? ctx();
  if (c.waiting) return resumeWait({ flow, session: c.waiting, context });
  return runFlow({ flow, startNodeId: c.start!, context, ...(c.vars && { session: { vars: c.vars } }) });
}

function check(r: RunResult, out: Outcome): void {
  if (out.whole) expect(r).toEqual(out.whole);
  if (out.ok) expect(r.error).toBeUndefined();
  if (out.error) expect(r.error).toEqual(out.error);
  if (out.trace) expect(r.trace).toEqual(out.trace);
  if (out.traceLength !== undefined) expect(r.trace).toHaveLength(out.traceLength);
  if (out.replies) expect(r.replies).toEqual(out.replies);
  if (out.replyNodes) expect(r.replies.map((x) => x.nodeId)).toEqual(out.replyNodes);
  if (out.contents) expect(r.replies.map((x) => x.content)).toEqual(out.contents);
  if (out.session) expect(r.session).toEqual(out.session);
  if (out.vars) expect(r.session.vars).toEqual(out.vars);
}

const idle = (vars: Record<string, unknown> = {}): FlowSession => ({ status: 'idle', vars });
const waitingSurvey = (vars: Record<string, unknown> = {}): FlowSession => ({ status: 'waiting', flowName: 'survey', nodeId: 'wait_answer', vars });
const reply = (nodeId: string, content: RunReply['content']): RunReply => ({ nodeId, content, retryOnRateLimit: true });

const cases: Record<string, Case[]> = {
  branch: [
    {
      name: 'the first matching condition wins (help matches conditions 0 and 1)',
      flow: 'onButton',
      start: 'route_button',
      context: ctx(buttonEvent('help')),
      out: { ok: true, trace: ['route_button', 'show_help'], replies: [reply('show_help', { message: "Here's how I can help..." })], session: idle() },
    },
    {
      name: 'falls through to default when nothing matches, including for a text message',
      flow: 'onButton',
      start: 'route_button',
      context: ctx(textEvent('what?')),
      out: { trace: ['route_button', 'unknown'], replies: [reply('unknown', { message: 'Sorry, I did not get that.' })] },
    },
    {
      name: 'a button matching a later condition only (human) hands off',
      flow: 'onButton',
      start: 'route_button',
      context: ctx(buttonEvent('human')),
      out: { ok: true, trace: ['route_button', 'escalate'], replies: [], session: { status: 'handoff', flowName: 'handle_button', nodeId: 'escalate', vars: {} } },
    },
    {
      name: 'a branch without default and no match ends the run without replies',
      flow: 'noDefault',
      start: 'b',
      context: ctx(textEvent('y')),
      out: { whole: { replies: [], session: idle(), trace: ['b'] } },
    },
    {
      name: '24-hour window: freeform inside',
      flow: 'checkWindow',
      start: 'check_window',
      context: ctx(textEvent('hi'), { lastMessageTime: 1000, now: 2000 }),
      out: { replyNodes: ['send_freeform'] },
    },
    {
      name: '24-hour window: template outside',
      flow: 'checkWindow',
      start: 'check_window',
      context: ctx(textEvent('hi'), { lastMessageTime: 1000, now: 1000 + 86400 }),
      out: { replyNodes: ['send_template'], contents: [{ template: { name: 'follow_up', language: 'en' } }] },
    },
  ],

  'interpolation in replies': [
    {
      name: 'fills {{placeholders}} from vars, contact and message deeply (template parameters, interactive titles)',
      flow: 'interpolation',
      start: 't',
      context: ctx(textEvent('hello')),
      vars: { order_id: 4711, customer_name: 'Ada L.' },
      out: {
        ok: true,
        contents: [
          {
            template: {
              name: 'order_confirmation',
              language: 'en',
              components: [{ type: 'body', parameters: [{ type: 'text', text: '4711' }, { type: 'text', text: 'Ada L. (15550001111)' }] }],
            },
          },
          expect.objectContaining({
            interactive: expect.objectContaining({
              body: { text: 'You said: hello' },
              action: expect.objectContaining({ buttons: [expect.objectContaining({ reply: { id: 'ok-4711', title: 'OK Ada' } })] }),
            }),
          }),
        ],
      },
    },
    {
      name: 'a missing variable is an error of the run naming node and variable; replies before it are dropped',
      flow: 'missing',
      start: 'hello',
      context: ctx(textEvent('x')),
      vars: { customer_name: 'Ada', keep: 1 },
      out: {
        error: { nodeId: 'confirm', message: 'missing variable: {{order_id}}' },
        replies: [],
        session: idle({ customer_name: 'Ada', keep: 1 }),
        trace: ['hello', 'confirm'],
      },
    },
    {
      name: 'several missing variables are named together',
      flow: 'missing',
      start: 'hello',
      context: ctx(textEvent('x')),
      out: { error: { nodeId: 'confirm', message: 'missing variables: {{order_id}}, {{customer_name}}' }, replies: [] },
    },
    {
      name: 'an absent object is missing too: {{button.title}} on a text message is an error, not an empty string',
      flow: 'absent',
      start: 'r',
      context: ctx(textEvent('x')),
      out: { error: { nodeId: 'r', message: 'missing variable: {{button.title}}' } },
    },
    {
      name: '{{button.title}} on a button press is its title',
      flow: 'absent',
      start: 'r',
      context: ctx(buttonEvent('h', 'Get Help')),
      out: { contents: [{ message: 'You pressed Get Help' }] },
    },
    {
      name: 'content that breaks a WhatsApp limit after interpolation is an error of the run',
      flow: 'long',
      start: 'r',
      context: ctx(),
      vars: { long: 'x'.repeat(4097) },
      out: { error: { nodeId: 'r', message: expect.stringMatching(/4096/) } },
    },
    {
      name: 'content exactly at the limit goes',
      flow: 'long',
      start: 'r',
      context: ctx(),
      vars: { long: 'x'.repeat(4096) },
      out: { ok: true, replyNodes: ['r'] },
    },
  ],

  set: [
    {
      name: 'assigns variables in order from expressions; later ones see earlier ones; results are JSON',
      flow: 'set',
      start: 's',
      context: ctx(textEvent('x')),
      out: { vars: { count: 1, double: 2, greeting: 'Hi Ada', tags: ['a', 'b'], ratio: 1.5 }, contents: [{ message: 'Hi Ada #1' }] },
    },
    {
      name: 'run again on the stored session: count goes on from it',
      flow: 'set',
      start: 's',
      context: ctx(textEvent('x')),
      vars: JSON.parse(JSON.stringify({ count: 1, double: 2, greeting: 'Hi Ada', tags: ['a', 'b'], ratio: 1.5 })),
      out: { vars: { count: 2, double: 4, greeting: 'Hi Ada', tags: ['a', 'b'], ratio: 1.5 }, contents: [{ message: 'Hi Ada #2' }] },
    },
    {
      name: 'an expression error is an error of the run at that node',
      flow: 'setError',
      start: 's',
      context: ctx(),
      out: { error: { nodeId: 's', message: expect.stringMatching(/vars\.x.*No such key: nope/) } },
    },
  ],

  'wait + branch': [
    {
      name: 'asks and waits',
      flow: 'survey',
      start: 'ask',
      context: ctx(textEvent('survey')),
      out: { replyNodes: ['ask'], session: waitingSurvey() },
    },
    {
      name: 'stores the next message and branches on it',
      flow: 'survey',
      waiting: JSON.parse(JSON.stringify(waitingSurvey())),
      context: ctx(textEvent('YES')),
      out: {
        ok: true,
        trace: ['wait_answer', 'route', 'thanks'],
        replies: [reply('thanks', { message: 'Great, thanks Ada! You said YES.' })],
        session: idle({ answer: 'YES' }),
      },
    },
    {
      name: 'an unexpected answer loops back to the question and waits again',
      flow: 'survey',
      waiting: waitingSurvey(),
      context: ctx(textEvent('maybe')),
      out: { trace: ['wait_answer', 'route', 'ask', 'wait_answer'], replyNodes: ['ask'], session: waitingSurvey({ answer: 'maybe' }) },
    },
    {
      name: '"no" hands off: the session stays in handoff for an operator',
      flow: 'survey',
      waiting: waitingSurvey(),
      context: ctx(textEvent('no')),
      out: { replies: [], session: { status: 'handoff', flowName: 'survey', nodeId: 'sorry', vars: { answer: 'no' } } },
    },
    {
      name: 'a button pressed while waiting stores its title; the branch can also read button.id',
      flow: 'survey',
      waiting: waitingSurvey(),
      context: ctx(buttonEvent('y', 'Yes')),
      out: { vars: { answer: 'Yes' }, trace: ['wait_answer', 'route', 'thanks'] },
    },
    {
      name: 'the vars the session had are kept beside the answer',
      flow: 'survey',
      waiting: waitingSurvey({ before: 1 }),
      context: ctx(textEvent('yes')),
      out: { session: idle({ before: 1, answer: 'yes' }) },
    },
    {
      name: 'refuses to resume a session that is not waiting',
      flow: 'survey',
      waiting: idle(),
      context: ctx(textEvent('x')),
      out: { error: { nodeId: '', message: expect.stringMatching(/not waiting/) }, replies: [], trace: [] },
    },
    {
      name: 'refuses to resume a session waiting in another flow',
      flow: 'survey',
      waiting: { status: 'waiting', flowName: 'other', nodeId: 'wait_answer', vars: {} },
      context: ctx(textEvent('x')),
      out: { error: { nodeId: 'wait_answer', message: expect.stringMatching(/other/) } },
    },
    {
      name: 'refuses to resume at a node that is not a wait node',
      flow: 'survey',
      waiting: { status: 'waiting', flowName: 'survey', nodeId: 'ask', vars: { keep: true } },
      context: ctx(textEvent('x')),
      out: { error: { nodeId: 'ask', message: expect.stringMatching(/not a wait node/) }, session: idle({ keep: true }) },
    },
  ],

  'handoff and end': [
    {
      name: 'handoff after a reply keeps the reply and parks the session',
      flow: 'handoff',
      start: 'r',
      context: ctx(textEvent('human')),
      out: { replyNodes: ['r'], session: { status: 'handoff', flowName: 'h', nodeId: 'h', vars: {} } },
    },
    {
      name: 'end stops the run; nothing after it happens',
      flow: 'end',
      start: 's',
      context: ctx(),
      out: { whole: { replies: [], session: idle({ done: true }), trace: ['s', 'e'] } },
    },
  ],

  'step cap': [
    {
      name: 'a cycle without a wait stops after 100 nodes with an error and no replies',
      flow: 'loop',
      start: 'a',
      context: ctx(),
      vars: { before: true },
      out: { traceLength: 100, error: { nodeId: 'a', message: expect.stringMatching(/step limit/) }, replies: [], session: idle({ before: true }) },
    },
    {
      name: 'an unknown start node is an error',
      flow: 'onButton',
      start: 'nope',
      context: ctx(),
      out: { error: { nodeId: 'nope', message: 'node "nope" does not exist in flow "handle_button"' } },
    },
    {
      name: 'a start node named like an Object property (constructor) does not exist either',
      flow: 'onButton',
      start: 'constructor',
      context: ctx(),
      out: { error: { nodeId: 'constructor', message: expect.stringMatching(/does not exist/) } },
    },
    {
      name: 'oversized session variables are refused',
      flow: 'onButton',
      start: 'route_button',
      context: ctx(),
      vars: { big: 'x'.repeat(20_000) },
      out: { error: { nodeId: 'route_button', message: expect.stringMatching(/exceed/) }, trace: [] },
    },
  ],

  robustness: [
    {
      name: 'long strings built by set nodes stay readable',
      flow: 'robustness',
      start: 'grow',
      context: ctx(textEvent('x')),
      vars: { s: 'y'.repeat(3000) },
      out: { ok: true, trace: ['grow', 'check', 'done'] },
    },
    {
      name: 'deeply nested session variables are an error of the run, not a throw',
      flow: 'robustness',
      start: 'check',
      context: ctx(),
      vars: { deep: Array.from({ length: 30 }).reduce<Record<string, unknown>>((d) => ({ d }), {}) },
      out: { error: { nodeId: 'check', message: expect.stringMatching(/nested too deeply/) } },
    },
    {
      name: 'bad clocks (NaN) are harmless',
      flow: 'onButton',
      start: 'route_button',
      context: ctx(textEvent('x'), { now: Number.NaN, lastMessageTime: Number.NaN }),
      out: { ok: true },
    },
  ],
};

for (const [group, rows] of Object.entries(cases)) {
  describe(group, () => {
    it.each(rows)('$name', (c) => check(run(c), c.out));
  });
}

describe('the cases', () => {
  it('every flow above is run by some case', () => {
    const used = new Set(Object.values(cases).flatMap((rows) => rows.map((c) => c.flow)));
    expect(Object.keys(flows).filter((f) => !used.has(f as keyof typeof flows))).toEqual([]);
  });

  it('every case compares something', () => {
    expect(Object.values(cases).flatMap((rows) => rows.filter((c) => !Object.keys(c.out).length).map((c) => c.name))).toEqual([]);
  });
});
