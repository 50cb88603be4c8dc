import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@gtc/config';
import { freePort, TempRedis } from '@gtc/testing';
import { OutboundProducer } from '../src/outbound.producer';
import { QueueName } from '../src/queue.contracts';
import { QueueService } from '../src/queue.service';
import { RedisService } from '../src/redis.service';

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
    await expect(queues.addBulk('inbound', [{ id: 'i_away', data: { items: [{ inboundId: 'away', contactId: 'c' }] } }])).rejects.toThrow(/Redis is not connected/);
    await redis.start();
    await expect
      .poll(async () => queues.addBulk('inbound', [{ id: 'i_back', data: { items: [{ inboundId: 'back', contactId: 'c' }] } }]).then(() => 'ok', (e: Error) => e.message), { timeout: 10_000, interval: 200 })
      .toBe('ok');
    expect(await connections.client.exists('qs:inbound:i_back')).toBe(1);
  });

  describe('wakeDelayed (a recipient\'s gate opened, a number resumed)', () => {
    const job = (id: string, delay?: number) => ({ id: `o_${id}`, data: { outboundId: id }, ...(delay && { opts: { delay } }) });

    it('puts woken jobs ahead of every job already waiting, the first given first, and leaves the others alone', async () => {
      await queues.addBulk(QueueName.Outbound, [job('q1'), job('q2'), job('d1', 60_000), job('d2', 60_000), job('d3', 60_000)]);
      // d3 is not woken; q1 is waiting already (not delayed); gone never existed.
      expect(await queues.wakeDelayed(QueueName.Outbound, ['o_d2', 'o_d1', 'o_q1', 'o_gone'])).toBe(2);
      // Workers take from the tail of the wait list: the order jobs will be taken in is the list reversed.
      const takenOrder = (await connections.client.lrange('qs:outbound:wait', 0, -1)).reverse();
      expect(takenOrder.filter((id) => /^o_[qd]\d$/.test(id))).toEqual(['o_d2', 'o_d1', 'o_q1', 'o_q2']);
      const q = queues.queue(QueueName.Outbound);
      expect([await q.getJobState('o_d1'), await q.getJobState('o_d2'), await q.getJobState('o_d3')]).toEqual(['waiting', 'waiting', 'delayed']);
      expect((await q.getJob('o_d1'))?.delay).toBe(0);
    });

    it('wakes more jobs than one call carries in the order given', async () => {
      const ids = Array.from({ length: 1_203 }, (_, i) => `many${i}`);
      await queues.addBulk(QueueName.Outbound, ids.map((id) => job(id, 60_000)));
      expect(await queues.wakeDelayed(QueueName.Outbound, ids.map((id) => `o_${id}`))).toBe(ids.length);
      const takenOrder = (await connections.client.lrange('qs:outbound:wait', 0, -1)).reverse();
      expect(takenOrder.slice(0, ids.length)).toEqual(ids.map((id) => `o_${id}`));
    });
  });

  describe('ensureJobs (the reconcilers: Postgres says these rows are unfinished)', () => {
    const job = (id: string) => ({ id: `i_${id}`, data: { items: [{ inboundId: id, contactId: 'c' }] } });
    const state = (id: string) => queues.queue(QueueName.Inbound).getJobState(`i_${id}`);
    const none = async () => [];

    it('re-creates a job whose hash survived while the wait list pointing at it was lost; a plain add does not', async () => {
      await queues.addBulk(QueueName.Inbound, [job('w1')]);
      await connections.client.del('qs:inbound:wait');
      await queues.addBulk(QueueName.Inbound, [job('w1')]);
      expect(await state('w1')).toBe('unknown'); // the orphan that held a reply back forever
      expect(await queues.ensureJobs(QueueName.Inbound, [job('w1')], none)).toEqual({ added: 1, recreated: 1 });
      expect(await state('w1')).toBe('waiting');
      expect(await connections.client.lrange('qs:inbound:wait', 0, -1)).toEqual(['i_w1']);
    });

    it('leaves waiting, delayed and locked active jobs alone, adds missing ones', async () => {
      await queues.addBulk(QueueName.Inbound, [job('live1'), { ...job('live2'), opts: { delay: 60_000 } }, job('live3')]);
      // live3 is taken by a worker: in the active list, with its lock.
      await connections.client.lrem('qs:inbound:wait', 0, 'i_live3');
      await connections.client.lpush('qs:inbound:active', 'i_live3');
      await connections.client.set('qs:inbound:i_live3:lock', 'token', 'PX', 60_000);
      const r = await queues.ensureJobs(QueueName.Inbound, [job('live1'), job('live2'), job('live3'), job('new1')], none);
      expect(r).toEqual({ added: 1, recreated: 0 });
      expect([await state('live1'), await state('live2'), await state('live3'), await state('new1')]).toEqual(['waiting', 'delayed', 'active', 'waiting']);
    });

    it('re-creates an active job whose lock is gone (its worker died or the key was lost), once', async () => {
      await queues.addBulk(QueueName.Inbound, [job('a1')]);
      await connections.client.lrem('qs:inbound:wait', 0, 'i_a1');
      await connections.client.lpush('qs:inbound:active', 'i_a1');
      expect(await queues.ensureJobs(QueueName.Inbound, [job('a1')], none)).toEqual({ added: 1, recreated: 1 });
      expect(await connections.client.lrange('qs:inbound:active', 0, -1)).not.toContain('i_a1');
      expect(await connections.client.lrange('qs:inbound:wait', 0, -1)).toContain('i_a1');
      expect(await queues.ensureJobs(QueueName.Inbound, [job('a1')], none)).toEqual({ added: 0, recreated: 0 });
    });

    it('re-creates a completed or failed job only when Postgres still says its work is not done', async () => {
      await queues.addBulk(QueueName.Inbound, [job('done'), job('undone'), job('failed')]);
      for (const id of ['i_done', 'i_undone', 'i_failed']) await connections.client.lrem('qs:inbound:wait', 0, id);
      await connections.client.zadd('qs:inbound:completed', Date.now(), 'i_done', Date.now(), 'i_undone');
      await connections.client.zadd('qs:inbound:failed', Date.now(), 'i_failed');
      const asked: string[] = [];
      const r = await queues.ensureJobs(QueueName.Inbound, [job('done'), job('undone'), job('failed')], async (jobs) => {
        asked.push(...jobs.map((j) => j.id));
        return jobs.filter((j) => j.data.items[0].inboundId !== 'done');
      });
      expect(asked.sort()).toEqual(['i_done', 'i_failed', 'i_undone']);
      expect(r).toEqual({ added: 2, recreated: 2 });
      expect([await state('done'), await state('undone'), await state('failed')]).toEqual(['completed', 'waiting', 'waiting']);
    });
  });
});

describe('OutboundProducer', () => {
  it("puts the reply's cause (the inbound message's arrival) into the job when given, and nothing when not", async () => {
    const producer = new OutboundProducer(queues, connections, loadConfig({ REDIS_URL: redis.url, REDIS_PREFIX: 'qs' }));
    const limits = { phoneNumberId: '1500000001', tier: 'unlimited', throughputMps: 0 };
    const causeAt = Date.now() - 1234;
    await producer.enqueue([
      {
        limits,
        messages: [
          { messageId: 'reply', recipient: '15550001', businessInitiated: false, causeAt },
          { messageId: 'notice', recipient: '15550001', businessInitiated: true },
        ],
      },
    ]);
    const reply = await queues.queue(QueueName.Outbound).getJob('o_reply');
    const notice = await queues.queue(QueueName.Outbound).getJob('o_notice');
    expect(reply?.data).toEqual({ outboundId: 'reply', slotAt: expect.any(Number), causeAt });
    expect(notice?.data).toEqual({ outboundId: 'notice', slotAt: expect.any(Number) });
    expect('causeAt' in notice!.data).toBe(false);
  });
});
