// The console's one way to the admin API: the typed client (@gtc/client) on this origin, with the key read from
// session storage at every request. A 401 anywhere ends the session (back to sign-in).
import { createGtcClient, type ApiErrorBody, type Schemas } from '@gtc/client';

export type { Schemas };
export type Message = Schemas['Message'];
export type OutboundMessage = Schemas['OutboundMessage'];
export type InboundMessage = Schemas['InboundMessage'];
export type Contact = Schemas['Contact'];

const KEY = 'gtc.console.key';
const TENANT = 'gtc.console.tenant';

/** The API key of this tab (session storage only: gone when the tab closes; never a cookie, never in a URL). */
export const session = {
  key: (): string | undefined => sessionStorage.getItem(KEY) ?? undefined,
  signIn: (key: string): void => sessionStorage.setItem(KEY, key),
  signOut: (): void => {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(TENANT);
  },
  /** The tenant last opened in this tab (where `/console/` goes back to). */
  tenant: (): string | undefined => sessionStorage.getItem(TENANT) ?? undefined,
  setTenant: (slug: string): void => sessionStorage.setItem(TENANT, slug),
};

const unauthorizedListeners = new Set<() => void>();

/** Called when the API answers 401 (key revoked, or never valid). */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/** Ends the session because the API refused the key. */
export function unauthorized(): void {
  session.signOut();
  for (const l of unauthorizedListeners) l();
}

/** The typed admin API client of the page. */
export const api = createGtcClient({ baseUrl: '', key: session.key });
api.use({
  onResponse({ response }) {
    if (response.status === 401) unauthorized();
    return response;
  },
});

/** An error answer of the API, kept whole (code, message, details) for the page to show. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Array<{ path: string; message: string; [k: string]: unknown }> = [],
  ) {
    super(message);
  }
}

/** The data of an answer, or an ApiError with the API's own code and message. */
export function unwrap<T>(r: { data?: T; error?: unknown; response: Response }): T {
  if (r.error !== undefined || r.data === undefined) {
    const body = r.error as Partial<ApiErrorBody> | undefined;
    const e = body?.error;
    throw new ApiError(
      r.response.status,
      e?.code ?? `http_${r.response.status}`,
      e?.message ?? r.response.statusText,
      (e?.details as ApiError['details']) ?? [],
    );
  }
  return r.data;
}

/** The message of any error, as a line for the page. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return `${e.message} (${e.status} ${e.code})`;
  return e instanceof Error ? e.message : String(e);
}

/** Whether an error is the API's 404. */
export const isNotFound = (e: unknown): boolean => e instanceof ApiError && e.status === 404;
