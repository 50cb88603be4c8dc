// Helpers of the admin e2e tests: a JSON client that records every response (for the secrets check).

/** One HTTP answer of the admin API. */
export interface Answer {
  status: number;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
  headers: Headers;
}

/** Every response body seen by the tests, to assert no secret ever appears in one. */
export const seenBodies: string[] = [];

/** Calls the admin API; `key: null` sends no Authorization header. */
export async function call(
  base: string,
  method: string,
  path: string,
  opts: { key?: string | null; body?: unknown; raw?: string; contentType?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  let body: string | undefined;
  if (opts.raw !== undefined) {
    body = opts.raw;
    headers['content-type'] = opts.contentType ?? 'application/json';
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(`${base}${path}`, { method, headers, body, redirect: 'manual' });
  const text = await res.text();
  seenBodies.push(text);
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

/** Asserts the one error shape of the API and returns the error object. */
export function errorOf(a: Answer): { code: string; message: string; details?: Array<{ path: string; message: string }> } {
  if (!a.json?.error || typeof a.json.error.code !== 'string' || typeof a.json.error.message !== 'string') {
    throw new Error(`not an API error (${a.status}): ${a.text.slice(0, 300)}`);
  }
  return a.json.error;
}
