import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GraphApiClient } from './graph-api.client';
import { GraphApiError, type GraphErrorClass } from './graph-errors';
import { buildMessageBody } from './outbound.builder';
import type { GraphMessageBody } from './outbound.types';

const TOKEN = 'EAAtoken-secret-123';
const TIMEOUT_MS = 300;

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  socket: number;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** A real HTTP server on 127.0.0.1 playing the Graph API; each test sets `handler`. */
let server: Server;
let baseUrl: string;
let handler: Handler;
const seen: Seen[] = [];
const sockets = new WeakMap<object, number>();
let socketCount = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body,
        socket: sockets.get(req.socket)!,
      });
      handler(req, res, body);
    });
  });
  server.on('connection', (socket) => sockets.set(socket, ++socketCount));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const clients: GraphApiClient[] = [];
function client(options: Partial<ConstructorParameters<typeof GraphApiClient>[0]> = {}): GraphApiClient {
  const c = new GraphApiClient({ baseUrl, timeoutMs: TIMEOUT_MS, ...options });
  clients.push(c);
  return c;
}

afterEach(async () => {
  seen.length = 0;
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

function reply(status: number, body: unknown, headers: Record<string, string> = {}): Handler {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
}

function graphError(code: number, extra: Record<string, unknown> = {}) {
  return {
    error: {
      message: `(#${code}) Something`,
      type: 'OAuthException',
      code,
      error_data: { messaging_product: 'whatsapp', details: `details of ${code}` },
      fbtrace_id: `trace-${code}`,
      ...extra,
    },
  };
}

const messageBody = (() => {
  const built = buildMessageBody({ message: 'Hello! How can I help you today?' }, '15551234567', {
    callbackData: 'om_1',
  });
  if (!built.ok) throw new Error('fixture body does not build');
  return built.body;
})();

function send(c: GraphApiClient, body: GraphMessageBody = messageBody) {
  return c.sendMessage({ apiVersion: 'v18.0', phoneNumberId: 'PN1', accessToken: TOKEN, body });
}

async function failure(promise: Promise<unknown>): Promise<GraphApiError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GraphApiError);
  return err as GraphApiError;
}

describe('GraphApiClient.sendMessage', () => {
  it('posts the body with the bearer token and returns the wamid', async () => {
    handler = reply(200, {
      messaging_product: 'whatsapp',
      contacts: [{ input: '15551234567', wa_id: '15551234567' }],
      messages: [{ id: 'wamid.OK1' }],
    });
    await expect(send(client())).resolves.toEqual({ wamid: 'wamid.OK1', waId: '15551234567' });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/v18.0/PN1/messages' });
    expect(seen[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(seen[0]!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(seen[0]!.body)).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '15551234567',
      biz_opaque_callback_data: 'om_1',
      type: 'text',
      text: { body: 'Hello! How can I help you today?' },
    });
  });

  it('keeps connections alive between requests', async () => {
    handler = reply(200, { messages: [{ id: 'wamid.K' }] });
    const c = client();
    for (let i = 0; i < 6; i += 1) await send(c);
    expect(seen).toHaveLength(6);
    // Sequential requests reuse pooled connections instead of opening one each.
    expect(new Set(seen.map((s) => s.socket)).size).toBeLessThanOrEqual(2);
  });

  it('honours a path prefix in the base URL', async () => {
    handler = reply(200, { messages: [{ id: 'wamid.P' }] });
    await send(client({ baseUrl: `${baseUrl}/graph/` }));
    expect(seen[0]!.url).toBe('/graph/v18.0/PN1/messages');
  });

  const errorCases: {
    name: string;
    status: number;
    body: unknown;
    errorClass: GraphErrorClass;
    code?: number;
    outcomeUnknown: boolean;
  }[] = [
    {
      name: 'throughput limit',
      status: 400,
      body: graphError(130429),
      errorClass: 'throttled',
      code: 130429,
      outcomeUnknown: false,
    },
    {
      name: 'pair rate limit',
      status: 400,
      body: graphError(131056),
      errorClass: 'throttled',
      code: 131056,
      outcomeUnknown: false,
    },
    {
      name: 'HTTP 429 with app limit',
      status: 429,
      body: graphError(4),
      errorClass: 'throttled',
      code: 4,
      outcomeUnknown: false,
    },
    {
      name: 'generic error',
      status: 500,
      body: graphError(131000),
      errorClass: 'transient',
      code: 131000,
      outcomeUnknown: false,
    },
    {
      name: '24-hour window closed',
      status: 400,
      body: graphError(131047),
      errorClass: 'window_closed',
      code: 131047,
      outcomeUnknown: false,
    },
    {
      name: 'invalid parameter',
      status: 400,
      body: graphError(100),
      errorClass: 'permanent',
      code: 100,
      outcomeUnknown: false,
    },
    {
      name: 'template missing',
      status: 404,
      body: graphError(132001),
      errorClass: 'permanent',
      code: 132001,
      outcomeUnknown: false,
    },
    {
      name: 'expired token',
      status: 401,
      body: graphError(190, { error_subcode: 463 }),
      errorClass: 'auth',
      code: 190,
      outcomeUnknown: false,
    },
    {
      name: 'missing permission',
      status: 403,
      body: graphError(200),
      errorClass: 'auth',
      code: 200,
      outcomeUnknown: false,
    },
    {
      name: 'gateway 502 without a Graph body',
      status: 502,
      body: '<html>Bad Gateway</html>',
      errorClass: 'transient',
      outcomeUnknown: true,
    },
    {
      name: '400 without a Graph body',
      status: 400,
      body: 'nope',
      errorClass: 'permanent',
      outcomeUnknown: false,
    },
  ];

  it.each(errorCases)('$name → $errorClass', async ({ status, body, errorClass, code, outcomeUnknown }) => {
    handler = reply(status, body);
    const err = await failure(send(client()));
    expect(err.errorClass).toBe(errorClass);
    expect(err.httpStatus).toBe(status);
    expect(err.code).toBe(code);
    expect(err.outcomeUnknown).toBe(outcomeUnknown);
    if (code !== undefined) {
      expect(err.message).toBe(`POST /v18.0/PN1/messages: (#${code}) Something`);
      expect(err.details).toBe(`details of ${code}`);
      expect(err.fbtraceId).toBe(`trace-${code}`);
    }
  });

  it('reads the subcode', async () => {
    handler = reply(401, graphError(190, { error_subcode: 463 }));
    expect((await failure(send(client()))).subcode).toBe(463);
  });

  it('a slow answer times out: transient, outcome unknown', async () => {
    handler = (_req, res) => {
      setTimeout(
        () => reply(200, { messages: [{ id: 'wamid.LATE' }] })(_req, res, ''),
        TIMEOUT_MS * 4,
      ).unref();
    };
    const started = Date.now();
    const err = await failure(send(client()));
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS * 4);
    expect(err).toMatchObject({ errorClass: 'transient', outcomeUnknown: true });
    expect(err.httpStatus).toBeUndefined();
    expect(seen).toHaveLength(1);
  });

  it('a connection reset after the request was sent: transient, outcome unknown', async () => {
    handler = (req) => req.socket.destroy();
    const err = await failure(send(client()));
    expect(err).toMatchObject({ errorClass: 'transient', outcomeUnknown: true });
    expect(seen).toHaveLength(1);
  });

  it('connection refused: transient, surely not sent', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const err = await failure(send(client({ baseUrl: `http://127.0.0.1:${port}` })));
    expect(err).toMatchObject({ errorClass: 'transient', outcomeUnknown: false });
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('a 200 without a message id: transient, outcome unknown', async () => {
    handler = reply(200, { messaging_product: 'whatsapp', messages: [] });
    const err = await failure(send(client()));
    expect(err).toMatchObject({ errorClass: 'transient', outcomeUnknown: true, httpStatus: 200 });
  });

  it('a 200 that is not JSON: transient, outcome unknown', async () => {
    handler = reply(200, 'OK');
    expect(await failure(send(client()))).toMatchObject({ errorClass: 'transient', outcomeUnknown: true });
  });

  it('never lets the token into an error', async () => {
    handler = reply(401, {
      error: {
        message: `Malformed access token ${TOKEN}`,
        code: 190,
        error_data: { details: `token ${TOKEN}` },
      },
    });
    const err = await failure(send(client()));
    expect(err.errorClass).toBe('auth');
    expect(err.message).toBe('POST /v18.0/PN1/messages: Malformed access token [redacted]');
    expect(inspect(err, { depth: 10 })).not.toContain(TOKEN);
    expect(JSON.stringify(err)).not.toContain(TOKEN);

    handler = (_req, res) => setTimeout(() => res.end('{}'), TIMEOUT_MS * 4).unref();
    const timeout = await failure(send(client()));
    expect(inspect(timeout, { depth: 10 })).not.toContain(TOKEN);
  });
});

describe('GraphApiClient.markAsRead', () => {
  it('posts a read receipt for the message', async () => {
    handler = reply(200, { success: true });
    await client().markAsRead({
      apiVersion: 'v18.0',
      phoneNumberId: 'PN1',
      accessToken: TOKEN,
      messageId: 'wamid.IN1',
    });
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/v18.0/PN1/messages' });
    expect(JSON.parse(seen[0]!.body)).toEqual({
      messaging_product: 'whatsapp',
      status: 'read',
      message_id: 'wamid.IN1',
    });
  });

  it('fails like any other call', async () => {
    handler = reply(400, graphError(100));
    const err = await failure(
      client().markAsRead({ apiVersion: 'v18.0', phoneNumberId: 'PN1', accessToken: TOKEN, messageId: 'x' }),
    );
    expect(err.errorClass).toBe('permanent');
  });
});

describe('GraphApiClient media', () => {
  it('gets a media URL', async () => {
    handler = reply(200, {
      messaging_product: 'whatsapp',
      url: `${baseUrl}/whatsapp_business/attachments/?mid=M1`,
      mime_type: 'image/jpeg',
      sha256: 'abc=',
      file_size: '5',
      id: 'M1',
    });
    const media = await client().getMediaUrl({
      apiVersion: 'v18.0',
      mediaId: 'M1',
      accessToken: TOKEN,
      phoneNumberId: 'PN1',
    });
    expect(media).toEqual({
      url: `${baseUrl}/whatsapp_business/attachments/?mid=M1`,
      mimeType: 'image/jpeg',
      sha256: 'abc=',
      fileSize: 5,
    });
    expect(seen[0]).toMatchObject({ method: 'GET', url: '/v18.0/M1?phone_number_id=PN1' });
    expect(seen[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('downloads media with the token, as a stream', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': '5' });
      res.end(Buffer.from([1, 2, 3, 4, 5]));
    };
    const download = await client().downloadMedia({
      url: `${baseUrl}/whatsapp_business/attachments/?mid=M1`,
      accessToken: TOKEN,
    });
    expect(download.contentType).toBe('image/jpeg');
    expect(download.contentLength).toBe(5);
    const chunks: Buffer[] = [];
    for await (const chunk of download.body) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks)).toEqual(Buffer.from([1, 2, 3, 4, 5]));
    expect(seen[0]).toMatchObject({ method: 'GET', url: '/whatsapp_business/attachments/?mid=M1' });
    expect(seen[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('an expired download URL is a permanent failure', async () => {
    handler = reply(404, 'gone');
    const err = await failure(client().downloadMedia({ url: `${baseUrl}/x`, accessToken: TOKEN }));
    expect(err).toMatchObject({ errorClass: 'permanent', httpStatus: 404, outcomeUnknown: false });
  });

  it('refuses a URL that is not http(s)', async () => {
    const err = await failure(client().downloadMedia({ url: 'file:///etc/passwd', accessToken: TOKEN }));
    expect(err.errorClass).toBe('permanent');
    expect(seen).toHaveLength(0);
  });
});

describe('GraphApiClient.listTemplates', () => {
  it('follows the paging cursors on its own base URL', async () => {
    const pages: Record<string, unknown> = {
      '': {
        data: [
          {
            id: '1',
            name: 'order_confirmation',
            language: 'en',
            status: 'APPROVED',
            category: 'UTILITY',
            components: [{ type: 'BODY', text: 'Order {{1}}' }],
          },
        ],
        paging: {
          cursors: { before: 'MA', after: 'MQ' },
          next: 'https://graph.facebook.com/v18.0/WABA/message_templates?after=MQ',
        },
      },
      MQ: {
        data: [
          {
            id: '2',
            name: 'appointment_reminder',
            language: 'en',
            status: 'PENDING',
            category: 'UTILITY',
            components: [],
          },
        ],
        paging: {
          cursors: { before: 'MQ', after: 'Mg' },
          next: 'https://graph.facebook.com/v18.0/WABA/message_templates?after=Mg',
        },
      },
      Mg: {
        data: [
          {
            id: '3',
            name: 'follow_up',
            language: 'en_US',
            status: 'REJECTED',
            category: 'MARKETING',
            components: [],
          },
        ],
        paging: { cursors: { before: 'Mg', after: 'Mw' } },
      },
    };
    handler = (req, res) => {
      const after = new URL(req.url!, baseUrl).searchParams.get('after') ?? '';
      reply(200, pages[after])(req, res, '');
    };
    const templates = await client().listTemplates({
      apiVersion: 'v18.0',
      businessAccountId: 'WABA',
      accessToken: TOKEN,
    });
    expect(templates).toEqual([
      {
        id: '1',
        name: 'order_confirmation',
        language: 'en',
        status: 'APPROVED',
        category: 'UTILITY',
        components: [{ type: 'BODY', text: 'Order {{1}}' }],
      },
      {
        id: '2',
        name: 'appointment_reminder',
        language: 'en',
        status: 'PENDING',
        category: 'UTILITY',
        components: [],
      },
      {
        id: '3',
        name: 'follow_up',
        language: 'en_US',
        status: 'REJECTED',
        category: 'MARKETING',
        components: [],
      },
    ]);
    expect(seen.map((s) => s.url)).toEqual([
      '/v18.0/WABA/message_templates?limit=100',
      '/v18.0/WABA/message_templates?limit=100&after=MQ',
      '/v18.0/WABA/message_templates?limit=100&after=Mg',
    ]);
    expect(seen.every((s) => s.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('stops when the cursor does not move', async () => {
    handler = reply(200, {
      data: [],
      paging: { cursors: { after: 'SAME' }, next: 'https://graph.facebook.com/next' },
    });
    await expect(
      client().listTemplates({ apiVersion: 'v18.0', businessAccountId: 'WABA', accessToken: TOKEN }),
    ).resolves.toEqual([]);
    expect(seen).toHaveLength(2);
  });

  it('reports an auth failure', async () => {
    handler = reply(401, graphError(190));
    const err = await failure(
      client().listTemplates({ apiVersion: 'v18.0', businessAccountId: 'WABA', accessToken: TOKEN }),
    );
    expect(err.errorClass).toBe('auth');
  });
});
