import { MAX_FLOW_SOURCE } from '@gtc/flows';
import { runHttpService } from '@gtc/observability';
import type { FastifyInstance } from 'fastify';
import { AdminModule } from './admin.module';
import { FailedAuthThrottle } from './auth/failed-auth.throttle';
import { mountConsole } from './console/console-static';
import { serveOpenApi } from './docs/openapi';
import { mountQueueDashboard } from './docs/queue-dashboard';

/**
 * Largest request body: room for the largest flow the engine accepts (MAX_FLOW_SOURCE UTF-16 units) as JSON, where
 * one unit takes at most 6 bytes (`\u001f`), plus the envelope; so a valid flow is never refused for its size.
 */
const BODY_LIMIT = 6 * MAX_FLOW_SOURCE + 64 * 1024;

void runHttpService(AdminModule, {
  service: 'admin',
  port: (c) => c.env.ADMIN_PORT,
  bodyLimit: () => BODY_LIMIT,
  configure: async (app) => {
    const fastify = app.getHttpAdapter().getInstance() as unknown as FastifyInstance;
    // Flow uploads may come as raw YAML.
    fastify.addContentTypeParser(['text/yaml', 'application/yaml', 'application/x-yaml', 'text/x-yaml', 'text/plain'], { parseAs: 'string' }, (_req, body, done) =>
      done(null, body),
    );
    await app.get(FailedAuthThrottle).install(fastify);
    serveOpenApi(app);
    await mountQueueDashboard(app);
    await mountConsole(app);
  },
});
