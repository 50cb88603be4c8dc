import type Redis from 'ioredis';

/**
 * Reserves a send slot under three limits at once, atomically in Redis, shared by every sender replica:
 * the tier's daily limit (moving window, per phone number), the throughput limit (per phone number) and the
 * pair limit (per recipient). Each limit is a sliding log of reserved send times: a slot may lie in the future,
 * and the caller sends at that time (a BullMQ delay), so a backlog is spread over future slots instead of
 * retrying in a loop, and other numbers' messages never wait behind it.
 *
 * The throughput limit is held in two steps, both as spacing between slots. The plan log paces: its slots lie
 * evenly apart, a little under the limit (1000 / (mps × pace) ms), so that sends leave evenly and a late one has
 * room. The send log, confirmed right before each request, is the hard cap: slots at least
 * (1000 + throughput margin) / mps ms apart, so that any (1000 + margin) ms of sends holds at most mps of them and
 * any second at Meta does too while a request takes less than the margin to be counted there. Whatever jitter did
 * to the plan on the way (a late job, a bunch promoted at once), the bunch leaves spaced. A sliding window of
 * (1000 + margin) ms let it go at once, and Meta's side counted it later still, into the next second: at 50/s,
 * graph-sim's worst second was 50-57 with a 20 ms margin and 50-54 with 30 ms; a window that let a bunch catch up
 * at twice the pace, 52-54; spacing with 30 ms, 50 in every run (README, "Benchmarks").
 *
 * Why not rate-limiter-flexible or BullMQ's limiter: both count fixed windows, which let 2× the limit through
 * across a window boundary (Meta counts any second), the BullMQ one is per queue, not per key, and neither can
 * consume three limits atomically or reserve future slots.
 */
const RESERVE = `
local now = tonumber(ARGV[1])
local member = ARGV[2]
local tierMax, tierWindow, tierMember = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
-- Throughput: slots at least mpsInterval ms apart (0: no limit), in the plan log or the send log (KEYS[2]).
local mpsInterval = tonumber(ARGV[6])
local pairMax, pairWindow = tonumber(ARGV[7]), tonumber(ARGV[8])
local maxAhead = tonumber(ARGV[9])

-- Every command counts (issue 14): a reservation runs only what its answer needs. Each log consulted is a table:
-- key; n, its member count (ZCARD), kept up to date by what the script removes; mine, whether the message's own
-- earlier slot is in it (nil: not known); later, whether it may hold a slot after the one taken here (see keep).
local function open(key) return { key = key, n = redis.call('ZCARD', key) } end

-- Sliding window: the earliest t at which fewer than max reservations lie after t - window (future ones
-- included, so adding t can't overfill any window that contains it): now, or the window after the max-th newest
-- live reservation, the message's own earlier slot left out (a re-reservation replaces it).
-- Neither expired entries nor the own slot are removed to count: both are found by rank instead. Expired entries
-- are the oldest, so they never change which entry is the max-th newest; that one (the single ZRANGE) is
-- either expired itself, and then fewer than max are live (answer now), or live, and then it is the answer,
-- unless the own slot is among the max newest (ZRANK), and then the next older one is. Below max entries in all,
-- ZCARD alone answers (live entries, the own slot left out, are fewer still). Expired entries are trimmed once
-- the log holds a quarter of max (at most 64) more than max, so it never grows past that beyond its live entries
-- (and the key's TTL takes the rest).
local function earliest(log, max, window)
  if log.n >= max + math.min(math.ceil(max / 4), 64) then
    log.n = log.n - redis.call('ZREMRANGEBYSCORE', log.key, '-inf', now - window)
  end
  log.later = log.n > 0
  if log.n < max then return now end
  local i = log.n - max
  local e = tonumber(redis.call('ZRANGE', log.key, i, i, 'WITHSCORES')[2])
  if e <= now - window then return now end
  local rank = redis.call('ZRANK', log.key, member)
  log.mine = rank ~= false
  if log.mine and rank >= i then
    if i == 0 then return now end
    i = i - 1
    e = tonumber(redis.call('ZRANGE', log.key, i, i, 'WITHSCORES')[2])
    if e <= now - window then return now end
  end
  return e + window
end

-- Throughput (either log): slots at least interval apart. The first free gap at or after t, i.e. the first t with
-- no reservation in (t - interval, t + interval), looking through at most 32 busy windows, else after the last
-- reservation. The entries from t - interval on come in ascending order, a page of 64 per query (one query in
-- nearly every case, where each window used to cost one), and are walked in Lua with exact numbers: a query
-- bound written as '(' .. x has only 14 digits, so a slot with a fractional interval could fall back inside the
-- next window and keep t where it was, 32 times over.
-- The message's own earlier slot is skipped instead of removed (the ZADD replaces it). Expired entries never
-- reach the walk (it starts at t - interval >= now - interval): see trimsThroughputLog.
local PAGE = 64
local function spaced(log, t, interval)
  local from = '(' .. string.format('%.17g', t - interval)
  local page, k, offset, mine = redis.call('ZRANGEBYSCORE', log.key, from, '+inf', 'WITHSCORES', 'LIMIT', 0, PAGE), 1, 0, nil
  local function nextScore()
    while true do
      if k > #page then
        if #page < 2 * PAGE then return nil end
        offset = offset + PAGE
        page, k = redis.call('ZRANGEBYSCORE', log.key, from, '+inf', 'WITHSCORES', 'LIMIT', offset, PAGE), 1
      else
        local m, score = page[k], tonumber(page[k + 1])
        k = k + 2
        if m ~= member then return score end
        mine = score
      end
    end
  end
  local e = nextScore()
  for _ = 1, 32 do
    if e == nil or e >= t + interval then
      -- Free. Any entry not walked lies after t + interval; the own slot ahead of t is replaced by the ZADD, but
      -- the TTL it was given stays (never shortened).
      log.later = e ~= nil or (mine ~= nil and mine > t)
      return t
    end
    local last
    repeat last, e = e, nextScore() until e == nil or e >= t + interval
    t = last + interval
  end
  -- 32 busy windows: after the last reservation, which the page holds unless it is full.
  if #page < 2 * PAGE then
    while e do t, e = math.max(t, e + interval), nextScore() end
  else
    local top = redis.call('ZRANGE', log.key, -2, -1, 'WITHSCORES')
    if top[3] == member then mine, top[4] = tonumber(top[4]), top[2] end
    t = math.max(t, tonumber(top[4]) + interval)
  end
  log.later = mine ~= nil and mine > t
  return t
end
-- Expired entries of a throughput log never reach the walk above: they only take memory, so one reservation in 32
-- trims them, chosen by its message id (the first byte of its SHA-1, computed in Lua, no command), so trims are
-- spread over any traffic (the clock would not do: a periodic sender could stay out of step with it).
local function trimsThroughputLog()
  return tonumber(string.sub(redis.sha1hex(member), 1, 2), 16) % 32 == 0
end

-- A recipient already counted in the tier window (unique-recipients rule) takes no new tier slot.
local tierCounted = tierMember == '' or tierMax <= 0
if not tierCounted and tierMember ~= member then
  local score = redis.call('ZSCORE', KEYS[1], tierMember)
  if score and tonumber(score) > now - tierWindow then tierCounted = true end
end
local t, tier, mps, pair = now, nil, nil, nil
if not tierCounted then
  tier = open(KEYS[1])
  -- The tier log is gone (Redis lost the key) while the caller can rebuild it: ask for that first. An empty
  -- sorted set does not exist, so the count says it (no EXISTS).
  if ARGV[10] == '1' and tier.n == 0 then return 'rebuild' end
  t = math.max(t, earliest(tier, tierMax, tierWindow))
end
if pairMax > 0 then
  pair = open(KEYS[3])
  t = math.max(t, earliest(pair, pairMax, pairWindow))
end
if mpsInterval > 0 then
  mps = { key = KEYS[2] }
  t = spaced(mps, t, mpsInterval)
end
-- Too far ahead for this log: say when to come back, but hold nothing meanwhile (not the message's earlier slot
-- either, as a reservation replaces it).
if maxAhead > 0 and t - now > maxAhead then
  for _, log in ipairs({ tier or false, mps or false, pair or false }) do
    if log and log.mine ~= false then redis.call('ZREM', log.key, member) end
  end
  return tostring(-t)
end
-- A log lives until its furthest slot's window has passed: a slot filling an earlier gap never shortens it. A log
-- that may hold a later slot has a TTL (every write sets one), and PEXPIRE GT only ever lengthens it. One that
-- holds none after t needs t's window only: it is new (ZADD made it, without a TTL, which GT would take for
-- infinite and never set), or its entries all lie at or before t, and those count for nothing once t's window is
-- over, so a plain PEXPIRE is right.
local function keep(log, ttl)
  if log.later then redis.call('PEXPIRE', log.key, ttl, 'GT') else redis.call('PEXPIRE', log.key, ttl) end
end
if tier then
  redis.call('ZADD', tier.key, t, tierMember)
  keep(tier, math.ceil(t - now + tierWindow))
end
if mps then
  redis.call('ZADD', mps.key, t, member)
  keep(mps, math.ceil(t - now + 2 * mpsInterval))
  if trimsThroughputLog() then
    redis.call('ZREMRANGEBYSCORE', mps.key, '-inf', now - 2 * mpsInterval)
  end
end
if pair then
  redis.call('ZADD', pair.key, t, member)
  keep(pair, math.ceil(t - now + pairWindow))
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
  /** Added to the throughput limit's second in the send log (the hard cap on actual sends), in ms: its slots lie (1000 + this) / mps ms apart. */
  throughputMarginMs: number;
}

/** How far apart a number's throughput slots lie in a log, in ms (0: no throughput limit). */
function throughputInterval(mps: number, log: SlotLog, s: LimiterSettings): number {
  if (mps <= 0) return 0;
  return log === 'send' ? (1000 + s.throughputMarginMs) / mps : 1000 / (mps * s.throughputPace);
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
 * holds the limits (throughput as spacing between actual sends, so a bunch woken together leaves evenly).
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
 * data), the throughput and pair logs simply start over: at worst a pair window (PAIR_RATE_WINDOW_MS) sees up to
 * twice its limit, and sends already confirmed ahead (a caller waits a short while for its slot) are joined by new
 * ones in between, up to twice the throughput until those have left; Meta's throttling answer is retried. The
 * tier log spans a day, so losing it could double a day's sends: reservations in the "send" log rebuild it from
 * Postgres first (TierLogSource).
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
      throughputInterval(limits.throughputMps, log, s),
      s.pairLimit,
      s.pairWindowMs + s.windowMarginMs,
      maxAheadMs,
      rebuildFirst ? 1 : 0,
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

  /**
   * Confirms a message's slot in the "send" log right before its request and resolves at the slot's time, or at
   * once with a slot further ahead than `maxAheadMs` (not held: come back then). The log counts the request at
   * its slot's time, and the throughput margin absorbs the difference to when Meta sees it: a caller that
   * resumes more than half that margin after its slot (a stalled event loop, a slow answer from Redis) takes its
   * slot again, now, so that the request is counted when it leaves; at most twice (`retaken`), then it goes.
   */
  async confirm(limits: NumberLimits, request: SlotRequest, maxAheadMs: number, tierLog?: TierLogSource): Promise<Slot & { retaken: number }> {
    for (let retaken = 0; ; retaken++) {
      const slot = await this.reserve(limits, request, 'send', maxAheadMs, Date.now(), tierLog);
      if (!slot.held) return { ...slot, retaken };
      const wait = slot.at - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (Date.now() - slot.at <= this.settings.throughputMarginMs / 2 || retaken === 2) return { ...slot, retaken };
    }
  }
}
