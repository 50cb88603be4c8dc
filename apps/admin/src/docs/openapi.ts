import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';

/** Builds the OpenAPI document from the controllers. */
export function buildOpenApi(app: NestFastifyApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('gtc admin API')
    .setDescription(
      'Tenants, teams, WhatsApp providers, flows, templates, contacts, messages and API keys. ' +
        'Authenticate with `Authorization: Bearer <key>`: the bootstrap admin key (ADMIN_API_KEY) or a tenant API key. ' +
        'Errors answer `{ error: { code, message, details? } }`.',
    )
    .setVersion('1')
    .addBearerAuth()
    .build();
  return SwaggerModule.createDocument(app, config);
}

/** Serves the Swagger UI at /docs and the document at /docs/json (no key needed: it holds no tenant data). */
export function serveOpenApi(app: NestFastifyApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApi(app), { jsonDocumentUrl: 'docs/json', yamlDocumentUrl: 'docs/yaml' });
}
