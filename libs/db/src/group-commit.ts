/**
 * Group commit: items submitted while a flush is running are collected and written together by the next
 * flush, so under load one transaction carries many webhooks, and when idle a webhook is written at once.
 * A batch that fails for a reason one of its items may have caused (`splittable`) is split in halves and each
 * half flushed again, down to single items: only the guilty item fails, its neighbours are written.
 * With `lingerMs`, a flush that would start with less than a full batch waits that long first, gathering more: for
 * writes that may wait a little (one statement for many instead of one each at a trickle).
 * With `overlapAfterMs`, a flush beside a running one starts only once the oldest running one has taken that long (it
 * waits on something: a lock, a slow statement), or for a full batch: under load one flush at a time carries batches
 * twice as large, each cheaper per item, and a flush that is stuck still does not hold up the items behind it.
 * With `weight`, a batch also holds at most `weight.max` of what `weight.of` counts in its items (the rows they write,
 * say; a heavier item still goes alone): what one flush builds and holds at once stays bounded when items vary in size.
 */
export class GroupCommit<T, R> {
  private pending: { item: T; weight: number; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  /** The weight of the pending items (1 each without `weight`). */
  private pendingWeight = 0;
  /** When each running flush started (performance.now(): monotonic), oldest first. */
  private readonly runningSince: number[] = [];
  private lingering?: NodeJS.Timeout;
  private overlapping?: NodeJS.Timeout;

  constructor(
    private readonly flush: (items: T[]) => Promise<R[]>,
    private readonly maxConcurrent: number,
    private readonly maxBatch: number,
    private readonly splittable: (err: unknown) => boolean,
    private readonly lingerMs = 0,
    private readonly overlapAfterMs = 0,
    private readonly weight?: { of: (item: T) => number; max: number },
  ) {}

  private get running(): number {
    return this.runningSince.length;
  }

  /** Resolves with this item's result once it is written; rejects if it could not be (alone, or with its whole batch). */
  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const weight = this.weight ? this.weight.of(item) : 1;
      this.pending.push({ item, weight, resolve, reject });
      this.pendingWeight += weight;
      this.drain();
    });
  }

  /** Whether the pending items fill a batch. */
  private get full(): boolean {
    return this.pending.length >= this.maxBatch || (this.weight !== undefined && this.pendingWeight >= this.weight.max);
  }

  /** Takes the next batch off the pending items: at most maxBatch, and at most the weight's max (one item at least). */
  private takeBatch(): typeof this.pending {
    let n = 0;
    let weight = 0;
    while (n < this.pending.length && n < this.maxBatch) {
      const next = this.pending[n].weight;
      if (n > 0 && this.weight && weight + next > this.weight.max) break;
      weight += next;
      n++;
    }
    this.pendingWeight -= weight;
    return this.pending.splice(0, n);
  }

  private drain(): void {
    if (this.lingerMs && this.pending.length && !this.full && this.running < this.maxConcurrent) {
      this.lingering ??= setTimeout(() => {
        this.lingering = undefined;
        this.flushNow();
      }, this.lingerMs);
      return;
    }
    this.flushNow();
  }

  private flushNow(): void {
    clearTimeout(this.lingering);
    this.lingering = undefined;
    clearTimeout(this.overlapping);
    this.overlapping = undefined;
    while (this.running < this.maxConcurrent && this.pending.length) {
      if (this.running && this.overlapAfterMs && !this.full) {
        const wait = this.runningSince[0] + this.overlapAfterMs - performance.now();
        if (wait > 0) {
          this.overlapping = setTimeout(() => {
            this.overlapping = undefined;
            this.drain();
          }, wait);
          return;
        }
      }
      const batch = this.takeBatch();
      const since = performance.now();
      this.runningSince.push(since);
      void this.write(batch).finally(() => {
        this.runningSince.splice(this.runningSince.indexOf(since), 1);
        this.drain();
      });
    }
  }

  /** Flushes the batch; on a splittable failure, each half in turn (in order, so arrival order holds). */
  private async write(batch: typeof this.pending): Promise<void> {
    let results: R[];
    try {
      results = await this.flush(batch.map((b) => b.item));
    } catch (err) {
      if (batch.length === 1 || !this.splittable(err)) {
        batch.forEach((b) => b.reject(err));
        return;
      }
      const half = Math.ceil(batch.length / 2);
      await this.write(batch.slice(0, half));
      await this.write(batch.slice(half));
      return;
    }
    batch.forEach((b, i) => b.resolve(results[i]));
  }
}
