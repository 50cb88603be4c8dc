import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { WebhookController } from './webhook.controller';

/** The path Meta posts a team's notifications to, as Fastify's router writes it. */
const WEBHOOK_PATH = '/webhook/whatsapp/:tenant/:team';

/**
 * Serves `POST /webhook/whatsapp/:tenant/:team` (WebhookController.receive) as a route of Fastify's own, not Nest's:
 * Nest's route handling cost a refused webhook a third of ingress's CPU (132 µs against 89-90, alternating runs), on
 * the path that takes thousands a second. The same Fastify instance answers its errors (malformed JSON, body limit,
 * an exception) in the same shapes. The GET check stays a Nest route.
 */
export function serveWebhookPosts(app: NestFastifyApplication): void {
  const controller = app.get(WebhookController);
  // Cast: @nestjs/platform-fastify may bring its own copy of fastify's types.
  const fastify = app.getHttpAdapter().getInstance() as unknown as FastifyInstance;
  fastify.post<{ Params: { tenant: string; team: string } }>(WEBHOOK_PATH, (req, reply) =>
    controller.receive(req.params.tenant, req.params.team, req as FastifyRequest & { rawBody?: Buffer }, reply),
  );
}
