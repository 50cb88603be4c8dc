import { once } from 'node:events';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { loadConfig } from '@gtc/config';
import { WebhookClient } from '../src/webhook.client';

const SECRET = `whsec_${Buffer.from('webhook-client-test-secret').toString('base64')}`;
const TIMEOUT_MS = 1_000;

/** What the test server received, by path. */
const received: Record<string, { headers: IncomingMessage['headers']; body: string }[]> = {};

/** Answers by path: the behaviours an endpoint can have, as a real HTTP server on 127.0.0.1. */
const routes: Record<string, (res: ServerResponse) => void> = {
  '/ok': (res) => res.writeHead(204).end(),
  '/redirect': (res) => res.writeHead(302, { location: '/ok' }).end(),
  '/error': (res) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`boom\n\u0000 at\t\tline ${'x'.repeat(400)}`),
  // 1 MB of answer to a 2xx: read up to the bound, the rest dropped with the connection.
  '/huge': (res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(Buffer.alloc(1024 * 1024, 'a'));
  },
  // Headers at once, then a byte every 100 ms for 30 s: never idle long enough for undici's idle timeouts.
  '/drip': (res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    const t = setInterval(() => res.write('.'), 100);
    setTimeout(() => {
      clearInterval(t);
      res.end();
    }, 30_000);
    res.on('close', () => clearInterval(t));
  },
  '/hang': () => undefined,
};

describe('WebhookClient (against a real HTTP server)', () => {
  let server: Server;
  let base: string;
  let client: WebhookClient;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        (received[req.url!] ??= []).push({ headers: req.headers, body });
        routes[req.url!]?.(res);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new WebhookClient(loadConfig({ EVENT_TIMEOUT_MS: String(TIMEOUT_MS), EVENT_ALLOW_PRIVATE_NETWORKS: 'true' }));
  });

  afterAll(async () => {
    await client.onModuleDestroy();
    server.closeAllConnections();
    server.close();
  });

  const send = (path: string, id = `evt_${path.slice(1)}`) => client.send({ url: `${base}${path}`, id, body: JSON.stringify({ id, n: 1 }), secrets: [SECRET] });

  it('POSTs the body signed as Standard Webhooks; a 2xx is a result without error', async () => {
    const r = await send('/ok');
    expect(r).toMatchObject({ status: 204 });
    expect(r.error).toBeUndefined();
    const [hit] = received['/ok'];
    expect(hit.headers['content-type']).toBe('application/json');
    expect(new Webhook(SECRET).verify(hit.body, hit.headers as Record<string, string>)).toEqual({ id: 'evt_ok', n: 1 });
  });

  it('does not follow a redirect: the 3xx is the answer, its target never requested', async () => {
    const before = received['/ok']?.length ?? 0;
    const r = await send('/redirect');
    expect(r).toMatchObject({ status: 302, error: 'HTTP 302' });
    expect(received['/ok']?.length ?? 0).toBe(before);
  });

  it("keeps the start of an error answer, control characters and runs of spaces folded, at most 200 characters", async () => {
    const r = await send('/error');
    expect(r.status).toBe(500);
    // The first 200 characters of the answer ("boom\n\0 at\t\tline " is 16 of them), then folded.
    expect(r.error).toBe(`HTTP 500: boom at line ${'x'.repeat(200 - 16)}`);
  });

  it('reads a huge answer only up to its bound, and goes on sending on a new connection', async () => {
    expect(await send('/huge')).toMatchObject({ status: 200 });
    expect(await send('/ok', 'evt_after_huge')).toMatchObject({ status: 204 });
  });

  it('ends an attempt at its deadline even when the answer keeps trickling in (no idle timeout would)', async () => {
    const r = await send('/drip');
    expect(r.status).toBeNull();
    expect(r.error).toBe(`timed out after ${TIMEOUT_MS} ms`);
    // The drip lasts 30 s; the attempt ended at its deadline, far before.
    expect(r.latencyMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(r.latencyMs).toBeLessThan(15_000);
  });

  it('times out an endpoint that never answers', async () => {
    const r = await send('/hang');
    expect(r).toMatchObject({ status: null, error: `timed out after ${TIMEOUT_MS} ms` });
  });

  it('answers a refused connection with the error, not a throw', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    await once(closed, 'close');
    const r = await client.send({ url: `http://127.0.0.1:${port}/x`, id: 'evt_refused', body: '{}', secrets: [SECRET] });
    expect(r.status).toBeNull();
    expect(r.error).toMatch(/ECONNREFUSED/);
  });
});
