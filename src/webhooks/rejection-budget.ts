// Rejected deliveries are stored so a user can see why a provider's calls fail, but a flood of
// forged calls must not grow the table without bound: each hook stores at most PER_MINUTE
// rejections a minute per process. Past it a delivery is refused all the same, just not stored.
const PER_MINUTE = 60;
const MAX_TRACKED = 10_000;

export class RejectionBudget {
  private readonly windows = new Map<string, { start: number; count: number; warned: boolean }>();

  /** Whether this rejection of `hook` (tenant/function/hook) may be stored. */
  take(hook: string): boolean {
    const now = Date.now();
    let window = this.windows.get(hook);
    if (!window || now - window.start >= 60_000) {
      if (!window && this.windows.size >= MAX_TRACKED) this.forgetStale(now);
      window = { start: now, count: 0, warned: false };
      this.windows.set(hook, window);
    }
    if (window.count < PER_MINUTE) {
      window.count++;
      return true;
    }
    if (!window.warned) {
      window.warned = true;
      console.warn(`isobox: webhook ${hook}: more than ${PER_MINUTE} rejected deliveries this minute; further ones are refused without being stored`);
    }
    return false;
  }

  private forgetStale(now: number): void {
    for (const [hook, window] of this.windows) if (now - window.start >= 60_000) this.windows.delete(hook);
  }
}
