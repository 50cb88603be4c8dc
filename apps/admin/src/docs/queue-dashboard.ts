import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppConfig } from '@gtc/config';
import { QueueName, QueueService } from '@gtc/queue';
import type { FastifyInstance } from 'fastify';
import { FailedAuthThrottle } from '../auth/failed-auth.throttle';
import { queuesAuthHook } from '../auth/queues-auth';

/**
 * Mounts bull-board at /queues over the inbound, outbound and status queues (with the stack's REDIS_PREFIX), inside
 * a plugin scope of its own whose `onRequest` hook demands the admin key: the hook belongs to the routes, so it is
 * decided on the path the router matched (`/%71ueues`, `/queues/`, … reach it or nothing).
 */
export async function mountQueueDashboard(app: NestFastifyApplication): Promise<void> {
  const queues = app.get(QueueService);
  const adminKey = app.get(AppConfig).adminApiKey;
  const throttle = app.get(FailedAuthThrottle);
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath('/queues');
  createBullBoard({
    queues: [QueueName.Inbound, QueueName.Outbound, QueueName.Status].map(
      (name) =>
        new BullMQAdapter(queues.queue(name) as unknown as ConstructorParameters<typeof BullMQAdapter>[0]),
    ),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'gtc queues' } },
  });
  const fastify = app.getHttpAdapter().getInstance() as unknown as FastifyInstance;
  await fastify.register(
    async (scope) => {
      scope.addHook('onRequest', queuesAuthHook(adminKey, throttle));
      await scope.register(serverAdapter.registerPlugin() as never);
    },
    { prefix: '/queues' },
  );
}
