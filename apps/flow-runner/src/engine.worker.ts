// Thread that runs the pure flow engine (trigger patterns, CEL expressions, interpolation) for the flow-runner, so
// that tenant-supplied work never runs on the event loop that serves /health and the database.
import { parentPort } from 'node:worker_threads';
import { type CompiledFlow, type FlowSession, matchTrigger, resumeWait, type RunContext, type RunResult, runFlow } from '@gtc/flows/runtime';

/** What the engine is asked to do for one step. */
export type EngineTask =
  | { kind: 'start'; flow: CompiledFlow; context: RunContext; vars: Record<string, unknown> }
  | { kind: 'resume'; flow: CompiledFlow; context: RunContext; session: FlowSession }
  | { kind: 'match'; flows: CompiledFlow[]; context: RunContext; vars: Record<string, unknown> };

/** The engine's answer: a run of a flow, or no trigger matched. */
export type EngineAnswer = { result: RunResult; flowName: string } | { noMatch: true };

/** Runs one task on the engine (pure, synchronous). */
export function execute(task: EngineTask): EngineAnswer {
  switch (task.kind) {
    case 'start':
      return { result: runFlow({ flow: task.flow, startNodeId: task.flow.order[0], context: task.context, session: { vars: task.vars } }), flowName: task.flow.name };
    case 'resume':
      return { result: resumeWait({ flow: task.flow, context: task.context, session: task.session }), flowName: task.flow.name };
    case 'match': {
      const match = task.context.event ? matchTrigger(task.flows, task.context.event) : null;
      const flow = match && task.flows.find((f) => f.name === match.flowName);
      if (!match || !flow) return { noMatch: true };
      return { result: runFlow({ flow, startNodeId: match.nodeId, context: task.context, session: { vars: task.vars } }), flowName: flow.name };
    }
  }
}

/** One task's outcome in a batch's answer (a task that throws fails alone). */
export type EngineOutcome = { answer: EngineAnswer } | { error: string };

// A batch of tasks in, their outcomes out, in the same order.
parentPort?.on('message', (tasks: EngineTask[]) => {
  parentPort!.postMessage(
    tasks.map((task): EngineOutcome => {
      try {
        return { answer: execute(task) };
      } catch (e) {
        return { error: (e as Error).message ?? String(e) };
      }
    }),
  );
});
// Loaded: the step budget starts with the first task, not with loading the engine.
parentPort?.postMessage({ ready: true });
