/** An item due at a time (ms since epoch); `seq` keeps insertion order among items due at the same time. */
interface Entry<T> {
  due: number;
  seq: number;
  item: T;
}

/**
 * A timer wheel for many small delays: one binary min-heap and one `setTimeout` for the earliest item, instead of a
 * timer per item. `onDue` receives every item that is due (up to `lookaheadMs()` early, for batching) in due order.
 */
export class Scheduler<T> {
  private heap: Entry<T>[] = [];
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;

  constructor(
    private readonly onDue: (items: T[]) => void,
    private readonly lookaheadMs: () => number = () => 0,
  ) {}

  /** Number of items waiting. */
  get size(): number {
    return this.heap.length;
  }

  /** Schedules `item` at `due` (ms since epoch). */
  add(due: number, item: T): void {
    const heap = this.heap;
    heap.push({ due, seq: this.seq++, item });
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(heap[i], heap[p])) break;
      [heap[i], heap[p]] = [heap[p], heap[i]];
      i = p;
    }
    if (due < this.armedFor) this.arm();
  }

  /** Drops every waiting item. */
  clear(): void {
    this.heap = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private less(a: Entry<T>, b: Entry<T>): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private pop(): Entry<T> | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && this.less(heap[l], heap[m])) m = l;
        if (r < heap.length && this.less(heap[r], heap[m])) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m], heap[i]];
        i = m;
      }
    }
    return top;
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
    if (this.heap.length === 0) return;
    const due = this.heap[0].due;
    this.armedFor = due;
    this.timer = setTimeout(() => this.fire(), Math.max(0, due - Date.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const until = Date.now() + this.lookaheadMs();
    const items: T[] = [];
    while (this.heap.length > 0 && this.heap[0].due <= until) items.push(this.pop()!.item);
    try {
      if (items.length > 0) this.onDue(items);
    } finally {
      this.arm();
    }
  }
}
