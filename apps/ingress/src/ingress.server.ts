import type { INestApplicationContext } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { answerHealthPath, answerFrameworkError, HEALTH_PATHS, HealthService, limitBodiesInFlight, MetricsService, ServiceServer } from '@gtc/observability';
import Fastify, { FastifyError, FastifyRequest } from 'fastify';
import { WebhookHandler } from './webhook.handler';

/** The path Meta posts a team's notifications to, and asks its subscription check on. */
const WEBHOOK_PATH = '/webhook/whatsapp/:tenant/:team';

/** A request on WEBHOOK_PATH; `rawBody` holds a JSON body's bytes. */
type WebhookRoute = { Params: { tenant: string; team: string }; Querystring: Record<string, string | string[] | undefined> };
type WebhookRequest = FastifyRequest<WebhookRoute> & { rawBody?: Buffer };

/**
 * Ingress's HTTP server: a Fastify instance of its own beside the Nest application context, not Nest's HTTP adapter,
 * whose hooks, router constraint and per-request parser cost a webhook more than Fastify itself did. It serves:
 * - `POST /webhook/whatsapp/:tenant/:team` (WebhookHandler.receive): an `application/json` body, kept raw on
 *   `req.rawBody` for the signature and parsed with Fastify's JSON parser (`__proto__` and `constructor` refused);
 *   any other body 415; over `INGRESS_BODY_LIMIT_BYTES` 413; beyond `INGRESS_BODIES_IN_FLIGHT_BYTES` it waits in line,
 *   unread, for `INGRESS_BODY_WAIT_MS` at most, then 503;
 * - `GET` on the same path (WebhookHandler.verify);
 * - `GET /health`, `/health/live`, `/metrics` (answerHealthPath).
 *
 * No per-request logger: webhook POSTs (thousands a second) log their own failures, the subscription check its answers.
 * Errors keep the shapes Nest gave them: `{statusCode, message}`, 404 `{message: "Cannot GET /x", error, statusCode}`,
 * an unexpected one 500 `Internal server error` (logged, never sent). On close, requests in flight are answered first.
 */
export async function serveIngress(app: INestApplicationContext, config: AppConfig): Promise<ServiceServer> {
  const log = new Logger('IngressServer');
  const bodyLimit = config.env.INGRESS_BODY_LIMIT_BYTES;
  const fastify = Fastify({ bodyLimit, return503OnClosing: true, forceCloseConnections: 'idle', frameworkErrors: answerFrameworkError });

  fastify.removeAllContentTypeParsers();
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    (req as WebhookRequest).rawBody = body as Buffer;
    // Fastify's JSON parser reads a Buffer as well as a string (as Nest's adapter used it).
    parseJson(req, body as unknown as string, done);
  });
  const metrics = app.get(MetricsService);
  limitBodiesInFlight(fastify, {
    budgetBytes: config.env.INGRESS_BODIES_IN_FLIGHT_BYTES,
    bodyLimitBytes: bodyLimit,
    waitMs: config.env.INGRESS_BODY_WAIT_MS,
    refused: metrics.counter('gtc_http_bodies_refused_total', 'Requests answered 503 because too many request body bytes were in flight'),
    waited: metrics.counter('gtc_http_bodies_waited_total', 'Requests that waited in line, their body unread, for room among the request body bytes in flight'),
  });

  fastify.setErrorHandler((err: FastifyError, _req, reply) => {
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ statusCode: err.statusCode, message: err.message });
    }
    log.error(`unexpected error answering a request: ${err.stack ?? err.message}`);
    return reply.code(500).send({ statusCode: 500, message: 'Internal server error' });
  });
  fastify.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ message: `Cannot ${req.method} ${req.url}`, error: 'Not Found', statusCode: 404 }),
  );

  const webhooks = app.get(WebhookHandler);
  fastify.post<WebhookRoute>(WEBHOOK_PATH, (req, reply) => webhooks.receive(req.params.tenant, req.params.team, req, reply));
  fastify.get<WebhookRoute>(WEBHOOK_PATH, (req, reply) => webhooks.verify(req.params.tenant, req.params.team, req.query, reply));

  const health = app.get(HealthService);
  for (const path of HEALTH_PATHS) {
    fastify.get(path, async (req, reply) => {
      const answer = (await answerHealthPath(path, { remoteAddress: req.socket.remoteAddress, authorization: req.headers.authorization }, health, metrics, config.env.METRICS_TOKEN))!;
      return reply.code(answer.code).header('content-type', answer.contentType).send(answer.body);
    });
  }

  await fastify.listen({ port: config.env.INGRESS_PORT, host: '0.0.0.0' });
  const address = fastify.server.address();
  return { port: typeof address === 'object' && address ? address.port : config.env.INGRESS_PORT, close: () => fastify.close() };
}
