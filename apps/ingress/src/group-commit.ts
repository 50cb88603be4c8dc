/**
 * Group commit: items submitted while a flush is running are collected and written together by the next
 * flush, so under load one transaction carries many webhooks, and when idle a webhook is written at once.
 */
export class GroupCommit<T, R> {
  private pending: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private running = 0;

  constructor(
    private readonly flush: (items: T[]) => Promise<R[]>,
    private readonly maxConcurrent: number,
    private readonly maxBatch: number,
  ) {}

  /** Resolves with this item's result once its batch is written; rejects if the batch failed. */
  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    while (this.running < this.maxConcurrent && this.pending.length) {
      const batch = this.pending.splice(0, this.maxBatch);
      this.running++;
      this.flush(batch.map((b) => b.item))
        .then(
          (results) => batch.forEach((b, i) => b.resolve(results[i])),
          (err) => batch.forEach((b) => b.reject(err)),
        )
        .finally(() => {
          this.running--;
          this.drain();
        });
    }
  }
}
