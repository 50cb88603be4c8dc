import { runHttpService } from '@gtc/observability';
import { IngressModule } from './ingress.module';
import { serveWebhookPosts } from './webhook.route';

void runHttpService(IngressModule, {
  service: 'ingress',
  port: (c) => c.env.INGRESS_PORT,
  bodyLimit: (c) => c.env.INGRESS_BODY_LIMIT_BYTES,
  bodiesInFlight: (c) => c.env.INGRESS_BODIES_IN_FLIGHT_BYTES,
  // The signature is over the raw bytes, kept on req.rawBody.
  rawBody: true,
  configure: serveWebhookPosts,
});
