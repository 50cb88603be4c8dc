import type { FastifyInstance } from 'fastify';
import type { Counter } from 'prom-client';

/** What bounds the request bodies one HTTP service reads at once. */
export interface BodyBudget {
  /** Most body bytes in flight at once, over every request being read or answered. */
  budgetBytes: number;
  /** The largest body one request may have: what a body of unknown length (chunked) counts for. */
  bodyLimitBytes: number;
  /** Counts each request refused for the budget. */
  refused: Counter;
}

/**
 * Bounds the memory a service's request bodies take, whoever sends them (the body is read before any signature or key
 * is checked): each request counts its declared length (capped at the body limit; the limit itself when it declares
 * none) from the moment its route is matched until its response closes. A request that would go over the budget is
 * answered 503 with `Retry-After: 1` before its body is read (Meta retries a 503), so one sender of large bodies
 * slows its own requests, not the process. A request without a body counts nothing.
 */
export function limitBodiesInFlight(fastify: FastifyInstance, { budgetBytes, bodyLimitBytes, refused }: BodyBudget): void {
  let inFlight = 0;
  fastify.addHook('onRequest', (req, reply, done) => {
    const declared = req.headers['content-length'];
    const chunked = req.headers['transfer-encoding'] !== undefined;
    const length = declared !== undefined ? Number(declared) : 0;
    const cost = chunked || !Number.isFinite(length) ? bodyLimitBytes : Math.min(Math.max(0, length), bodyLimitBytes);
    if (cost === 0) return done();
    if (inFlight + cost > budgetBytes) {
      refused.inc();
      void reply
        .code(503)
        .header('retry-after', '1')
        .header('connection', 'close')
        .send({ error: { code: 'busy', message: 'too many request bytes in flight; retry shortly' } });
      return;
    }
    inFlight += cost;
    reply.raw.once('close', () => (inFlight -= cost));
    done();
  });
}
