/** The waits between attempts of a delivery (EVENT_RETRY_SCHEDULE_MS), with jitter. */
export class RetrySchedule {
  private readonly waits: number[];

  /** `raw`: comma-separated ms, e.g. "5000,30000,120000". */
  constructor(raw: string) {
    this.waits = raw.split(',').map(Number);
  }

  /**
   * The wait before the next attempt after `attemptsMade` failed attempts (1 after the first), ±10% so that the
   * retries of deliveries that failed together spread out; null when the schedule has run out (the delivery fails).
   */
  next(attemptsMade: number, random: () => number = Math.random): number | null {
    const wait = this.waits[attemptsMade - 1];
    if (wait === undefined) return null;
    return Math.round(wait * (0.9 + 0.2 * random()));
  }
}
