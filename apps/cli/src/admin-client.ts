import { CliError } from './errors';

/** The development admin key of libs/config (used when neither --admin-key, GTC_ADMIN_KEY nor ADMIN_API_KEY is set). */
export const DEV_ADMIN_KEY = 'dev-admin-key-change-me-before-production';

/** Where and how to reach the admin API. */
export interface AdminOptions {
  adminUrl?: string;
  adminKey?: string;
}

/** Resolves --admin-url / GTC_ADMIN_URL (default http://localhost:3001) and --admin-key / GTC_ADMIN_KEY / ADMIN_API_KEY. */
export function resolveAdmin(opts: AdminOptions, env: NodeJS.ProcessEnv = process.env): { url: string; key: string } {
  const url = (opts.adminUrl || env.GTC_ADMIN_URL || 'http://localhost:3001').replace(/\/+$/, '');
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

  /** Sends a JSON request and returns the parsed answer, or throws AdminApiError / CliError. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(`cannot reach the admin API at ${this.url} (${cause?.code ?? cause?.message ?? (err as Error).message}); is admin running? Set --admin-url or GTC_ADMIN_URL.`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.ok) return json as T;
    const error = (json as { error?: { code?: string; message?: string; details?: Array<Record<string, unknown>> } } | undefined)?.error;
    if (res.status === 401) {
      throw new AdminApiError(401, 'unauthorized', `the admin API at ${this.url} refused the API key (${error?.message ?? 'unauthorized'}); set --admin-key or GTC_ADMIN_KEY`);
    }
    if (res.status === 403) throw new AdminApiError(403, 'forbidden', `the API key is not allowed to do this: ${error?.message ?? 'forbidden'} (an admin key is needed)`);
    throw new AdminApiError(res.status, error?.code ?? 'error', error?.message ?? `admin API answered ${res.status}`, error?.details ?? []);
  }
}
