/**
 * A per-second request budget shared by every call of one client, plus a common pause after a 429: Zoom's limits are
 * per account and shared by all apps (docs/ZOOM-FACTS.md §5), so a backfill must leave room for the webhook path's
 * token and download requests. Requests are spaced evenly (1 s / rate), which also keeps bursts from tripping
 * per-second limits.
 */
export class RequestBudget {
  private nextSlotMs = 0;
  private pausedUntilMs = 0;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = defaultSleep,
  ) {
    if (!(perSecond > 0)) throw new RangeError('requests per second must be > 0');
  }

  /** Resolves when the caller may send one request; slots are handed out in call order. */
  async take(): Promise<void> {
    for (;;) {
      const now = this.now();
      if (now < this.pausedUntilMs) {
        await this.sleep(this.pausedUntilMs - now);
        continue;
      }
      // Reserve the slot before sleeping so concurrent callers queue behind it instead of all waking at once.
      const slot = Math.max(now, this.nextSlotMs);
      this.nextSlotMs = slot + 1000 / this.perSecond;
      if (slot > now) await this.sleep(slot - now);
      // A 429 seen while we slept pauses us too.
      if (this.now() >= this.pausedUntilMs) return;
    }
  }

  /** Everyone waits until `untilMs` (a 429's Retry-After). */
  pauseUntil(untilMs: number): void {
    this.pausedUntilMs = Math.max(this.pausedUntilMs, untilMs);
  }
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
