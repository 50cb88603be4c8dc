import { applyDecorators } from '@nestjs/common';
import { ApiQuery } from '@nestjs/swagger';
import { isPgText } from '@gtc/db';
import { formatPath } from '@gtc/whatsapp';
import { z } from 'zod';
import { ApiError, ErrorDetail } from './api-error';

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

/** A uuid path parameter (libs/db isUuid); anything else cannot exist, so it answers 404 rather than 400. */
export { isUuid } from '@gtc/db';

/**
 * A JSON Schema (OpenAPI 3.0 flavour) of a zod schema: of what a request may send (`input`, the default) or of what
 * an answer holds (`output`). A `z.date()` is a date-time string on the wire (JSON.stringify of a Date).
 */
export function openApiSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): Record<string, unknown> {
  return z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io,
    unrepresentable: 'any',
    override: (ctx) => {
      if (ctx.zodSchema._zod.def.type === 'date') Object.assign(ctx.jsonSchema, { type: 'string', format: 'date-time' });
    },
  }) as Record<string, unknown>;
}

/** Largest value of a Postgres `integer` (int4) column. */
export const INT4_MAX = 2_147_483_647;

/** What a value that Postgres cannot store is told. */
export const PG_TEXT_MESSAGE = 'must not contain NUL (\\u0000) characters or unpaired UTF-16 surrogates';

/** The one refinement for text that reaches Postgres: a string without NUL characters or lone surrogates. */
export function pgText() {
  return z.string().refine(isPgText, { message: PG_TEXT_MESSAGE, abort: true });
}

/** Deepest nesting of a free-form JSON value (flow variables, message content). */
export const MAX_JSON_DEPTH = 32;

/**
 * Where a free-form JSON value breaks what Postgres' jsonb stores: a string or key with NUL or a lone surrogate,
 * or nesting deeper than MAX_JSON_DEPTH. Returns the offending path and reason, or null when the value is storable.
 */
export function jsonProblem(value: unknown, path: PropertyKey[] = [], depth = 0): { path: PropertyKey[]; message: string } | null {
  if (typeof value === 'string') return isPgText(value) ? null : { path, message: PG_TEXT_MESSAGE };
  if (value === null || typeof value !== 'object') return null;
  if (depth >= MAX_JSON_DEPTH) return { path, message: `must not be nested deeper than ${MAX_JSON_DEPTH} levels` };
  const entries: Array<[PropertyKey, unknown]> = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  for (const [key, v] of entries) {
    if (typeof key === 'string' && !isPgText(key)) return { path: [...path, key], message: `key ${PG_TEXT_MESSAGE}` };
    const found = jsonProblem(v, [...path, key], depth + 1);
    if (found) return found;
  }
  return null;
}

/**
 * A free-form JSON object that Postgres can store (see `jsonProblem`), at most `maxChars` characters once
 * serialized (the measure the flow engine applies to session variables).
 */
export function pgJsonObject(maxChars: number) {
  return z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
    const problem = jsonProblem(value);
    if (problem) {
      ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
      return;
    }
    if (JSON.stringify(value).length > maxChars) ctx.addIssue({ code: 'custom', message: `must be at most ${maxChars} characters as JSON` });
  });
}

/** Documents every key of a zod query schema as an OpenAPI query parameter (with its JSON Schema). */
export function ApiQueryFrom(...schemas: z.ZodObject[]): MethodDecorator {
  const params = schemas.flatMap((schema) => {
    const json = openApiSchema(schema) as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
    return Object.entries(json.properties ?? {}).map(([name, { description, ...s }]) =>
      ApiQuery({ name, required: json.required?.includes(name) ?? false, description: description as string | undefined, schema: s }),
    );
  });
  return applyDecorators(...params);
}
