// @gtc/flows/runtime: only what runs compiled flows (trigger matching and the step engine), without the loader,
// its YAML parser and its schemas. The flow-runner's engine threads load this, so each thread's heap stays small.
export type { CompiledFlow, FlowSession, RunContext, RunResult } from './flow.types';
export { matchTrigger } from './trigger.matcher';
export { runFlow, resumeWait } from './flow.engine';
