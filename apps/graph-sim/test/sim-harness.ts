import { createHmac, timingSafeEqual } from 'node:crypto';
import { IncomingHttpHeaders, Server, createServer } from 'node:http';
import { once } from 'node:events';

// Test helpers for graph-sim's specs: a loopback webhook receiver and a tiny JSON client.

/** One POST the receiver got. */
export interface Received {
  raw: Buffer;
  headers: IncomingHttpHeaders;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  at: number;
  /** The status code the receiver answered. */
  answered: number;
}

/** A status from a received webhook, with the time it arrived. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ReceivedStatus = Record<string, any> & { _at: number };

/** A webhook receiver on 127.0.0.1 that records every POST and answers with `respond` (200 by default). */
export class WebhookReceiver {
  readonly received: Received[] = [];
  respond: (req: Omit<Received, 'answered'>, index: number) => number = () => 200;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  /** Starts a receiver on a free loopback port. */
  static async start(): Promise<WebhookReceiver> {
    const ref: { self?: WebhookReceiver } = {};
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        let body: unknown;
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          body = undefined;
        }
        const entry = { raw, headers: req.headers, body, at: Date.now() };
        const self = ref.self!;
        const code = self.respond(entry, self.received.length);
        self.received.push({ ...entry, answered: code });
        res.statusCode = code;
        res.end(code === 200 ? 'ok' : 'no');
      });
    });
    server.keepAliveTimeout = 60_000;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    ref.self = new WebhookReceiver(server, `http://127.0.0.1:${port}/webhook`);
    return ref.self;
  }

  /** Forgets what was received and answers 200 again. */
  clear(): void {
    this.received.length = 0;
    this.respond = () => 200;
  }

  /** Received POSTs that were acknowledged with 200. */
  get accepted(): Received[] {
    return this.received.filter((r) => r.answered === 200);
  }

  /** Every status in the acknowledged webhooks, in arrival order. */
  statuses(filter?: (s: ReceivedStatus) => boolean): ReceivedStatus[] {
    const out: ReceivedStatus[] = [];
    for (const r of this.accepted) {
      for (const e of r.body?.entry ?? []) {
        for (const c of e.changes ?? []) for (const s of c.value?.statuses ?? []) out.push({ ...s, _at: r.at });
      }
    }
    return filter ? out.filter(filter) : out;
  }

  /** Every inbound message in the acknowledged webhooks, in arrival order. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  messages(): any[] {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const out: any[] = [];
    for (const r of this.accepted) for (const e of r.body?.entry ?? []) for (const c of e.changes ?? []) out.push(...(c.value?.messages ?? []));
    return out;
  }

  /** Waits until `check` is true (polling), or fails after `timeoutMs`. */
  async waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; received ${this.received.length} POSTs`);
      await sleep(10);
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close').catch(() => undefined);
  }
}

/** True when `header` is `sha256=` + HMAC-SHA256(secret, raw). */
export function signatureMatches(raw: Buffer, header: string | string[] | undefined, secret: string): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = createHmac('sha256', secret).update(raw).digest();
  const got = Buffer.from(header.slice(7), 'hex');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A JSON response. */
export interface JsonResponse {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** A small JSON client for one base URL. */
export function client(base: string) {
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> => {
    const res = await fetch(base + path, {
      method,
      headers: body !== undefined ? { 'content-type': 'application/json', ...headers } : headers,
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed };
  };
  return {
    get: (path: string, headers?: Record<string, string>) => call('GET', path, undefined, headers),
    post: (path: string, body: unknown, headers?: Record<string, string>) => call('POST', path, body, headers),
    /** POST /v18.0/:id/messages with a bearer token. */
    send: (phoneNumberId: string, token: string, body: unknown) => call('POST', `/v18.0/${phoneNumberId}/messages`, body, { authorization: `Bearer ${token}` }),
  };
}

/** A text message body. */
export function textBody(to: string, text: string, callbackData?: string): Record<string, unknown> {
  return {
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    to,
    type: 'text',
    text: { body: text },
    ...(callbackData !== undefined ? { biz_opaque_callback_data: callbackData } : {}),
  };
}
