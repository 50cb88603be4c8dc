/**
 * At most `max` events per `windowMs` for each key, over a sliding window (a ring of the last `max` event times).
 * Used for the per-number throughput limit (130429) and the per-recipient pair limit (131056).
 */
export class SlidingWindowLimiter {
  private readonly rings = new Map<string, { times: number[]; next: number }>();

  constructor(
    readonly max: number,
    readonly windowMs: number,
    private readonly maxKeys = 100_000,
  ) {}

  /** Records an event for `key` at `now` and returns true, or returns false (recording nothing) when over the limit. */
  take(key: string, now: number): boolean {
    if (this.max <= 0) return true;
    let ring = this.rings.get(key);
    if (!ring) {
      if (this.rings.size >= this.maxKeys) this.rings.delete(this.rings.keys().next().value as string);
      ring = { times: [], next: 0 };
      this.rings.set(key, ring);
    }
    if (ring.times.length < this.max) {
      ring.times.push(now);
      return true;
    }
    // The oldest of the last `max` events is at `next`: a new event is allowed once it has left the window.
    if (now - ring.times[ring.next] < this.windowMs) return false;
    ring.times[ring.next] = now;
    ring.next = (ring.next + 1) % this.max;
    return true;
  }
}
