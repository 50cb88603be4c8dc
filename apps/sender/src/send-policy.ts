// What the sender does about a message it cannot send now, decided in one place and without I/O: a refusal
// before the request (opted out, window closed), a failed request by its Graph error class, a failed status that
// says the number is broken. The workers carry the decisions out.
import { classifyGraphError, CUSTOMER_SERVICE_WINDOW_MS, GRAPH_ERROR_ACTIONS, type GraphErrorAction, type GraphErrorClass } from '@gtc/whatsapp';

/** A class worth retrying: backs off exponentially from `baseMs` up to `capMs`; gives up after `attemptsFactor` × SEND_MAX_ATTEMPTS attempts. */
export interface RetryRule {
  action: 'retry';
  baseMs: number;
  capMs: number;
  attemptsFactor: number;
  /** Retried only when the message allows it (retry_on_rate_limit); otherwise failed at once. */
  onlyIfRetryOnRateLimit: boolean;
}

/** A class that fails the message (dead letter, never retried). */
export interface FailRule {
  action: 'fail_message';
}

/** A class that pauses the number (credentials or account broken): its messages stay queued until an admin resumes it. */
export interface PauseRule {
  action: 'pause_provider';
}

/** The rule a class gets, given the action @gtc/whatsapp names for it. */
type RuleFor<A extends GraphErrorAction> = Extract<RetryRule | FailRule | PauseRule, { action: A }>;

/**
 * Graph error class → what the sender does. Exhaustive and checked by the compiler: a class added to
 * GRAPH_ERROR_CLASSES without a row here, or a row whose action disagrees with GRAPH_ERROR_ACTIONS, does not compile.
 */
export const SEND_POLICY = {
  throttled: { action: 'retry', baseMs: 1_000, capMs: 60_000, attemptsFactor: 3, onlyIfRetryOnRateLimit: true },
  transient: { action: 'retry', baseMs: 500, capMs: 30_000, attemptsFactor: 1, onlyIfRetryOnRateLimit: false },
  window_closed: { action: 'fail_message' },
  permanent: { action: 'fail_message' },
  auth: { action: 'pause_provider' },
  account: { action: 'pause_provider' },
} as const satisfies { readonly [C in GraphErrorClass]: RuleFor<(typeof GRAPH_ERROR_ACTIONS)[C]> };

/**
 * Exponential backoff with jitter in the upper half, capped: a delay in [ceiling / 2, ceiling] where ceiling is
 * `min(capMs, baseMs × 2^(attempt − 1))`. `random` returns a number in [0, 1).
 */
export function backoff(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** A failed send request, as the policy needs it. */
export interface SendFailure {
  errorClass: GraphErrorClass;
  /** Graph `error.code`, when Meta gave one. */
  code?: number;
  message: string;
  /** The request may have reached Meta (no usable answer came back). */
  outcomeUnknown: boolean;
  /** Attempts made so far, this one included. */
  attempts: number;
  retryOnRateLimit: boolean;
}

/**
 * What to do about a failed send; `reason` is the text kept on the row (`class (code): message`, and why it gave up).
 * `await_status`: it may have left, hold it as unknown until a status carrying our id tells (or the reconcile time
 * passes) · `pause`: pause the number, keep the message queued · `fail`: fail the message · `retry`: queue it again
 * after `delayMs`.
 */
export type SendDecision =
  | { kind: 'await_status'; reason: string }
  | { kind: 'pause'; reason: string }
  | { kind: 'fail'; reason: string }
  | { kind: 'retry'; reason: string; delayMs: number };

/** The text of a failure as the row keeps it: `class (code): message`. */
export function failureText(errorClass: string, code: number | undefined, message: string): string {
  return `${errorClass}${code ? ` (${code})` : ''}: ${message}`;
}

/** Decides what becomes of a message whose send failed (SEND_POLICY by class; `maxAttempts` is SEND_MAX_ATTEMPTS). */
export function decideSendFailure(f: SendFailure, maxAttempts: number, random: () => number = Math.random): SendDecision {
  const reason = failureText(f.errorClass, f.code, f.message);
  if (f.outcomeUnknown) return { kind: 'await_status', reason };
  const rule: RetryRule | FailRule | PauseRule = SEND_POLICY[f.errorClass];
  switch (rule.action) {
    case 'pause_provider':
      return { kind: 'pause', reason };
    case 'fail_message':
      return { kind: 'fail', reason };
    case 'retry':
      if (rule.onlyIfRetryOnRateLimit && !f.retryOnRateLimit) return { kind: 'fail', reason: `${reason} (retry_on_rate_limit is false)` };
      if (f.attempts >= maxAttempts * rule.attemptsFactor) return { kind: 'fail', reason: `${reason} (gave up after ${f.attempts} attempts)` };
      return { kind: 'retry', reason, delayMs: backoff(f.attempts, rule.baseMs, rule.capMs, random) };
    default:
      return unhandled(rule);
  }
}

/** A rule no case handled: only reachable if a new action is added without a case (the compiler says so first). */
function unhandled(rule: never): never {
  throw new Error(`no decision for send rule ${JSON.stringify(rule)}`);
}

/** Why a message is refused before any request: its class (as kept on the row) and the text. */
export interface Refusal {
  errorClass: 'opted_out' | 'window_closed';
  text: string;
}

/**
 * Refusals decided from the message and its contact alone: business-initiated to an opted-out contact, or a
 * free-form message (not a template) outside the 24-hour window. Null when it may go.
 */
export function preSendRefusal(
  m: { businessInitiated: boolean; optedOut: boolean; type: string; lastInboundAtMs: number | null },
  now = Date.now(),
): Refusal | null {
  if (m.businessInitiated && m.optedOut) return { errorClass: 'opted_out', text: 'the contact has opted out of business-initiated messages' };
  if (m.type !== 'template' && (m.lastInboundAtMs === null || now - m.lastInboundAtMs > CUSTOMER_SERVICE_WINDOW_MS)) {
    return { errorClass: 'window_closed', text: 'the 24-hour customer service window is closed: only templates may be sent' };
  }
  return null;
}

/** Why a provider is paused: the Graph error class (`auth` or `account`), Meta's code, and the text. */
export interface PauseCause {
  errorClass: GraphErrorClass;
  code?: number;
  reason: string;
}

/**
 * A `failed` status whose code says the number (credentials or account) is broken, not the message (Meta reports
 * 131042 payment or 131031 locked this way too): the cause to pause the number with, so that its queued messages
 * wait for an admin instead of failing one by one. Null for any other status. The failed message itself stays
 * failed: it got a wamid, it is never sent again.
 */
export function failedStatusPause(applied: { state: string; errorCode: number | null; lastError: string | null }): PauseCause | null {
  if (applied.state !== 'failed' || applied.errorCode === null) return null;
  const errorClass = classifyGraphError({ code: applied.errorCode });
  if (SEND_POLICY[errorClass].action !== 'pause_provider') return null;
  return { errorClass, code: applied.errorCode, reason: `${errorClass} (${applied.errorCode}): failed status: ${applied.lastError ?? 'failed'}` };
}
