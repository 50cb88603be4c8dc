import { z } from 'zod';
import { ApiError, ErrorDetail } from './api-error';

/** Formats a zod issue path as `a.b[2].c` (`` for the root). */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

/** Every issue of a failed parse as `{ path, message }`, unknown keys reported one per key. */
export function zodDetails(error: z.ZodError): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) details.push({ path: formatPath([...issue.path, key]), message: 'unknown field' });
    } else {
      details.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  return details;
}

/** Parses `value` with `schema` or throws 400 `validation_failed` listing every offending field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what = 'request body'): z.output<S> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const details = zodDetails(result.error);
  throw new ApiError(400, 'validation_failed', `invalid ${what}: ${details.map((d) => d.path || '(root)').join(', ')}`, details);
}

/** A slug for tenants and teams: lower-case letters, digits, `-` and `_`, starting with a letter or digit. */
export const slugSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1-63 characters: lower-case letters, digits, - or _, starting with a letter or digit');

/** A uuid path parameter; anything else cannot exist, so it answers 404 rather than 400. */
export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

/** A JSON Schema (OpenAPI 3.0 flavour) of a zod schema, for @ApiBody. */
export function openApiSchema(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
