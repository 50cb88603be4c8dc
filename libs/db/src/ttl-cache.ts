/**
 * A small read-through cache for rows that change rarely (providers, flows): a value is loaded once per `ttlMs`
 * and shared by concurrent callers; a failed load is not cached.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { at: number; value: Promise<V> }>();

  constructor(private readonly ttlMs: number) {}

  /** The cached value, or the result of `load` (cached for ttlMs). */
  get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.value;
    const value = load();
    this.entries.set(key, { at: Date.now(), value });
    value.catch(() => this.entries.delete(key));
    return value;
  }

  /** Forgets a key (after a change this process made itself). */
  delete(key: string): void {
    this.entries.delete(key);
  }
}
