import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { freePort, TempRedis } from '@gtc/testing';
import { LimiterSettings, SendLimiter, TierLogSource } from '../src/send-limiter';

let server: TempRedis;
let redis: Redis;

const settings: LimiterSettings = {
  tierLimits: { '1': 3, '2': 10, '3': 100 },
  tierWindowMs: 60_000,
  tierCounting: 'messages',
  pairLimit: 100,
  pairWindowMs: 1_000,
  windowMarginMs: 0,
};
const limits = { phoneNumberId: '1555000', tier: '1', throughputMps: 0 };
const request = (id: string) => ({ messageId: id, recipient: '4917000', businessInitiated: false });
const tierKey = 'sl:limits:{1555000}:send:tier';

beforeAll(async () => {
  server = new TempRedis(await freePort());
  await server.start();
  redis = new Redis(server.url);
});

afterAll(async () => {
  redis?.disconnect();
  await server?.kill();
});

describe('SendLimiter when Redis loses the tier log', () => {
  it('rebuilds it from the source (Postgres) so the day limit still holds, asking only while it is missing', async () => {
    const limiter = new SendLimiter(redis, 'sl', settings);
    const t0 = Date.now();
    const sent: { member: string; at: number }[] = [];
    let asked = 0;
    const source: TierLogSource = async (phoneNumberId, since) => {
      asked++;
      expect(phoneNumberId).toBe('1555000');
      return sent.filter((s) => s.at >= since);
    };
    for (const id of ['m1', 'm2', 'm3']) {
      const slot = await limiter.reserve(limits, request(id), 'send', 0, t0, source);
      expect(slot).toEqual({ at: t0, held: true });
      sent.push({ member: id, at: slot.at });
    }
    expect(asked).toBe(1); // the first reservation found no log (nothing sent yet); later ones had one

    await redis.del(tierKey);
    const fourth = await limiter.reserve(limits, request('m4'), 'send', 0, t0 + 10, source);
    expect(asked).toBe(2);
    expect(fourth.at).toBe(t0 + settings.tierWindowMs); // waits for the moving window, as before the loss
    expect(await redis.zcard(tierKey)).toBe(4);
  });

  it('without a source, a lost tier log starts over (what the plan log does)', async () => {
    const limiter = new SendLimiter(redis, 'sl', settings);
    const t0 = Date.now();
    for (const id of ['p1', 'p2', 'p3']) await limiter.reserve(limits, request(id), 'plan', 0, t0);
    await redis.del('sl:limits:{1555000}:plan:tier');
    expect(await limiter.reserve(limits, request('p4'), 'plan', 0, t0 + 10)).toEqual({ at: t0 + 10, held: true });
  });
});
