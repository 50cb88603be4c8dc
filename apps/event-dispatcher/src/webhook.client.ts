// One delivery attempt: the body signed as Standard Webhooks, POSTed with undici under a timeout, redirects not
// followed, the answer read (bounded) and dropped, the connection's address checked by the SSRF guard.
import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { Agent, request } from 'undici';
import { Webhook } from 'standardwebhooks';
import { checkLiteralHost, guardedLookup, RefusedAddressError } from './address-guard';

/** What one attempt came to. */
export interface AttemptResult {
  /** The endpoint's HTTP status; null when no answer came. */
  status: number | null;
  latencyMs: number;
  /** Why it failed (absent on a 2xx). */
  error?: string;
}

/** One signed POST to send. */
export interface SignedRequest {
  url: string;
  /** `webhook-id`: the public event id (the same at every attempt, so receivers can drop duplicates). */
  id: string;
  body: string;
  /** Current secret first; a rotated-out secret still valid after it (both signatures are sent). */
  secrets: string[];
}

/** Most bytes of an answer read before the rest is dropped. */
const MAX_ANSWER_BYTES = 64 * 1024;
/** Most characters of an error answer kept in the attempt's error. */
const ERROR_SNIPPET = 200;

/** The `webhook-signature` header: `v1,<base64>` for each secret, space-separated. */
export function signatureHeader(secrets: string[], id: string, at: Date, body: string): string {
  return secrets.map((s) => new Webhook(s).sign(id, at, body)).join(' ');
}

/** Sends event webhooks: one undici agent per process, its socket lookup guarded unless private networks are allowed. */
@Injectable()
export class WebhookClient implements OnModuleDestroy {
  private readonly agent: Agent;
  private readonly allowPrivate: boolean;
  private readonly httpsOnly: boolean;
  private readonly timeoutMs: number;

  constructor(config: AppConfig) {
    this.allowPrivate = config.env.EVENT_ALLOW_PRIVATE_NETWORKS;
    this.httpsOnly = config.env.NODE_ENV === 'production';
    this.timeoutMs = config.env.EVENT_TIMEOUT_MS;
    this.agent = new Agent({
      connect: { timeout: this.timeoutMs, ...(this.allowPrivate ? {} : { lookup: guardedLookup }) },
      keepAliveTimeout: 4_000,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
  }

  /** One attempt; never throws (every failure is a result with an error). */
  async send(req: SignedRequest): Promise<AttemptResult> {
    const started = performance.now();
    const latency = () => Math.round(performance.now() - started);
    try {
      const url = new URL(req.url);
      if (this.httpsOnly && url.protocol !== 'https:') return { status: null, latencyMs: 0, error: 'refused: https is required in production' };
      if (url.protocol !== 'https:' && url.protocol !== 'http:') return { status: null, latencyMs: 0, error: `refused: ${url.protocol} is not http(s)` };
      if (!this.allowPrivate) checkLiteralHost(url);
      const at = new Date();
      const res = await request(url, {
        method: 'POST',
        dispatcher: this.agent,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'gtc-webhooks/1',
          'webhook-id': req.id,
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': signatureHeader(req.secrets, req.id, at, req.body),
        },
        body: req.body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const ok = res.statusCode >= 200 && res.statusCode < 300;
      const answer = await readBounded(res.body, ok ? 0 : ERROR_SNIPPET);
      if (ok) return { status: res.statusCode, latencyMs: latency() };
      const snippet = Array.from(answer, (c) => (c < ' ' || c === '\u007f' || c === '\ufffd' ? ' ' : c)).join('').replace(/ {2,}/g, ' ').trim();
      return { status: res.statusCode, latencyMs: latency(), error: `HTTP ${res.statusCode}${snippet ? `: ${snippet}` : ''}` };
    } catch (err) {
      return { status: null, latencyMs: latency(), error: describe(err, this.timeoutMs) };
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.agent.close();
  }
}

/** Reads the answer up to MAX_ANSWER_BYTES and drops the rest; returns its first `keep` characters. */
async function readBounded(body: AsyncIterable<Buffer> & { destroy(): void }, keep: number): Promise<string> {
  let read = 0;
  const kept: Buffer[] = [];
  for await (const chunk of body) {
    if (read < keep) kept.push(chunk);
    read += chunk.length;
    if (read >= MAX_ANSWER_BYTES) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(kept).toString('utf8').slice(0, keep);
}

/** A failure without an answer, in words. */
function describe(err: unknown, timeoutMs: number): string {
  let e = err as Error & { code?: string; cause?: unknown };
  // undici wraps the socket's error (a refused address included) in its own.
  while (!(e instanceof RefusedAddressError) && e?.cause instanceof Error) e = e.cause as typeof e;
  if (e instanceof RefusedAddressError) return e.message;
  if (e?.name === 'TimeoutError' || e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT' || e?.code === 'UND_ERR_CONNECT_TIMEOUT') {
    return `timed out after ${timeoutMs} ms`;
  }
  return `${e?.code ? `${e.code}: ` : ''}${e?.message ?? String(err)}`.slice(0, 500);
}
