import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createGtcClient, type GtcClient } from '@gtc/client';
import { CliError } from './errors';

/** How long one admin API request may take. */
const REQUEST_TIMEOUT_MS = 30_000;

/** The development admin key of libs/config (used when neither --admin-key, GTC_ADMIN_KEY nor ADMIN_API_KEY is set). */
export const DEV_ADMIN_KEY = 'dev-admin-key-change-me-before-production';

/** Where and how to reach the admin API. */
export interface AdminOptions {
  adminUrl?: string;
  adminKey?: string;
}

/** Resolves --admin-url / GTC_ADMIN_URL (default http://localhost:<ADMIN_PORT, 3001>) and --admin-key / GTC_ADMIN_KEY / ADMIN_API_KEY. */
export function resolveAdmin(
  opts: AdminOptions,
  env: NodeJS.ProcessEnv = process.env,
): { url: string; key: string } {
  const url = (opts.adminUrl || env.GTC_ADMIN_URL || `http://localhost:${env.ADMIN_PORT || 3001}`).replace(
    /\/+$/,
    '',
  );
  const key = opts.adminKey || env.GTC_ADMIN_KEY || env.ADMIN_API_KEY || DEV_ADMIN_KEY;
  return { url, key };
}

/** An error answer of the admin API, in its `{ error: { code, message, details } }` shape. */
export class AdminApiError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Array<Record<string, unknown>> = [],
  ) {
    super(message);
  }
}

/** What a typed call of @gtc/client resolves to (openapi-fetch's answer). */
interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The request each answer came from, for error messages (a Response made here carries no URL). */
const requests = new WeakMap<Response, { method: string; path: string }>();

/**
 * The admin API through the typed client (@gtc/client): `api` makes the calls, typed by path, parameters and body;
 * `call` turns an answer into its data or a clear error (unreachable, wrong key, the API's own error).
 */
export class AdminClient {
  /** The typed client. */
  readonly api: GtcClient;

  constructor(
    readonly url: string,
    key: string,
  ) {
    this.api = createGtcClient({ baseUrl: url, key, fetch: (request) => this.exchange(request) });
  }

  /** Creates a client from command options and the environment. */
  static from(opts: AdminOptions): AdminClient {
    const { url, key } = resolveAdmin(opts);
    return new AdminClient(url, key);
  }

  /** The data of a 2xx answer, or AdminApiError (CliError when the API cannot be reached). */
  async call<T>(pending: Promise<Answer<T>>): Promise<T> {
    let answer: Answer<T>;
    try {
      answer = await pending;
    } catch (err) {
      if (err instanceof CliError) throw err;
      const e = err as NodeJS.ErrnoException;
      throw new CliError(
        `cannot reach the admin API at ${this.url} (${e.code ?? e.message}); is admin running? Set --admin-url or GTC_ADMIN_URL.`,
      );
    }
    if (answer.response.ok) return answer.data as T;
    throw this.failure(answer.response, answer.error);
  }

  /** Like `call`, with undefined for a 404 (a resource that does not exist yet). */
  async find<T>(pending: Promise<Answer<T>>): Promise<T | undefined> {
    try {
      return await this.call(pending);
    } catch (err) {
      if (err instanceof AdminApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** The error of a non-2xx answer, in words a person at a terminal can act on. */
  private failure(response: Response, body: unknown): AdminApiError {
    const status = response.status;
    const error = (
      body as
        { error?: { code?: string; message?: string; details?: Array<Record<string, unknown>> } } | undefined
    )?.error;
    if (status === 401) {
      return new AdminApiError(
        401,
        'unauthorized',
        `the admin API at ${this.url} refused the API key (${error?.message ?? 'unauthorized'}); set --admin-key or GTC_ADMIN_KEY`,
      );
    }
    if (status === 403)
      return new AdminApiError(
        403,
        'forbidden',
        `the API key is not allowed to do this: ${error?.message ?? 'forbidden'} (an admin key is needed)`,
      );
    const said = error?.message ?? ((typeof body === 'string' && body.trim().slice(0, 200)) || 'no message');
    const req = requests.get(response);
    return new AdminApiError(
      status,
      error?.code ?? 'error',
      `the admin API answered ${status} to ${req?.method} ${req?.path}: ${said}`,
      error?.details ?? [],
    );
  }

  /** The typed client's fetch: one exchange on node:http (see `send`), as a Response. */
  private async exchange(request: Request): Promise<Response> {
    const payload = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
    const url = new URL(request.url);
    const { status, text, contentType } = await send(url, request.method, request.headers, payload);
    const response = new Response(status === 204 || status === 304 ? null : text, {
      status,
      headers: contentType ? { 'content-type': contentType } : {},
    });
    requests.set(response, { method: request.method, path: `${url.pathname}${url.search}` });
    return response;
  }
}

/** One HTTP exchange; resolves with the answer even if writing the body then fails (the server closed early). */
function send(
  url: URL,
  method: string,
  requestHeaders: Headers,
  payload?: Buffer,
): Promise<{ status: number; text: string; contentType?: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = Object.fromEntries(requestHeaders.entries());
    if (payload) headers['content-length'] = payload.length;
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
      url,
      { method, headers, timeout: REQUEST_TIMEOUT_MS },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            text: Buffer.concat(chunks).toString('utf8'),
            contentType: res.headers['content-type'],
          }),
        );
        res.on('error', reject);
      },
    );
    // After an early answer the rest of the body meets a closed socket (EPIPE, ECONNRESET): the answer wins.
    req.on('error', (err) => setTimeout(() => reject(err), 50));
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.end(payload);
  });
}
