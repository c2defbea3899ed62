/**
 * Timing shared by the enrollment and renewal loops: the service's
 * `retryAfterS` honoured within sane bounds, and a timer that a loop can
 * cancel on stop(). The exponential backoff itself is the cloud link's
 * (ReconnectBackoff, "equal jitter"): a fleet that lost the service at the
 * same moment does not come back in lock step, and one gateway never
 * retries at once.
 */

export interface RetryAfterBounds {
  /** Seconds; a smaller (or zero) retryAfterS is raised to this. */
  readonly minRetryAfterS: number;
  /** Seconds; a service asking for a day is asked again after this. */
  readonly maxRetryAfterS: number;
}

export const DEFAULT_RETRY_AFTER_BOUNDS: RetryAfterBounds = { minRetryAfterS: 1, maxRetryAfterS: 3600 };

/** The service's wait, bounded, plus up to 20 % jitter: never earlier than asked, never all gateways at once. */
export function retryAfterDelayMs(retryAfterS: number, random: () => number, bounds: RetryAfterBounds = DEFAULT_RETRY_AFTER_BOUNDS): number {
  const seconds = Math.min(bounds.maxRetryAfterS, Math.max(bounds.minRetryAfterS, retryAfterS));
  return Math.round(seconds * 1000 * (1 + 0.2 * random()));
}

/** A fixed wait with up to 20 % jitter (the slow retry after a refusal). */
export function jittered(delayMs: number, random: () => number): number {
  return Math.round(delayMs * (1 + 0.2 * random()));
}

/** setTimeout's limit: a longer delay would fire at once (Node warns and uses 1 ms). */
export const MAX_TIMER_MS = 2 ** 31 - 1;
