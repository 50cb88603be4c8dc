// JSON request bodies: a malformed body reaches the handlers as an `InvalidJson` value, so the Graph API can answer it
// with a Graph-shaped error (as Meta does) instead of the framework's own 400.

/** A request body that was declared JSON but could not be parsed. */
export class InvalidJson {
  constructor(readonly reason: string) {}
}

/** Fastify content parser for `application/json`: empty → undefined, malformed → `InvalidJson`. */
export function parseJsonBody(_req: unknown, body: Buffer | string, done: (err: Error | null, value?: unknown) => void): void {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.trim() === '') {
    done(null, undefined);
    return;
  }
  try {
    done(null, JSON.parse(text));
  } catch (err) {
    done(null, new InvalidJson((err as Error).message));
  }
}
