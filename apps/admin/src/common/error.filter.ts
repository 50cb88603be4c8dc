import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { Prisma } from '@gtc/db';
import type { FastifyReply } from 'fastify';
import { ApiError, ErrorBody } from './api-error';

const CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'too_many_requests',
  502: 'bad_gateway',
  503: 'service_unavailable',
};

/** Maps any thrown value to `{ status, body }` in the one error shape of the API. */
export function toErrorResponse(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof ApiError) return { status: err.getStatus(), body: err.getResponse() as ErrorBody };
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const res = err.getResponse();
    const raw = typeof res === 'string' ? res : (res as { message?: unknown }).message;
    const message = Array.isArray(raw) ? raw.join('; ') : typeof raw === 'string' ? raw : err.message;
    return { status, body: { error: { code: CODES[status] ?? (status >= 500 ? 'internal_error' : 'error'), message } } };
  }
  if (err instanceof Prisma.PrismaClientKnownRequestError) {
    if (err.code === 'P2002') return { status: 409, body: { error: { code: 'conflict', message: 'a resource with these values already exists' } } };
    if (err.code === 'P2025') return { status: 404, body: { error: { code: 'not_found', message: 'resource not found' } } };
  }
  // Fastify errors (body too large, malformed JSON, unsupported content type) carry a statusCode.
  const e = err as { statusCode?: unknown; message?: unknown; code?: unknown };
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const status = e.statusCode;
    const message =
      e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (status === 400 && /JSON/i.test(String(e.message)))
        ? 'malformed JSON body'
        : String(e.message ?? 'bad request');
    return { status, body: { error: { code: CODES[status] ?? 'bad_request', message } } };
  }
  return { status: 500, body: { error: { code: 'internal_error', message: 'internal error' } } };
}

/** The global exception filter: every error answers `{ error: { code, message, details? } }`; 5xx are logged (never the request body). */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('ErrorFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const { status, body } = toErrorResponse(exception);
    if (status >= 500) {
      const err = exception as Error;
      this.logger.error(`${err?.name ?? 'Error'}: ${err?.message ?? String(exception)}`, err?.stack);
    }
    void reply.status(status).header('content-type', 'application/json; charset=utf-8').send(body);
  }
}
