import { applyDecorators } from '@nestjs/common';
import { ApiExtension, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { z } from 'zod';
import { openApiSchema } from '../common/validation';

/** A schema of the API's document, by name: `{ $ref }` where it is used, defined once under components.schemas. */
export interface ApiModel {
  readonly name: string;
  readonly ref: { $ref: string };
}

/** Every named schema, filled as the controllers' modules load; `buildOpenApi` puts them in the document. */
const models = new Map<string, Record<string, unknown>>();

/** Names a zod schema of an answer (or part of one) for the document: `Tenant`, `Contact`, … */
export function apiModel(name: string, schema: z.ZodType): ApiModel {
  if (models.has(name)) throw new Error(`API model ${name} is defined twice`);
  models.set(name, openApiSchema(schema, 'output'));
  return { name, ref: { $ref: `#/components/schemas/${name}` } };
}

/** The schemas named with `apiModel` (a page schema for each list). */
export function apiModels(): Record<string, Record<string, unknown>> {
  return Object.fromEntries(models);
}

/** One of several models, told apart by `property` (e.g. `direction`): `oneOf` with a discriminator. */
export function apiUnion(name: string, property: string, variants: Record<string, ApiModel>): ApiModel {
  if (models.has(name)) throw new Error(`API model ${name} is defined twice`);
  models.set(name, {
    oneOf: Object.values(variants).map((m) => m.ref),
    discriminator: {
      propertyName: property,
      mapping: Object.fromEntries(Object.entries(variants).map(([value, m]) => [value, m.ref.$ref])),
    },
  });
  return { name, ref: { $ref: `#/components/schemas/${name}` } };
}

/** A list's answer: `{ data: [model], next_cursor }`, named `<Model>Page`. */
export function apiPage(model: ApiModel): ApiModel {
  const name = `${model.name}Page`;
  if (!models.has(name)) {
    models.set(name, {
      type: 'object',
      properties: {
        data: { type: 'array', items: model.ref },
        next_cursor: {
          type: 'string',
          nullable: true,
          description: 'Pass as `cursor` for the next page; null on the last page.',
        },
      },
      required: ['data', 'next_cursor'],
      additionalProperties: false,
    });
  }
  return { name, ref: { $ref: `#/components/schemas/${name}` } };
}

/** What `ApiDoc` says of one operation. */
export interface ApiDocSpec {
  /** One line, imperative: "Create a tenant". */
  summary: string;
  /** More, in Markdown, when there is more to say. */
  description?: string;
  /** The success answer's schema; absent for 204. */
  returns?: ApiModel;
  /** The success status (200 by default; 201 for creates, 202 for accepted work, 204 for no content). */
  status?: number;
  /** Other success statuses with the same body (e.g. 200 when a create found the same thing already there). */
  alsoStatus?: Array<{ status: number; description: string }>;
  /** Errors beyond those every route may answer (400, 401, 403, 404, 429): e.g. 409, 413, 502. */
  errors?: number[];
}

/** The extension that carries the extra errors to `buildOpenApi`, which turns them into responses. */
export const EXTRA_ERRORS = 'x-gtc-errors';

/** Documents one operation: summary, description, success answer and the errors it may give beyond the common ones. */
export function ApiDoc(spec: ApiDocSpec): MethodDecorator {
  const status = spec.status ?? 200;
  const decorators = [
    ApiOperation({ summary: spec.summary, description: spec.description }),
    ...(spec.errors?.length ? [ApiExtension(EXTRA_ERRORS, spec.errors)] : []),
    ApiResponse({
      status,
      description: describeStatus(status),
      ...(spec.returns ? { schema: spec.returns.ref } : {}),
    }),
    ...(spec.alsoStatus ?? []).map((s) =>
      ApiResponse({
        status: s.status,
        description: s.description,
        ...(spec.returns ? { schema: spec.returns.ref } : {}),
      }),
    ),
  ];
  return applyDecorators(...decorators);
}

/** The words of a success status. */
function describeStatus(status: number): string {
  return { 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No content' }[status] ?? 'OK';
}
