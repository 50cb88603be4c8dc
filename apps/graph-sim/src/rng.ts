/** A small deterministic PRNG (mulberry32): the same seed gives the same sequence, so faults are repeatable. */
export class SeededRng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** True with probability p (never draws when p is 0 or 1, so unrelated knobs do not shift the sequence). */
  chance(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.next() < p;
  }

  /** An integer in [0, max]. */
  upTo(max: number): number {
    return max <= 0 ? 0 : Math.floor(this.next() * (max + 1));
  }
}
