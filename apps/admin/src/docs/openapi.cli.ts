import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { AdminModule } from '../admin.module';
import { buildOpenApi } from './openapi';

/**
 * Prints the admin API's OpenAPI document (JSON) without starting anything: Nest's preview mode reads the
 * controllers' metadata and instantiates no provider, so no database, Redis or configuration is needed.
 * `node apps/admin/dist/docs/openapi.cli.js > openapi.json`; libs/client generates its types from it.
 */
async function main(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(AdminModule, new FastifyAdapter(), {
    preview: true,
    logger: false,
  });
  process.stdout.write(`${JSON.stringify(buildOpenApi(app), null, 2)}\n`);
  await app.close();
}

void main();
