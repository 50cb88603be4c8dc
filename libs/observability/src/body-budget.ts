import type { FastifyInstance } from 'fastify';
import type { Counter } from 'prom-client';

/** What bounds the request bodies one HTTP service reads at once. */
export interface BodyBudget {
  /** Most body bytes in flight at once, over every request being read or answered. */
  budgetBytes: number;
  /** The largest body one request may have: what a body of unknown length (chunked) counts for. */
  bodyLimitBytes: number;
  /** How long a request that does not fit waits, its body unread, for room before it is answered 503. */
  waitMs: number;
  /** Counts each request refused for the budget. */
  refused: Counter;
  /** Counts each request that had to wait for room (refused or not). */
  waited: Counter;
}

/** A request waiting for room: its cost, and what lets it in. */
interface Waiting {
  cost: number;
  admit: () => void;
}

/**
 * Bounds the memory a service's request bodies take, whoever sends them (the body is read before any signature or key
 * is checked): each request counts its declared length (capped at the body limit; the limit itself when it declares
 * none) from the moment its route is matched until its response closes. A request that would go over the budget waits
 * in line, its body left unread in the socket (TCP holds its sender back), and goes in its turn once the bodies before
 * it leave room; one that got no room within `waitMs` is answered 503 with `Retry-After: 1` (Meta retries a 503). So a
 * burst is absorbed without a retry, and a sender of large or slow bodies holds others up for `waitMs` at most, never
 * growing the process. A request without a body counts nothing.
 */
export function limitBodiesInFlight(fastify: FastifyInstance, { budgetBytes, bodyLimitBytes, waitMs, refused, waited }: BodyBudget): void {
  let inFlight = 0;
  const line: Waiting[] = [];
  const letIn = () => {
    while (line.length && inFlight + line[0].cost <= budgetBytes) line.shift()!.admit();
  };
  fastify.addHook('onRequest', (req, reply, done) => {
    const declared = req.headers['content-length'];
    const chunked = req.headers['transfer-encoding'] !== undefined;
    const length = declared !== undefined ? Number(declared) : 0;
    const cost = chunked || !Number.isFinite(length) ? bodyLimitBytes : Math.min(Math.max(0, length), bodyLimitBytes);
    if (cost === 0) return done();
    const take = () => {
      inFlight += cost;
      reply.raw.once('close', () => {
        inFlight -= cost;
        letIn();
      });
      done();
    };
    if (!line.length && inFlight + cost <= budgetBytes) return take();

    waited.inc();
    const leave = () => {
      clearTimeout(timer);
      reply.raw.off('close', leave);
      const i = line.indexOf(entry);
      if (i >= 0) line.splice(i, 1);
      letIn(); // the one behind it may fit
    };
    const entry: Waiting = {
      cost,
      admit: () => {
        clearTimeout(timer);
        reply.raw.off('close', leave);
        take();
      },
    };
    const timer = setTimeout(() => {
      leave();
      refused.inc();
      void reply
        .code(503)
        .header('retry-after', '1')
        .header('connection', 'close')
        .send({ error: { code: 'busy', message: 'too many request bytes in flight; retry shortly' } });
    }, waitMs);
    // The client went away while waiting: its place goes to the next.
    reply.raw.once('close', leave);
    line.push(entry);
  });
}
