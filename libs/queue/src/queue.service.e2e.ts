import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@gtc/config';
import { freePort, TempRedis } from '@gtc/testing';
import { QueueService } from './queue.service';
import { RedisService } from './redis.service';

let redis: TempRedis;
let connections: RedisService;
let queues: QueueService;

beforeAll(async () => {
  redis = new TempRedis(await freePort());
  await redis.start();
  connections = new RedisService(loadConfig({ REDIS_URL: redis.url, REDIS_PREFIX: 'qs' }));
  queues = new QueueService(connections);
  if (connections.client.status !== 'ready') await once(connections.client, 'ready');
});

afterAll(async () => {
  await queues?.onModuleDestroy();
  await connections?.onModuleDestroy();
  await redis?.kill();
});

describe('QueueService', () => {
  it('builds its queue again when the first set-up failed, instead of failing every later enqueue', async () => {
    // BullMQ reads INFO while it sets a queue up; refusing it makes that set-up fail, as Redis dying at that moment does.
    await connections.client.call('ACL', 'SETUSER', 'default', '-info');
    await expect(queues.addBulk('outbound', [{ id: 'o_first', data: { outboundId: 'first' } }])).rejects.toThrow(/NOPERM|info/i);
    await connections.client.call('ACL', 'SETUSER', 'default', '+info');

    await expect
      .poll(async () => queues.addBulk('outbound', [{ id: 'o_second', data: { outboundId: 'second' } }]).then(() => 'ok', (e: Error) => e.message), { timeout: 5_000, interval: 100 })
      .toBe('ok');
    expect(await connections.client.exists('qs:outbound:o_second')).toBe(1);
  });

  it('refuses at once while Redis is away, and enqueues again once it is back', async () => {
    await redis.kill();
    await expect.poll(() => connections.client.status, { timeout: 5_000 }).not.toBe('ready');
    await expect(queues.addBulk('inbound', [{ id: 'i_away', data: { inboundId: 'away' } }])).rejects.toThrow(/Redis is not connected/);
    await redis.start();
    await expect
      .poll(async () => queues.addBulk('inbound', [{ id: 'i_back', data: { inboundId: 'back' } }]).then(() => 'ok', (e: Error) => e.message), { timeout: 10_000, interval: 200 })
      .toBe('ok');
    expect(await connections.client.exists('qs:inbound:i_back')).toBe(1);
  });
});
