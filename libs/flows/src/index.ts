// Public API of @gtc/flows: the .ygtc flow language (loader, validator, triggers, expressions, engine). Pure, no I/O.
export * from './flow.types';
export { loadFlow, loadFragment, formatIssue, MAX_FLOW_SOURCE, type FragmentResult } from './flow.loader';
export { flowFileSchema, nodeSchema, triggerSchema, fragmentSchema, flowJsonSchema, type FlowFile } from './flow.schema';
export { matchTrigger, rankTrigger, keywordInText, normalizeText, MatchRank, type TriggerMatch } from './trigger.matcher';
export {
  compileExpression,
  evaluateExpression,
  buildExpressionScope,
  MAX_EXPRESSION_LENGTH,
  MAX_VARS_JSON_BYTES,
  type ExpressionScope,
  type ExpressionResult,
} from './expression';
export { interpolate, scanPlaceholders, checkPlaceholders, MAX_INTERPOLATED_LENGTH, type InterpolationScope, type InterpolationResult } from './interpolate';
export { runFlow, resumeWait, MAX_STEPS, type RunFlowInput, type ResumeWaitInput } from './flow.engine';
export { unsafeRegexReason, compilePattern, MAX_REGEX_LENGTH, MAX_REGEX_PROGRAM, MAX_PATTERN_INPUT, type PatternResult } from './safe-regex';
