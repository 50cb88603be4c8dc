import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { QueueName, QueueService } from '@gtc/queue';

/** Mounts bull-board at /queues over the inbound, outbound and status queues (with the stack's REDIS_PREFIX). */
export async function mountQueueDashboard(app: NestFastifyApplication): Promise<void> {
  const queues = app.get(QueueService);
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath('/queues');
  createBullBoard({
    queues: [QueueName.Inbound, QueueName.Outbound, QueueName.Status].map(
      (name) => new BullMQAdapter(queues.queue(name) as unknown as ConstructorParameters<typeof BullMQAdapter>[0]),
    ),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'gtc queues' } },
  });
  await app.register(serverAdapter.registerPlugin() as never, { prefix: '/queues' });
}
