/**
 * Slows password guessing on the station listener: after `maxFailures`
 * attempts without success for one key (the listener uses remote address and
 * station id together) within `windowMs`, further attempts are refused with
 * 429 until the window passes. The listener records an attempt as a failure
 * before checking it, so parallel guesses are counted too.
 * Memory stays bounded: at most `maxTrackedKeys` keys are tracked.
 */
export class AuthFailureLimiter {
  private readonly failures = new Map<string, { count: number; firstAt: number }>();

  constructor(
    private readonly maxFailures = 5,
    private readonly windowMs = 60_000,
    private readonly maxTrackedKeys = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until `key` may try again, or 0 when it may try now. */
  retryAfterMs(key: string): number {
    const entry = this.failures.get(key);
    if (!entry) return 0;
    const elapsed = this.now() - entry.firstAt;
    if (elapsed >= this.windowMs) {
      this.failures.delete(key);
      return 0;
    }
    return entry.count >= this.maxFailures ? this.windowMs - elapsed : 0;
  }

  recordFailure(key: string): void {
    const now = this.now();
    const entry = this.failures.get(key);
    if (entry && now - entry.firstAt < this.windowMs) {
      entry.count += 1;
      return;
    }
    if (this.failures.size >= this.maxTrackedKeys) {
      // Drop the oldest entry (Map keeps insertion order).
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
    this.failures.delete(key);
    this.failures.set(key, { count: 1, firstAt: now });
  }

  recordSuccess(key: string): void {
    this.failures.delete(key);
  }
}
