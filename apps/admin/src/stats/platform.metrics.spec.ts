import { Logger } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '@gtc/config';
import type { PrismaService } from '@gtc/db';
import { MetricsService } from '@gtc/observability';
import type { QueueService } from '@gtc/queue';
import { AdminStore } from '../admin.store';
import { PLATFORM_SNAPSHOT_TTL_MS, PlatformMetrics } from './platform.metrics';

// The admin's scrape-time gauges against a stub Postgres (one statement's rows) and stub queues: what they export,
// and that a scrape costs one statement per PLATFORM_SNAPSHOT_TTL_MS however often Prometheus comes.

const T1 = '11111111-1111-4111-8111-111111111111';
const T2 = '22222222-2222-4222-8222-222222222222';
const T3 = '33333333-3333-4333-8333-333333333333';
const row = (r: Record<string, unknown>) => ({
  team: null,
  tier: null,
  paused: null,
  paused_class: null,
  paused_code: null,
  paused_reason: null,
  tier_used: null,
  ...r,
});
const ROWS = [
  row({ tenant: T1, slug: 'acme', team: 'sales', tier: '1', paused: false, tier_used: 7 }),
  row({
    tenant: T1,
    slug: 'acme',
    team: 'support',
    tier: 'unlimited',
    paused: true,
    paused_class: 'auth',
    paused_code: 190,
    paused_reason: `auth (190): ${'x'.repeat(300)}`,
    tier_used: 3,
  }),
  row({
    tenant: T2,
    slug: 'globex',
    team: 'ops',
    tier: '2',
    paused: true,
    paused_class: 'account',
    paused_reason: 'account: number banned',
    tier_used: 0,
  }),
  row({ tenant: T3, slug: 'initech' }), // no number yet
];

let query: ReturnType<typeof vi.fn>;
let counts: ReturnType<typeof vi.fn>;
let metrics: MetricsService;
const config = loadConfig({ TIER_LIMITS: '1000,10000,100000' });

/** The samples of one metric family in a scrape, as `labels → value`. */
function samples(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    out[m[1].replace(/,?service="admin"/, '').replace(/^,/, '')] = Number(m[2]);
  }
  return out;
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  query = vi.fn(async () => ({ rows: ROWS }));
  counts = vi.fn(async () => ({ waiting: 4, delayed: 2, active: 1, failed: 0, paused: 0 }));
  metrics = new MetricsService();
  metrics.setService('admin');
  const prisma = { pool: { query } } as unknown as PrismaService;
  const queues = { queue: () => ({ getJobCounts: counts }) } as unknown as QueueService;
  new PlatformMetrics(new AdminStore(prisma, config), queues, metrics, config);
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('PlatformMetrics (the admin /metrics gauges)', () => {
  it('exports tenants, paused numbers and why, tier usage and limits, and queue depths', async () => {
    const text = await metrics.render();
    expect(samples(text, 'gtc_tenant_info')).toEqual({
      [`tenant="${T1}",slug="acme"`]: 1,
      [`tenant="${T2}",slug="globex"`]: 1,
      [`tenant="${T3}",slug="initech"`]: 1,
    });
    expect(samples(text, 'gtc_provider_paused')).toEqual({
      [`tenant="${T1}",team="sales"`]: 0,
      [`tenant="${T1}",team="support"`]: 1,
      [`tenant="${T2}",team="ops"`]: 1,
    });
    expect(samples(text, 'gtc_provider_paused_info')).toEqual({
      [`tenant="${T1}",team="support",class="auth",code="190",reason="auth (190): ${'x'.repeat(200 - 'auth (190): '.length)}"`]: 1,
      [`tenant="${T2}",team="ops",class="account",code="",reason="account: number banned"`]: 1,
    });
    expect(samples(text, 'gtc_tier_used')).toEqual({
      [`tenant="${T1}",team="sales"`]: 7,
      [`tenant="${T1}",team="support"`]: 3,
      [`tenant="${T2}",team="ops"`]: 0,
    });
    // The unlimited tier has no limit series.
    expect(samples(text, 'gtc_tier_limit')).toEqual({
      [`tenant="${T1}",team="sales",tier="1"`]: 1000,
      [`tenant="${T2}",team="ops",tier="2"`]: 10000,
    });
    const depth = samples(text, 'gtc_queue_depth');
    for (const queue of ['inbound', 'outbound', 'status']) {
      expect(depth).toMatchObject({
        [`queue="${queue}",state="waiting"`]: 4,
        [`queue="${queue}",state="delayed"`]: 2,
        [`queue="${queue}",state="active"`]: 1,
        [`queue="${queue}",state="failed"`]: 0,
      });
    }
    expect(Object.keys(depth)).toHaveLength(12);
    // The tier window's start is the statement's one parameter (epoch ms).
    expect(query).toHaveBeenCalledTimes(1);
    expect(query.mock.calls[0][0].values).toEqual([Date.now() - Number(config.env.TIER_WINDOW_SECONDS) * 1000]);
  });

  it('reads Postgres once per 30 s however often it is scraped; Redis on every scrape', async () => {
    await metrics.render();
    vi.setSystemTime(Date.now() + PLATFORM_SNAPSHOT_TTL_MS - 1);
    await Promise.all([metrics.render(), metrics.render()]);
    await metrics.render();
    expect(query).toHaveBeenCalledTimes(1);
    expect(counts).toHaveBeenCalledTimes(4 * 3);

    // Resumed meanwhile: shown once the snapshot is older than the TTL.
    query.mockImplementation(async () => ({
      rows: ROWS.map((r) => ({ ...r, paused: r.team === null ? null : false })),
    }));
    vi.setSystemTime(Date.now() + 2);
    const text = await metrics.render();
    expect(query).toHaveBeenCalledTimes(2);
    expect(Object.values(samples(text, 'gtc_provider_paused'))).toEqual([0, 0, 0]);
    expect(samples(text, 'gtc_provider_paused_info')).toEqual({});
  });

  it('a failed read leaves the platform gauges empty (not stale) and the scrape answered; the next scrape reads again', async () => {
    await metrics.render();
    query.mockImplementation(async () => {
      throw new Error('connection terminated');
    });
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    vi.setSystemTime(Date.now() + PLATFORM_SNAPSHOT_TTL_MS + 1);
    const text = await metrics.render();
    expect(query).toHaveBeenCalledTimes(2); // one statement for all five gauges
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toMatch(/platform gauges not read for \/metrics \(connection terminated\)/);
    for (const name of [
      'gtc_tenant_info',
      'gtc_provider_paused',
      'gtc_provider_paused_info',
      'gtc_tier_used',
      'gtc_tier_limit',
    ]) {
      expect(samples(text, name), name).toEqual({});
    }
    expect(Object.keys(samples(text, 'gtc_queue_depth'))).toHaveLength(12);
    expect(text).toMatch(/^process_cpu_seconds_total/m);

    query.mockImplementation(async () => ({ rows: ROWS }));
    expect(Object.keys(samples(await metrics.render(), 'gtc_tenant_info'))).toHaveLength(3);
    expect(query).toHaveBeenCalledTimes(3);
  });

  it('Redis down: no queue depths, everything else answered', async () => {
    counts.mockImplementation(async () => {
      throw new Error("Stream isn't writeable and enableOfflineQueue options is false");
    });
    const text = await metrics.render();
    expect(samples(text, 'gtc_queue_depth')).toEqual({});
    expect(Object.keys(samples(text, 'gtc_tier_used'))).toHaveLength(3);
  });
});
