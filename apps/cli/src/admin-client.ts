import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
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
export function resolveAdmin(opts: AdminOptions, env: NodeJS.ProcessEnv = process.env): { url: string; key: string } {
  const url = (opts.adminUrl || env.GTC_ADMIN_URL || `http://localhost:${env.ADMIN_PORT || 3001}`).replace(/\/+$/, '');
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

/** A small JSON client of the admin API with clear errors (unreachable, wrong key, API errors). */
export class AdminClient {
  constructor(
    readonly url: string,
    private readonly key: string,
  ) {}

  /** Creates a client from command options and the environment. */
  static from(opts: AdminOptions): AdminClient {
    const { url, key } = resolveAdmin(opts);
    return new AdminClient(url, key);
  }

  /** GET; returns undefined on 404 when `allow404`. */
  get<T>(path: string, allow404?: false): Promise<T>;
  get<T>(path: string, allow404: true): Promise<T | undefined>;
  async get<T>(path: string, allow404 = false): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', path);
    } catch (err) {
      if (allow404 && err instanceof AdminApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /**
   * Sends a JSON request and returns the parsed answer, or throws AdminApiError / CliError. The answer is read even
   * when the server answers before it has read the whole body (413) and closes: what the server said is reported.
   */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body !== undefined ? Buffer.from(JSON.stringify(body), 'utf8') : undefined;
    let answer: { status: number; text: string };
    try {
      answer = await send(new URL(`${this.url}${path}`), method, this.key, payload);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new CliError(`cannot reach the admin API at ${this.url} (${e.code ?? e.message}); is admin running? Set --admin-url or GTC_ADMIN_URL.`);
    }
    const { status, text } = answer;
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (status >= 200 && status < 300) return json as T;
    const error = (json as { error?: { code?: string; message?: string; details?: Array<Record<string, unknown>> } } | undefined)?.error;
    if (status === 401) {
      throw new AdminApiError(401, 'unauthorized', `the admin API at ${this.url} refused the API key (${error?.message ?? 'unauthorized'}); set --admin-key or GTC_ADMIN_KEY`);
    }
    if (status === 403) throw new AdminApiError(403, 'forbidden', `the API key is not allowed to do this: ${error?.message ?? 'forbidden'} (an admin key is needed)`);
    const said = error?.message ?? (text.trim().slice(0, 200) || 'no message');
    throw new AdminApiError(status, error?.code ?? 'error', `the admin API answered ${status} to ${method} ${path}: ${said}`, error?.details ?? []);
  }
}

/** One HTTP exchange; resolves with the answer even if writing the body then fails (the server closed early). */
function send(url: URL, method: string, key: string, payload?: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { authorization: `Bearer ${key}` };
    if (payload) Object.assign(headers, { 'content-type': 'application/json', 'content-length': payload.length });
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method, headers, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    // After an early answer the rest of the body meets a closed socket (EPIPE, ECONNRESET): the answer wins.
    req.on('error', (err) => setTimeout(() => reject(err), 50));
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.end(payload);
  });
}
