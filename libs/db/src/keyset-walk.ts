/**
 * A walk through rows in (timestamp, id) order, one batch per call, across calls: each pass starts after the last
 * row of the previous full batch and starts over after a short one. Periodic sweeps (reconcilers) use it so that
 * a backlog of old rows never hides newer ones behind a fixed LIMIT.
 */
export class KeysetWalk {
  private after: { at: Date; id: string } | null = null;

  constructor(private readonly batch: number) {}

  /** Where this pass starts: bind as `($n::timestamp, $m::uuid)` in `(col, id) > (…)`, ordered by (col, id). */
  get from(): [Date, string] {
    return this.after ? [this.after.at, this.after.id] : [new Date(0), '00000000-0000-0000-0000-000000000000'];
  }

  /** Records the pass's rows (in walk order, with `at` the walked timestamp). */
  advance(rows: { at: Date; id: string }[]): void {
    const last = rows[rows.length - 1];
    this.after = rows.length === this.batch ? { at: last.at, id: last.id } : null;
  }
}
