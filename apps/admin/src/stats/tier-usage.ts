import type { LimiterSettings } from '@gtc/queue';

// Tier usage as the sender's limiter counts it, shared by GET /v1/tenants/:tenant/stats (limit_usage) and the
// scrape-time gauges of /metrics (gtc_tier_used, gtc_tier_limit), so that both always show the same numbers.

/** A number's daily limit under the deployment's TIER_LIMITS; null for the "unlimited" tier (or one it doesn't know). */
export function tierLimit(settings: LimiterSettings, tier: string): number | null {
  return tier === 'unlimited' ? null : (settings.tierLimits[tier] ?? null);
}

/** The start of the tier window that ends at `now` (TIER_WINDOW_SECONDS), epoch ms. */
export function tierWindowStartMs(settings: LimiterSettings, now = Date.now()): number {
  return now - settings.tierWindowMs;
}

/**
 * SQL (an int expression): what the tier of the number `p` (an alias of whatsapp_providers) has counted since
 * `sinceMs` (a parameter, epoch ms: tierWindowStartMs): every message sent, or with TIER_COUNTING=recipients the unique
 * recipients of business-initiated messages. A scalar subquery per number, so one statement covers any set of numbers.
 * sent_at is a UTC timestamp without time zone (Prisma's), compared as such whatever the session's time zone.
 */
export function tierUsedSql(settings: LimiterSettings, p: string, sinceMs: string): string {
  const recipients = settings.tierCounting === 'recipients';
  return `(SELECT ${recipients ? 'count(DISTINCT o.contact_id)' : 'count(*)'}::int FROM outbound_messages o
    WHERE o.provider_id = ${p}.id AND o.sent_at >= to_timestamp(${sinceMs}::float8 / 1000) AT TIME ZONE 'UTC'${recipients ? ' AND o.business_initiated' : ''})`;
}
