import type { FastifyError, FastifyReply } from 'fastify';

/**
 * Fastify's `frameworkErrors` of every HTTP service: a path its router cannot read (bad percent-encoding, an over-long
 * parameter) gets the one error shape, 414 `uri_too_long` or 400 `bad_request`.
 */
export function answerFrameworkError(err: FastifyError, _req: unknown, reply: unknown): void {
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
  void (reply as FastifyReply).code(status).send({ error: { code: status === 414 ? 'uri_too_long' : 'bad_request', message: err.message } });
}
