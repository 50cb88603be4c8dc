// The examples/ bundle: every flow loads with zero errors, contains every page snippet, and routes as documented.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resumeWait, runFlow } from './flow.engine';
import { formatIssue, loadFlow, loadFragment } from './flow.loader';
import type { CompiledFlow, FlowEvent, RunContext } from './flow.types';
import { matchTrigger } from './trigger.matcher';

const examples = join(__dirname, '..', '..', '..', 'examples');
const files = readdirSync(join(examples, 'flows')).filter((f) => f.endsWith('.ygtc')).sort();
const flows: CompiledFlow[] = files.map((f) => {
  const r = loadFlow(readFileSync(join(examples, 'flows', f), 'utf8'), `flows/${f}`);
  if (!r.ok) throw new Error(r.errors.map(formatIssue).join('\n'));
  return r.flow;
});
const byName = (name: string) => flows.find((f) => f.name === name) as CompiledFlow;
const ctx = (event: FlowEvent): RunContext => ({ event, contact: { wa_id: '15550001111', name: 'Ada' }, lastMessageTime: 0, now: 1_700_000_000 });
const text = (t: string): FlowEvent => ({ id: 'w', timestamp: 1_700_000_000, type: 'text', text: t });
const button = (id: string, title: string): FlowEvent => ({ id: 'w', timestamp: 1, type: 'interactive', interactive: { type: 'button_reply', id, title } });

describe('examples bundle', () => {
  it.each(files)('%s loads with zero errors', (f) => {
    const r = loadFlow(readFileSync(join(examples, 'flows', f), 'utf8'), `flows/${f}`);
    expect(r.ok ? [] : r.errors.map(formatIssue)).toEqual([]);
    // The only warnings are for business-initiated flows without triggers.
    const expected = ['order_confirmation.ygtc', 'check_window.ygtc'].includes(f) ? 1 : 0;
    expect(r.warnings.map(formatIssue)).toHaveLength(expected);
  });

  it('contains every node snippet of the provider page, unchanged', () => {
    const page = join(__dirname, '..', 'testdata', 'page');
    const all = flows.flatMap((f) => f.order.map((id) => f.nodes[id]));
    for (const snippet of readdirSync(page).filter((f) => f.endsWith('.yaml'))) {
      const r = loadFragment(readFileSync(join(page, snippet), 'utf8'), snippet);
      if (!r.ok) throw new Error(snippet);
      for (const node of r.nodes) {
        const withoutNext: Record<string, unknown> = { ...node };
        delete withoutNext.next;
        expect(all, `${snippet}: ${node.id}`).toContainEqual(expect.objectContaining(withoutNext));
      }
    }
  });

  it('answers.json is the page one plus app_secret', () => {
    const answers = JSON.parse(readFileSync(join(examples, 'answers.json'), 'utf8'));
    expect(answers).toEqual({
      'messaging-whatsapp': {
        enabled: true,
        public_base_url: 'https://your-domain.ngrok-free.app',
        phone_number_id: '123456789012345',
        access_token: 'EAAxxxxx...',
        verify_token: 'your-verify-token',
        business_account_id: '987654321098765',
        app_secret: expect.any(String),
      },
    });
  });

  it('routes inbound messages to the documented flows', () => {
    const cases: Array<[FlowEvent, string, string]> = [
      [text('Hi'), 'welcome', 'reply'],
      [text('hello there'), 'welcome', 'reply'],
      [button('help', 'Get Help'), 'handle_button', 'route_button'],
      [{ id: 'w', timestamp: 1, type: 'interactive', interactive: { type: 'list_reply', id: 'billing', title: 'Billing' } }, 'support_menu', 'billing'],
      [text('menu'), 'support_menu', 'show_menu'],
      [text('where are you?'), 'media', 'send_location'],
      [{ id: 'w', timestamp: 1, type: 'location', location: { latitude: 1, longitude: 2 } }, 'media', 'send_location'],
      [{ id: 'w', timestamp: 1, type: 'button', button: { payload: 'confirm', text: 'Confirm' } }, 'appointment_reminder', 'confirmed'],
      [text('ping'), 'rate_limit', 'reply'],
      [text('feedback'), 'feedback', 'ask'],
      [text('blah'), 'fallback', 'hint'],
      [{ id: 'w', timestamp: 1, type: 'image', media: { id: 'm' } }, 'fallback', 'hint'],
    ];
    for (const [event, flowName, nodeId] of cases) expect(matchTrigger(flows, event), JSON.stringify(event)).toEqual({ flowName, nodeId });
  });

  it('welcome greets and offers the buttons; "Talk to Human" hands off', () => {
    const hi = runFlow({ flow: byName('welcome'), startNodeId: 'reply', context: ctx(text('hi')) });
    expect(hi.replies.map((r) => r.nodeId)).toEqual(['reply', 'ask_action']);
    const human = runFlow({ flow: byName('handle_button'), startNodeId: 'route_button', context: ctx(button('human', 'Talk to Human')) });
    expect(human.replies.map((r) => r.nodeId)).toEqual(['escalate']);
    expect(human.session).toMatchObject({ status: 'handoff', flowName: 'handle_button', nodeId: 'hand_over' });
  });

  it('feedback: wait for the button, branch on it', () => {
    const flow = byName('feedback');
    const asked = runFlow({ flow, startNodeId: 'ask', context: ctx(text('feedback')) });
    expect(asked.session).toMatchObject({ status: 'waiting', nodeId: 'wait_answer' });
    const yes = resumeWait({ flow, session: asked.session, context: ctx(button('fb_yes', 'Yes')) });
    expect(yes.replies.map((r) => r.nodeId)).toEqual(['say_thanks']);
    expect(yes.session).toEqual({ status: 'idle', vars: { answer: 'Yes', satisfied: true } });
    const other = resumeWait({ flow, session: asked.session, context: ctx(text('hmm')) });
    expect(other.replies.map((r) => r.nodeId)).toEqual(['ask_again']);
    expect(other.session.status).toBe('waiting');
  });

  it('business-initiated templates interpolate the variables they are started with', () => {
    const r = runFlow({
      flow: byName('appointment_reminder'),
      startNodeId: 'send_notification',
      context: { contact: { wa_id: '1' }, lastMessageTime: 0, now: 1 },
      session: { vars: { customer_name: 'Ada', appointment_time: 'Monday 10:00' } },
    });
    expect(JSON.stringify(r.replies[0].content)).toContain('"text":"Monday 10:00"');
    const missing = runFlow({ flow: byName('order_confirmation'), startNodeId: 'send_template', context: { contact: {}, lastMessageTime: 0, now: 1 } });
    expect(missing.error).toEqual({ nodeId: 'send_template', message: 'missing variables: {{order_id}}, {{customer_name}}' });
  });
});
