// What to do about a failed Graph API call, decided in one place.
// Error codes: https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes

/** Every class a Graph API failure falls into; the sender's reaction is decided by the class alone. */
export const GRAPH_ERROR_CLASSES = ['throttled', 'transient', 'window_closed', 'permanent', 'auth'] as const;

/**
 * `throttled`: back off and retry (rate limits) · `transient`: retry with backoff (5xx, timeouts, network) ·
 * `window_closed`: the 24-hour window is closed, only a template can go · `permanent`: this message will never
 * go, do not retry · `auth`: the provider's token or permissions are broken, pause the provider and alert.
 */
export type GraphErrorClass = (typeof GRAPH_ERROR_CLASSES)[number];

const THROTTLED = new Set([4, 80007, 130429, 131048, 131056, 133016]);
const TRANSIENT = new Set([131000, 131053, 133004]);
const WINDOW_CLOSED = new Set([131047]);
const PERMANENT = new Set([
  100, 131008, 131009, 131026, 131049, 131050, 131051, 132000, 132001, 132005, 132007, 132012, 132015, 132016,
  368,
]);
const AUTH = new Set([10, 190]);

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
    if (THROTTLED.has(code)) return 'throttled';
    if (TRANSIENT.has(code)) return 'transient';
    if (WINDOW_CLOSED.has(code)) return 'window_closed';
    if (PERMANENT.has(code)) return 'permanent';
    if (AUTH.has(code) || isPermissionCode(code)) return 'auth';
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

  /** True for the classes worth retrying (throttled, transient). */
  get retryable(): boolean {
    return this.errorClass === 'throttled' || this.errorClass === 'transient';
  }
}
