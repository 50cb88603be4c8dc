import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './generated/schema';

export type { components, operations, paths } from './generated/schema';

/** The API's named schemas: `Schemas['Tenant']`, `Schemas['OutboundMessage']`, … */
export type Schemas = components['schemas'];

/** The body of every error answer: `{ error: { code, message, details? } }`. */
export type ApiErrorBody = Schemas['Error'];

/** A typed client of the admin API: `client.GET('/v1/tenants/{tenant}', { params: { path: { tenant: 'acme' } } })`. */
export type GtcClient = Client<paths>;

/** Where and how a client reaches the admin API. */
export interface GtcClientOptions {
  /** The admin service's URL, e.g. `http://localhost:3001` (or `''` in a page it serves). */
  baseUrl: string;
  /** The API key sent as `Authorization: Bearer <key>`, or a function that reads it at each request. */
  key: string | (() => string | undefined);
  /** The fetch to use (the global one by default). */
  fetch?: (request: Request) => Promise<Response>;
}

/** Creates a typed client whose every request carries the key. */
export function createGtcClient(options: GtcClientOptions): GtcClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  client.use({
    onRequest({ request }) {
      const key = typeof options.key === 'function' ? options.key() : options.key;
      if (key) request.headers.set('authorization', `Bearer ${key}`);
      return request;
    },
  });
  return client;
}
