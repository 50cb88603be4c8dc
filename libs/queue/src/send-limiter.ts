import type Redis from 'ioredis';

/**
 * Reserves a send slot under three limits at once, atomically in Redis, shared by every sender replica:
 * the tier's daily limit (moving window, per phone number), the throughput limit (per phone number) and the
 * pair limit (per recipient). Each limit is a sliding log of reserved send times: a slot may lie in the future,
 * and the caller sends at that time (a BullMQ delay), so a backlog is spread over future slots instead of
 * retrying in a loop, and other numbers' messages never wait behind it.
 *
 * The throughput limit is held in two steps. The plan log paces: its slots lie evenly apart, a little under the
 * limit (1000 / (mps × pace) ms), so that sends leave evenly and a late one has room. The send log, confirmed
 * right before each request, is the hard cap: at most mps sends in any window of (1000 + throughput margin) ms
 * of actual send times, whatever jitter did to the plan on the way (a late job, a bunch promoted at once).
 *
 * Why not rate-limiter-flexible or BullMQ's limiter: both count fixed windows, which let 2× the limit through
 * across a window boundary (Meta counts any second), the BullMQ one is per queue, not per key, and neither can
 * consume three limits atomically or reserve future slots.
 */
const RESERVE = `
local now = tonumber(ARGV[1])
local member = ARGV[2]
-- Sliding window: the earliest t at which fewer than max reservations lie after t - window (future ones
-- included, so adding t can't overfill any window that contains it).
local function earliest(key, max, window)
  if max <= 0 then return now end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  redis.call('ZREM', key, member)
  local n = redis.call('ZCARD', key)
  if n < max then return now end
  local e = redis.call('ZRANGE', key, n - max, n - max, 'WITHSCORES')
  return math.max(now, tonumber(e[2]) + window)
end
-- Throughput pacing (plan log): slots at least interval apart (evenly spread, a little under the limit): the
-- first free gap at or after t, else after the last reservation.
local function spaced(key, t, interval)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - 2 * interval)
  redis.call('ZREM', key, member)
  for _ = 1, 32 do
    local near = redis.call('ZRANGEBYSCORE', key, '(' .. (t - interval), '(' .. (t + interval), 'WITHSCORES')
    if #near == 0 then return t end
    t = tonumber(near[#near]) + interval
  end
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  return math.max(t, tonumber(last[2]) + interval)
end
local tierMax, tierWindow, tierMember = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
-- mpsWindow > 0: the hard cap (send log), at most mpsMax in any mpsWindow ms; else pace mpsInterval apart (plan log).
local mpsMax, mpsWindow, mpsInterval = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[12])
local pairMax, pairWindow = tonumber(ARGV[8]), tonumber(ARGV[9])
-- A recipient already counted in the tier window (unique-recipients rule) takes no new tier slot.
local tierCounted = tierMember == '' or tierMax <= 0
if not tierCounted and tierMember ~= member then
  local score = redis.call('ZSCORE', KEYS[1], tierMember)
  if score and tonumber(score) > now - tierWindow then tierCounted = true end
end
-- The tier log is gone (Redis lost the key) while the caller can rebuild it: ask for that first.
if ARGV[11] == '1' and not tierCounted and redis.call('EXISTS', KEYS[1]) == 0 then return 'rebuild' end
local t = now
if not tierCounted then t = math.max(t, earliest(KEYS[1], tierMax, tierWindow)) end
t = math.max(t, earliest(KEYS[3], pairMax, pairWindow))
if mpsMax > 0 then
  if mpsWindow > 0 then t = math.max(t, earliest(KEYS[2], mpsMax, mpsWindow)) else t = spaced(KEYS[2], t, mpsInterval) end
end
-- Too far ahead for this log: say when to come back, but hold nothing meanwhile.
local maxAhead = tonumber(ARGV[10])
if maxAhead > 0 and t - now > maxAhead then return tostring(-t) end
-- A log lives until its furthest slot's window has passed: a slot filling an earlier gap never shortens it.
local function keep(key, ttl)
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
if not tierCounted then
  redis.call('ZADD', KEYS[1], t, tierMember)
  keep(KEYS[1], math.ceil(t - now + tierWindow))
end
if mpsMax > 0 then
  redis.call('ZADD', KEYS[2], t, member)
  keep(KEYS[2], math.ceil(t - now + math.max(mpsWindow, 2 * mpsInterval)))
end
if pairMax > 0 then
  redis.call('ZADD', KEYS[3], t, member)
  keep(KEYS[3], math.ceil(t - now + pairWindow))
end
return tostring(t)
`;

/** Puts entries back into a lost tier log. KEYS[1]: the log; ARGV[1]: its expiry (ms); ARGV[2..]: score, member pairs. */
const REBUILD = `
for i = 2, #ARGV, 2000 do
  redis.call('ZADD', KEYS[1], 'NX', unpack(ARGV, i, math.min(i + 1999, #ARGV)))
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`;


/** The limits of one phone number. */
export interface NumberLimits {
  phoneNumberId: string;
  /** "1" | "2" | "3" | "unlimited" */
  tier: string;
  throughputMps: number;
}

/** Settings shared by every number (from the environment). */
export interface LimiterSettings {
  /** Daily (moving window) limit of tiers "1", "2", "3"; "unlimited" has none. */
  tierLimits: Record<string, number>;
  tierWindowMs: number;
  /** "messages": every message counts; "recipients": unique recipients of business-initiated messages. */
  tierCounting: 'messages' | 'recipients';
  pairLimit: number;
  pairWindowMs: number;
  /** Added to the tier and pair windows so jitter between our clock and Meta's never puts one send too many in a window. */
  windowMarginMs: number;
  /** The plan log paces a number's sends at this fraction of its throughput limit (0 < pace ≤ 1). */
  throughputPace: number;
  /** Added to the throughput limit's second in the send log (the hard cap on actual sends), in ms. */
  throughputMarginMs: number;
}

/** One message to reserve a slot for. */
export interface SlotRequest {
  messageId: string;
  recipient: string;
  businessInitiated: boolean;
}

/**
 * Which log a reservation goes to. "plan": the schedule a message is delayed to when enqueued (spreads a
 * backlog over time, paced a little under the throughput limit; may lie far ahead). "send": confirmed right
 * before the request, against actual sends only, so a job woken late never queues behind future plans: this one
 * holds the limits (throughput as a sliding window of send times, not spacing, so jitter costs no throughput).
 */
export type SlotLog = 'plan' | 'send';

/** A reservation: when to send, and whether the slot is held (a "send" slot too far ahead is not). */
export interface Slot {
  at: number;
  held: boolean;
}

/**
 * Rebuilds a number's tier log from Postgres when Redis lost it: the sends (or, when counting recipients, the
 * business-initiated recipients) of that number since `sinceMs`, each as the member the log would hold
 * (message id, or `r:<recipient>`) and when it was sent (epoch ms).
 */
export type TierLogSource = (phoneNumberId: string, sinceMs: number) => Promise<{ member: string; at: number }[]>;

type LimiterScripts = {
  gtcReserveSlot: (...args: (string | number)[]) => Promise<string>;
  gtcRebuildTierLog: (...args: (string | number)[]) => Promise<number>;
};

/**
 * Atomic multi-limit slot reservation (see RESERVE above). When Redis loses limiter keys (all or part of its
 * data), the throughput and pair logs simply start over: at worst one window (a second; PAIR_RATE_WINDOW_MS)
 * sees up to twice its limit, and Meta's throttling answer is retried. The tier log spans a day, so losing it
 * could double a day's sends: reservations in the "send" log rebuild it from Postgres first (TierLogSource).
 */
export class SendLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly settings: LimiterSettings,
  ) {
    if (!(redis as unknown as { gtcReserveSlot?: unknown }).gtcReserveSlot) {
      redis.defineCommand('gtcReserveSlot', { numberOfKeys: 3, lua: RESERVE });
      redis.defineCommand('gtcRebuildTierLog', { numberOfKeys: 1, lua: REBUILD });
    }
  }

  /**
   * Reserves the earliest slot (epoch ms) at which the message may be sent under all three limits. With
   * `maxAheadMs`, a slot further ahead than that is reported but not held (come back then and ask again).
   * With `tierLog`, a tier log Redis lost is rebuilt from it before the reservation.
   */
  async reserve(
    limits: NumberLimits,
    request: SlotRequest,
    log: SlotLog,
    maxAheadMs = 0,
    now = Date.now(),
    tierLog?: TierLogSource,
  ): Promise<Slot> {
    const s = this.settings;
    // Keys of one number share a hash tag, so the script also runs on Redis Cluster.
    const tag = `${this.prefix}:limits:{${limits.phoneNumberId}}:${log}`;
    const tierMax = limits.tier === 'unlimited' ? 0 : (s.tierLimits[limits.tier] ?? s.tierLimits['1']);
    const tierMember =
      s.tierCounting === 'recipients' ? (request.businessInitiated ? `r:${request.recipient}` : '') : request.messageId;
    const scripts = this.redis as unknown as LimiterScripts;
    const tierWindow = s.tierWindowMs + s.windowMarginMs;
    const reserveSlot = (rebuildFirst: boolean) => scripts.gtcReserveSlot(
      `${tag}:tier`,
      `${tag}:mps`,
      `${tag}:pair:${request.recipient}`,
      now,
      request.messageId,
      tierMax,
      tierWindow,
      tierMember,
      limits.throughputMps,
      log === 'send' ? 1000 + s.throughputMarginMs : 0,
      s.pairLimit,
      s.pairWindowMs + s.windowMarginMs,
      maxAheadMs,
      rebuildFirst ? 1 : 0,
      limits.throughputMps > 0 ? 1000 / (limits.throughputMps * s.throughputPace) : 0,
    );
    let result = await reserveSlot(tierLog !== undefined);
    if (result === 'rebuild' && tierLog) {
      const entries = await tierLog(limits.phoneNumberId, now - tierWindow);
      if (entries.length) {
        await scripts.gtcRebuildTierLog(`${tag}:tier`, tierWindow, ...entries.flatMap((e) => [e.at, e.member]));
      }
      result = await reserveSlot(false);
    }
    const at = Number(result);
    return { at: Math.abs(at), held: at >= 0 };
  }
}
