// What to do about a failed Graph API call, decided in one place: one table code → class, one table class → action.
// Codes, titles and HTTP statuses: https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
// (and /docs/graph-api/guides/error-handling for 1, 2, 3, 4, 10, 190, 200–299); the class of each code follows
// WHATSAPP.md "Limits and errors".

/** Every class a Graph API failure falls into; the sender's reaction is decided by the class alone. */
export const GRAPH_ERROR_CLASSES = [
  'throttled',
  'transient',
  'window_closed',
  'permanent',
  'auth',
  'account',
] as const;

/**
 * `throttled`: back off and retry (rate limits) · `transient`: retry with backoff (5xx, timeouts, network) ·
 * `window_closed`: the 24-hour window is closed, only a template can go · `permanent`: this message will never
 * go, do not retry · `auth`: the provider's token or permissions are broken · `account`: the business account or
 * number is broken (not registered, locked, payment, certificate, policy block), not the message.
 */
export type GraphErrorClass = (typeof GRAPH_ERROR_CLASSES)[number];

/**
 * What the sender does: `retry` the message later (with backoff); `fail_message` (dead letter, never retried);
 * `pause_provider` (stop sending from that number, keep every message queued, until an admin resumes it).
 */
export type GraphErrorAction = 'retry' | 'fail_message' | 'pause_provider';

/** Class → action (each entry keeps its literal type, so a policy can be checked against it by the compiler). */
export const GRAPH_ERROR_ACTIONS = {
  throttled: 'retry',
  transient: 'retry',
  window_closed: 'fail_message',
  permanent: 'fail_message',
  auth: 'pause_provider',
  account: 'pause_provider',
} as const satisfies Readonly<Record<GraphErrorClass, GraphErrorAction>>;

/** One known Graph `error.code`: its class, Meta's title and the HTTP status Meta answers it with. */
export interface GraphErrorCodeInfo {
  /** What kind of failure it is (and so what the sender does, `GRAPH_ERROR_ACTIONS`). */
  errorClass: GraphErrorClass;
  /** Meta's title for the code (as in `error.message`: `(#code) title`). */
  title: string;
  /** HTTP status Meta answers the code with on a send. */
  httpStatus: number;
}

const code = (errorClass: GraphErrorClass, httpStatus: number, title: string): GraphErrorCodeInfo => ({
  errorClass,
  title,
  httpStatus,
});

/** Every Graph `error.code` the platform knows, code → class (Graph permission codes 200–299 are `auth` too). */
export const GRAPH_ERROR_CODES: Readonly<Record<number, GraphErrorCodeInfo>> = {
  // throttled: back off and retry
  4: code('throttled', 400, 'Application request limit reached'),
  80007: code('throttled', 400, 'Rate limit issues'),
  130429: code('throttled', 400, 'Rate limit hit'),
  131048: code('throttled', 400, 'Spam rate limit hit'),
  131056: code('throttled', 400, '(Business Account, Consumer Account) pair rate limit hit'),
  132069: code('throttled', 400, 'Flow throttled'),
  133016: code('throttled', 400, 'Account register deregister rate limit exceeded'),
  // transient: retry with backoff
  1: code('transient', 400, 'API Unknown'),
  2: code('transient', 503, 'API Service'),
  131000: code('transient', 500, 'Something went wrong'),
  131016: code('transient', 500, 'Service unavailable'),
  131057: code('transient', 500, 'Account in maintenance mode'),
  133004: code('transient', 503, 'Server temporarily unavailable'),
  // window closed: only a template can go
  131047: code('window_closed', 400, 'Re-engagement message'),
  // permanent for this message
  100: code('permanent', 400, 'Invalid parameter'),
  131008: code('permanent', 400, 'Required parameter is missing'),
  131009: code('permanent', 400, 'Parameter value is not valid'),
  131026: code('permanent', 400, 'Message undeliverable'),
  131049: code('permanent', 400, 'Meta chose not to deliver'),
  131050: code('permanent', 400, 'User stopped marketing messages'),
  131051: code('permanent', 400, 'Unsupported message type'),
  131053: code('permanent', 400, 'Media upload error'),
  132000: code('permanent', 400, 'Template Param Count Mismatch'),
  132001: code('permanent', 404, 'Template does not exist'),
  132005: code('permanent', 400, 'Template Hydrated Text Too Long'),
  132007: code('permanent', 400, 'Template Format Character Policy Violated'),
  132012: code('permanent', 400, 'Template Parameter Format Mismatch'),
  132015: code('permanent', 400, 'Template is Paused'),
  132016: code('permanent', 400, 'Template is Disabled'),
  132018: code('permanent', 400, 'Template Parameter Issue'),
  // auth: the provider's credentials or permissions are broken
  3: code('auth', 500, 'API Method'),
  10: code('auth', 403, 'Permission Denied'),
  190: code('auth', 401, 'Access token has expired'),
  131005: code('auth', 403, 'Access denied'),
  // account: the business account or number is broken, not the message
  368: code('account', 403, 'Temporarily blocked for policies violations'),
  131031: code('account', 403, 'Account has been locked'),
  131042: code('account', 400, 'Business eligibility payment issue'),
  131045: code('account', 400, 'Incorrect certificate'),
  133010: code('account', 400, 'Phone number not registered'),
};

/** Graph's permission errors are the codes 200–299. */
function isPermissionCode(code: number): boolean {
  return code >= 200 && code <= 299;
}

/**
 * Maps an HTTP status and/or a Graph `error.code` to its class. A known code decides (Meta answers most of them
 * with HTTP 400); otherwise the status does: 429 throttled, 401 auth, 5xx transient, other 4xx permanent. With
 * neither (no answer at all: timeout, connection error) the failure is transient; with only an unknown code (a
 * `failed` status webhook) it is permanent.
 */
export function classifyGraphError({
  httpStatus,
  code,
}: {
  httpStatus?: number;
  code?: number;
}): GraphErrorClass {
  if (code !== undefined) {
    const known = GRAPH_ERROR_CODES[code];
    if (known) return known.errorClass;
    if (isPermissionCode(code)) return 'auth';
  }
  if (httpStatus === undefined) return code === undefined ? 'transient' : 'permanent';
  if (httpStatus === 429) return 'throttled';
  if (httpStatus === 401) return 'auth';
  if (httpStatus >= 500) return 'transient';
  return 'permanent';
}

/** Facts about a failed Graph API call. */
export interface GraphApiErrorInit {
  /** Class of the failure; computed with `classifyGraphError` from the status and code when not given. */
  errorClass?: GraphErrorClass;
  /** HTTP status of the answer, when there was one. */
  httpStatus?: number;
  /** Graph `error.code`. */
  code?: number;
  /** Graph `error.error_subcode`. */
  subcode?: number;
  /** Graph `error.error_data.details`. */
  details?: string;
  /** Graph `error.fbtrace_id`, for Meta support. */
  fbtraceId?: string;
  /** True when the request may have reached Meta but no answer came back (see `GraphApiError.outcomeUnknown`). */
  outcomeUnknown: boolean;
  /** The underlying network error, if any. */
  cause?: unknown;
}

/** A failed Graph API call; every failure of `GraphApiClient` is one of these. Never carries the access token. */
export class GraphApiError extends Error {
  /** What to do about it. */
  readonly errorClass: GraphErrorClass;
  /** HTTP status of the answer; absent when no answer came. */
  readonly httpStatus?: number;
  /** Graph `error.code`. */
  readonly code?: number;
  /** Graph `error.error_subcode`. */
  readonly subcode?: number;
  /** Graph `error.error_data.details`. */
  readonly details?: string;
  /** Graph `error.fbtrace_id`. */
  readonly fbtraceId?: string;
  /**
   * True when the request may have been received and acted on by Meta although we got no usable answer (response
   * timeout, connection reset after the request was written, a gateway's 5xx): a send must then be reconciled
   * (status webhooks carrying our `biz_opaque_callback_data`) before it is retried. False when the request surely
   * did not leave (connection refused, DNS failure, connect timeout) or Meta answered with an error.
   */
  readonly outcomeUnknown: boolean;

  /** Builds the error; `errorClass` defaults to `classifyGraphError({ httpStatus, code })`. */
  constructor(message: string, init: GraphApiErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'GraphApiError';
    this.errorClass = init.errorClass ?? classifyGraphError({ httpStatus: init.httpStatus, code: init.code });
    this.outcomeUnknown = init.outcomeUnknown;
    if (init.httpStatus !== undefined) this.httpStatus = init.httpStatus;
    if (init.code !== undefined) this.code = init.code;
    if (init.subcode !== undefined) this.subcode = init.subcode;
    if (init.details !== undefined) this.details = init.details;
    if (init.fbtraceId !== undefined) this.fbtraceId = init.fbtraceId;
  }

  /** What the sender does about it (`GRAPH_ERROR_ACTIONS` of its class). */
  get action(): GraphErrorAction {
    return GRAPH_ERROR_ACTIONS[this.errorClass];
  }

  /** True for the classes worth retrying (throttled, transient). */
  get retryable(): boolean {
    return this.action === 'retry';
  }
}
