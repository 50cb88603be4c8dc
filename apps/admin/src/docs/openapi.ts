import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { z } from 'zod';
import { openApiSchema } from '../common/validation';
import { apiModels, EXTRA_ERRORS } from './api-doc';

/** The extension that says which key a route accepts (`AdminOnly` sets `admin`). */
export const KEY_EXTENSION = 'x-gtc-key';

/** The error body every 4xx/5xx answer has. */
const errorSchema = z
  .object({
    error: z.object({
      code: z
        .string()
        .meta({
          description: 'Stable, machine-readable: validation_failed, not_found, conflict, …',
          example: 'validation_failed',
        }),
      message: z.string().meta({ example: 'invalid request body: slug' }),
      details: z
        .array(
          z.object({ path: z.string().meta({ example: 'slug' }), message: z.string() }).catchall(z.unknown()),
        )
        .optional()
        .meta({
          description:
            'One entry per offending field (`path` as `a.b[2].c`), or per flow error with file, line and column.',
        }),
    }),
  })
  .meta({ description: 'The one error shape of the API.' });

/** The error answers, by status: the words and when they happen. */
const ERRORS: Record<number, [name: string, description: string]> = {
  400: ['BadRequest', 'The request is invalid: `details` names every offending field. Nothing was written.'],
  401: ['Unauthorized', 'No key, or an unknown or revoked one.'],
  403: ['Forbidden', 'The key may not do this (a tenant key on an admin-only route).'],
  404: [
    'NotFound',
    "No such resource, or it belongs to another tenant (a tenant key never sees another tenant's).",
  ],
  409: ['Conflict', 'The request conflicts with the current state (a taken slug, an opted-out contact, …).'],
  413: ['PayloadTooLarge', 'The body is larger than the API accepts.'],
  429: [
    'TooManyRequests',
    'Too many failed authentications from this client: wait for `retry-after` seconds.',
  ],
  502: ['BadGateway', "Meta's Graph API refused or failed the request it needed (`graph_api_error`)."],
  503: [
    'ServiceUnavailable',
    'A dependency (the Graph API) could not be reached: nothing was written; try again.',
  ],
};

/** The errors every /v1 route may answer. */
const COMMON_ERRORS = [400, 401, 403, 404, 429];

/** What the routes outside /v1 (served by every gtc service) are, for the document. */
const OPEN_ROUTES: Record<
  string,
  { summary: string; description: string; tag: string; produces?: string; failures?: Record<number, string> }
> = {
  '/health': {
    summary: 'Readiness',
    description: 'Postgres, Redis and the other dependencies: 200 when all are up, 503 otherwise.',
    tag: 'health',
    failures: { 503: 'A dependency is down, or the service is draining: the report says which.' },
  },
  '/health/live': {
    summary: 'Liveness',
    description: 'The process answers: always 200 while it runs.',
    tag: 'health',
  },
  '/metrics': {
    summary: 'Prometheus metrics',
    description:
      'Text exposition; answered to a loopback peer or with `Authorization: Bearer <METRICS_TOKEN>` (not an API key).',
    tag: 'health',
    produces: 'text/plain',
    failures: { 401: 'Neither a loopback peer nor the METRICS_TOKEN.' },
  },
};

/** What each tag groups. */
const TAGS: Record<string, string> = {
  tenants: 'Tenants: the businesses on this gtc. Creating, listing and deleting them needs the admin key.',
  teams: "A tenant's teams; each has at most one WhatsApp number (its provider).",
  provider:
    "A team's WhatsApp number: credentials (write-only), throughput, ordering, opt-out keywords, pause state.",
  flows: 'Conversation flows (`.ygtc` YAML): upload, validate, revisions, activate, start for a contact.',
  templates: "Message templates synced from the team's WhatsApp Business account.",
  contacts: 'The people a team talks to: search, 24-hour window, handoff, opt-out and opt-in.',
  messages: 'Inbound and outbound messages with their status timelines; send a message.',
  stats: "A tenant's counts by state, queue depths and tier usage.",
  'api-keys': 'Tenant API keys (the admin key manages them); a key is shown once, when created.',
  'event-endpoints':
    "Event webhooks to the tenant's own systems (Standard Webhooks signatures) and their deliveries.",
  health: 'Health and metrics of the service (no API key).',
};

/** Descriptions of the path parameters the routes share. */
const PATH_PARAMS: Record<string, string> = {
  tenant: "The tenant's slug.",
  team: "The team's slug.",
  name: "The flow's name (its `name:` field).",
  id: 'The resource id (a UUID).',
  eventId: 'The event id (`evt_…`).',
};

/** The document's idea of an operation (what this file reads and writes of it). */
interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ name: string; in: string; description?: string }>;
  responses: Record<string, { description: string; content?: Record<string, unknown>; $ref?: string }>;
  [extension: `x-${string}`]: unknown;
}

/** Builds the OpenAPI document from the controllers, completed with the parts every route shares. */
export function buildOpenApi(app: NestFastifyApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('gtc admin API')
    .setDescription(
      'Tenants, teams, WhatsApp numbers, flows, templates, contacts, messages, event webhooks and API keys.\n\n' +
        'Authenticate with `Authorization: Bearer <key>`: the admin key (`ADMIN_API_KEY`) or a tenant API key. ' +
        'Each operation says which it accepts (`x-gtc-key`: `admin`, or `admin-or-tenant`); a tenant key sees only its own ' +
        "tenant (another tenant's paths answer 404).\n\n" +
        "Lists answer `{ data, next_cursor }`: pass `limit` (at most 200) and the previous page's `next_cursor` as `cursor`. " +
        'Errors answer `{ error: { code, message, details? } }`. This document: `/docs/json` (and `/docs/yaml`); ' +
        'its reference: `/docs`.',
    )
    .setVersion('1')
    .setLicense('Proprietary', 'https://github.com/gtc/gtc')
    .addServer('/', 'This admin service')
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        description: 'An API key: the admin key or a tenant API key (`gtc_…`). Not a JWT.',
      },
      'bearer',
    )
    .build();
  const doc = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (controller, method) => `${controller.replace(/Controller$/, '')}_${method}`,
  });
  return completeDocument(doc);
}

/** Adds what the decorators do not say route by route: shared errors, the key each route takes, tags, models. */
function completeDocument(doc: OpenAPIObject): OpenAPIObject {
  const schemas = { ...apiModels(), Error: openApiSchema(errorSchema, 'output') };
  const responses = Object.fromEntries(
    Object.values(ERRORS).map(([name, description]) => [
      name,
      { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
    ]),
  );
  doc.components = { ...doc.components, schemas: { ...doc.components?.schemas, ...schemas }, responses };
  // Nest's addBearerAuth says JWT whatever it is told; the keys are opaque strings.
  delete (doc.components.securitySchemes?.bearer as { bearerFormat?: string } | undefined)?.bearerFormat;
  doc.tags = Object.entries(TAGS).map(([name, description]) => ({ name, description }));

  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, raw] of Object.entries(item)) {
      if (!['get', 'put', 'post', 'patch', 'delete'].includes(method)) continue;
      const op = raw as Operation;
      const open = OPEN_ROUTES[path];
      if (open) {
        Object.assign(op, {
          summary: open.summary,
          description: open.description,
          tags: [open.tag],
          security: [],
        });
        const body = open.produces ?? 'application/json';
        const schema = open.produces ? { type: 'string' } : { type: 'object', additionalProperties: true };
        op.responses['200'] = { description: 'OK', content: { [body]: { schema } } };
        for (const [status, description] of Object.entries(open.failures ?? {}))
          op.responses[status] = { description, content: { [body]: { schema } } };
        continue;
      }
      const key = op[KEY_EXTENSION] === 'admin' ? 'admin' : 'admin-or-tenant';
      op[KEY_EXTENSION] = key;
      op.security = [{ bearer: [] }];
      const who =
        key === 'admin'
          ? '**Key:** the admin key (a tenant key gets 403).'
          : '**Key:** the admin key, or a key of this tenant.';
      op.description = op.description ? `${op.description}\n\n${who}` : who;
      const extra = (op[EXTRA_ERRORS] as number[] | undefined) ?? [];
      const body = (op as { requestBody?: { content?: Record<string, { schema?: unknown }> } }).requestBody;
      if (body) extra.push(413);
      // A raw text body (a flow as YAML) is a string, whatever schema the JSON form has.
      for (const [type, media] of Object.entries(body?.content ?? {}))
        if (!type.includes('json'))
          media.schema = { type: 'string', description: 'The flow source (.ygtc YAML).' };
      delete op[EXTRA_ERRORS];
      for (const status of [...new Set([...COMMON_ERRORS, ...extra])].sort((a, b) => a - b))
        op.responses[String(status)] = { $ref: `#/components/responses/${ERRORS[status][0]}` } as never;
      for (const p of op.parameters ?? [])
        if (p.in === 'path' && !p.description && PATH_PARAMS[p.name]) p.description = PATH_PARAMS[p.name];
    }
  }
  return doc;
}

/** Serves the Swagger UI at /docs and the document at /docs/json and /docs/yaml (no key needed: it holds no tenant data). */
export function serveOpenApi(app: NestFastifyApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApi(app), {
    jsonDocumentUrl: 'docs/json',
    yamlDocumentUrl: 'docs/yaml',
  });
}
