import { HttpException } from '@nestjs/common';

/** One offending field or item of a request: `phone_number_id` — `required`. */
export interface ErrorDetail {
  path: string;
  message: string;
  [extra: string]: unknown;
}

/** The JSON body of every error response: `{ error: { code, message, details? } }`. */
export interface ErrorBody {
  error: { code: string; message: string; details?: ErrorDetail[] };
}

/** An HTTP error with a stable machine-readable code and optional per-field details. */
export class ApiError extends HttpException {
  constructor(
    status: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
  ) {
    super({ error: { code, message, ...(details ? { details } : {}) } } satisfies ErrorBody, status);
  }
}

/** 404 for a resource that does not exist (or belongs to another tenant). */
export function notFound(message: string): ApiError {
  return new ApiError(404, 'not_found', message);
}

/** 409 for a request that conflicts with the current state. */
export function conflict(message: string, code = 'conflict'): ApiError {
  return new ApiError(409, code, message);
}

/** 400 for a request that is well-formed but cannot be honoured. */
export function badRequest(message: string, code = 'bad_request', details?: ErrorDetail[]): ApiError {
  return new ApiError(400, code, message, details);
}
