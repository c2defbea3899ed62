export interface BackoffOptions {
  /** The first delay after a connection is lost (before jitter). */
  readonly initialDelayMs?: number;
  /** The delay stops doubling here. */
  readonly maxDelayMs?: number;
  /** [0, 1); injectable so a test can pin the jitter. */
  readonly random?: () => number;
}

/**
 * Exponential backoff with "equal jitter": the n-th delay is drawn from
 * [d/2, d) with d = min(max, initial * 2^n). A broker restart drops every
 * gateway of a fleet at the same instant; the random half spreads their
 * reconnects instead of having them all knock again in lock step, and the
 * fixed half keeps a single gateway from retrying at once.
 */
export class ReconnectBackoff {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialDelayMs = options.initialDelayMs ?? 1_000;
    this.maxDelayMs = options.maxDelayMs ?? 60_000;
    this.random = options.random ?? Math.random;
    if (!(this.initialDelayMs > 0) || !(this.maxDelayMs >= this.initialDelayMs)) {
      throw new RangeError(`backoff needs 0 < initialDelayMs <= maxDelayMs, got ${this.initialDelayMs} and ${this.maxDelayMs}`);
    }
  }

  /** The delay before the next attempt; each call doubles the base up to the maximum. */
  next(): number {
    const base = Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(base / 2 + (this.random() * base) / 2);
  }

  /** After a connection that held: the next loss starts from the initial delay again. */
  reset(): void {
    this.attempt = 0;
  }
}
