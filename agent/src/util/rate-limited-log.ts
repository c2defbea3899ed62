import type { Logger } from './logger.js';

/**
 * A log line that a peer can trigger at will (a malformed frame per frame)
 * must not become a synchronous disk write per frame: at most one line per
 * `intervalMs` per logger, the next one saying how many were left out.
 */
export class RateLimitedLog {
  private lastAt = Number.NEGATIVE_INFINITY;
  private suppressed = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  warn(logger: Logger, fields: Record<string, unknown>, message: string): void {
    const now = this.now();
    if (now - this.lastAt < this.intervalMs) {
      this.suppressed += 1;
      return;
    }
    this.lastAt = now;
    const suppressed = this.suppressed;
    this.suppressed = 0;
    logger.warn(suppressed > 0 ? { ...fields, suppressedSinceLastLine: suppressed } : fields, message);
  }
}
