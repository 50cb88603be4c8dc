import { badRequest } from './api-error';

/** The Idempotency-Key header as the OpenAPI document describes it. */
export const IDEMPOTENCY_HEADER = {
  name: 'Idempotency-Key',
  required: false,
  description: 'The same key (1-200 letters, digits, . _ : -) acts once; a retry answers the first result.',
  schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,200}$' },
};

/** Validates an idempotency key header (letters, digits and `-_.:`, at most 200). */
export function idempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined || header === '') return undefined;
  if (!/^[A-Za-z0-9._:-]{1,200}$/.test(header)) {
    throw badRequest('invalid Idempotency-Key', 'validation_failed', [{ path: 'Idempotency-Key', message: 'must be 1-200 letters, digits, . _ : -' }]);
  }
  return header;
}
