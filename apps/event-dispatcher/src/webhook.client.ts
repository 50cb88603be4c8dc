// One delivery attempt: the body signed as Standard Webhooks, POSTed with undici within a deadline, redirects not
// followed, the answer read (bounded) and dropped, the connection's address checked by the SSRF guard.
import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { Agent, Dispatcher } from 'undici';
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

/** Signers by secret (`new Webhook` decodes its secret: once per secret, not per attempt); emptied past this many. */
const MAX_SIGNERS = 10_000;
const signers = new Map<string, Webhook>();

/** The `webhook-signature` header: `v1,<base64>` for each secret, space-separated. */
export function signatureHeader(secrets: string[], id: string, at: Date, body: string): string {
  return secrets.map((s) => signer(s).sign(id, at, body)).join(' ');
}

function signer(secret: string): Webhook {
  let w = signers.get(secret);
  if (!w) {
    if (signers.size >= MAX_SIGNERS) signers.clear();
    w = new Webhook(secret);
    signers.set(secret, w);
  }
  return w;
}

/** An attempt that ran out of time (the attempt's deadline, or undici's own timeouts). */
class AttemptTimeout extends Error {
  override name = 'TimeoutError';
}

/** The answer to one request: its status and the first characters of its body (only kept for an error answer). */
interface Answer {
  status: number;
  text: string;
}

/**
 * Sends event webhooks: one undici agent per process, its socket lookup guarded unless private networks are allowed.
 * An attempt is one `dispatch` with a handler of its own and a plain timer as its deadline: undici's `request` with an
 * `AbortSignal.timeout` cost about twice the CPU per attempt (the signal's listeners and the body stream), and
 * an attempt is most of what the dispatcher does.
 */
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
      const answer = await this.post(url, {
        'content-type': 'application/json',
        'user-agent': 'gtc-webhooks/1',
        'webhook-id': req.id,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': signatureHeader(req.secrets, req.id, at, req.body),
      }, req.body);
      if (answer.status >= 200 && answer.status < 300) return { status: answer.status, latencyMs: latency() };
      const snippet = Array.from(answer.text, (c) => (c < ' ' || c === '\u007f' || c === '\ufffd' ? ' ' : c)).join('').replace(/ {2,}/g, ' ').trim();
      return { status: answer.status, latencyMs: latency(), error: `HTTP ${answer.status}${snippet ? `: ${snippet}` : ''}` };
    } catch (err) {
      return { status: null, latencyMs: latency(), error: describe(err, this.timeoutMs) };
    }
  }

  /**
   * POSTs `body` and reads the answer within the attempt's deadline: up to MAX_ANSWER_BYTES (the rest is dropped
   * with the connection), of which an error answer's first ERROR_SNIPPET characters are kept. Redirects are not
   * followed (a 3xx is an answer like any other).
   */
  private post(url: URL, headers: Record<string, string>, body: string): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      let controller: Dispatcher.DispatchController | undefined;
      let settled = false;
      let status = 0;
      let read = 0;
      const kept: Buffer[] = [];
      const answer = () => ({ status, text: Buffer.concat(kept).toString('utf8').slice(0, ERROR_SNIPPET) });
      const settle = (err: Error | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        if (err) reject(err);
        else resolve(answer());
      };
      const deadline = setTimeout(() => {
        settle(new AttemptTimeout());
        controller?.abort(new AttemptTimeout());
      }, this.timeoutMs);
      this.agent.dispatch(
        { origin: url.origin, path: `${url.pathname}${url.search}`, method: 'POST', headers, body },
        {
          onRequestStart(c) {
            controller = c;
            if (settled) c.abort(new AttemptTimeout());
          },
          onResponseStart(_c, statusCode) {
            status = statusCode;
          },
          onResponseData(c, chunk) {
            const ok = status >= 200 && status < 300;
            if (!ok && read < ERROR_SNIPPET * 4) kept.push(chunk);
            read += chunk.length;
            if (read >= MAX_ANSWER_BYTES) {
              // Enough of it: answered; the rest goes with the connection.
              settle(null);
              c.abort(new Error('answer too long'));
            }
          },
          onResponseEnd() {
            settle(null);
          },
          onResponseError(_c, err) {
            settle(err);
          },
        },
      );
    });
  }

  async onModuleDestroy(): Promise<void> {
    await this.agent.close();
  }
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
