// The step engine: runs a compiled flow from a node until it replies-and-ends, ends, waits or hands off. Pure, no I/O.
import { MAX_VARS_JSON_BYTES, type ExpressionScope, buildExpressionScope, evaluateExpression, eventText, fromCel } from './expression';
import type { CompiledFlow, CompiledNode, FlowSession, RunContext, RunReply, RunResult } from './flow.types';
import { MAX_INTERPOLATED_LENGTH, interpolate } from './interpolate';
import { validateRenderedContent } from './whatsapp.contract';

/** Most nodes one run may visit; more is an error (a cycle without a wait). */
export const MAX_STEPS = 100;

/** Input of runFlow: where to start, what the run sees, and the contact's session (its vars are read). */
export interface RunFlowInput {
  flow: CompiledFlow;
  startNodeId: string;
  context: RunContext;
  session?: Pick<FlowSession, 'vars'>;
}

/** Input of resumeWait: the session must be waiting at a wait node of `flow`; `context.event` is the contact's new message. */
export interface ResumeWaitInput {
  flow: CompiledFlow;
  context: RunContext;
  session: FlowSession;
}

function varsSize(vars: Record<string, unknown>): number {
  return JSON.stringify(vars).length;
}

function scopeOf(context: RunContext, vars: Record<string, unknown>): ExpressionScope | string {
  try {
    return buildExpressionScope(context, vars);
  } catch (e) {
    return `session variables cannot be read: ${(e as Error).message}`;
  }
}

function execute(
  flow: CompiledFlow,
  startNodeId: string,
  context: RunContext,
  vars: Record<string, unknown>,
  initialVars: Record<string, unknown>,
  trace: string[],
): RunResult {
  const replies: RunReply[] = [];
  // A run is all or nothing: on error no replies are returned and the session goes back to idle with the vars it had.
  const fail = (nodeId: string, message: string): RunResult => ({
    replies: [],
    session: { status: 'idle', vars: initialVars },
    trace,
    error: { nodeId, message },
  });
  let current: string | undefined = startNodeId;
  while (current !== undefined) {
    const node: CompiledNode | undefined = Object.hasOwn(flow.nodes, current) ? flow.nodes[current] : undefined;
    if (!node) return fail(current, `node "${current}" does not exist in flow "${flow.name}"`);
    if (trace.length >= MAX_STEPS) {
      return fail(current, `step limit reached: more than ${MAX_STEPS} nodes in one run (a cycle without a wait node?)`);
    }
    trace.push(node.id);
    switch (node.type) {
      case 'reply': {
        const r = interpolate(node.content, { vars, context });
        if (!r.ok && r.tooLong) {
          return fail(
            node.id,
            `reply content after interpolation: ${r.tooLong.join(', ')}: longer than ${MAX_INTERPOLATED_LENGTH} UTF-16 code units (WhatsApp allows at most 4096 characters)`,
          );
        }
        if (!r.ok) {
          return fail(node.id, `missing variable${r.missing.length > 1 ? 's' : ''}: ${r.missing.map((m) => `{{${m}}}`).join(', ')}`);
        }
        const problems = validateRenderedContent(r.value);
        if (problems.length > 0) {
          return fail(node.id, `reply content after interpolation: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
        }
        replies.push({ nodeId: node.id, content: r.value, retryOnRateLimit: node.retryOnRateLimit });
        current = node.next;
        break;
      }
      case 'branch': {
        const scope = scopeOf(context, vars);
        if (typeof scope === 'string') return fail(node.id, scope);
        let next: string | undefined = node.default;
        for (const [i, c] of node.conditions.entries()) {
          const r = evaluateExpression(c.expression, scope);
          if (!r.ok) return fail(node.id, `conditions[${i}] "${c.expression}": ${r.message}`);
          if (typeof r.value !== 'boolean') {
            return fail(node.id, `conditions[${i}] "${c.expression}" did not evaluate to a boolean`);
          }
          if (r.value) {
            next = c.next;
            break;
          }
        }
        current = next;
        break;
      }
      case 'set': {
        for (const v of node.vars) {
          const scope = scopeOf(context, vars);
          if (typeof scope === 'string') return fail(node.id, scope);
          const r = evaluateExpression(v.expression, scope);
          if (!r.ok) return fail(node.id, `vars.${v.name} = "${v.expression}": ${r.message}`);
          const stored = fromCel(r.value);
          if (!stored.ok) return fail(node.id, `vars.${v.name}: ${stored.message}`);
          vars = { ...vars, [v.name]: stored.value };
          if (varsSize(vars) > MAX_VARS_JSON_BYTES) {
            return fail(node.id, `session variables exceed ${MAX_VARS_JSON_BYTES} bytes`);
          }
        }
        current = node.next;
        break;
      }
      case 'wait':
        return { replies, session: { status: 'waiting', flowName: flow.name, nodeId: node.id, vars }, trace };
      case 'handoff':
        return { replies, session: { status: 'handoff', flowName: flow.name, nodeId: node.id, vars }, trace };
      case 'end':
        current = undefined;
        break;
    }
  }
  return { replies, session: { status: 'idle', vars }, trace };
}

function checkVars(vars: Record<string, unknown>): string | null {
  try {
    return varsSize(vars) > MAX_VARS_JSON_BYTES ? `session variables exceed ${MAX_VARS_JSON_BYTES} bytes` : null;
  } catch {
    return 'session variables are not JSON';
  }
}

/** Runs `flow` from `startNodeId` through branch/set/reply nodes until a reply without next, end, wait or handoff. */
export function runFlow(input: RunFlowInput): RunResult {
  const vars = { ...(input.session?.vars ?? {}) };
  const problem = checkVars(vars);
  if (problem) return { replies: [], session: { status: 'idle', vars }, trace: [], error: { nodeId: input.startNodeId, message: problem } };
  return execute(input.flow, input.startNodeId, input.context, vars, vars, []);
}

/** Continues a waiting session: stores the new message's text in the wait node's variable and runs on from its `next`. */
export function resumeWait(input: ResumeWaitInput): RunResult {
  const { flow, session, context } = input;
  const initial = { ...session.vars };
  const nodeId = session.nodeId ?? '';
  const fail = (message: string): RunResult => ({
    replies: [],
    session: { status: 'idle', vars: initial },
    trace: [],
    error: { nodeId, message },
  });
  if (session.status !== 'waiting') return fail(`session is ${session.status}, not waiting`);
  if (session.flowName !== flow.name) return fail(`session waits in flow "${session.flowName}", not "${flow.name}"`);
  const node = Object.hasOwn(flow.nodes, nodeId) ? flow.nodes[nodeId] : undefined;
  if (!node || node.type !== 'wait') return fail(`node "${nodeId}" is not a wait node of flow "${flow.name}"`);
  const vars = { ...initial, [node.var]: eventText(context.event) };
  const problem = checkVars(vars);
  if (problem) return fail(problem);
  return execute(flow, node.next, context, vars, initial, [node.id]);
}
