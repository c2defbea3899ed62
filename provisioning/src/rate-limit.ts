/**
 * Wrong claim codes are limited per gateway and per client address: past
 * `max` failures in `windowMs` every further attempt in that scope is
 * answered 429 with Retry-After, right code or not, until the oldest failure
 * leaves the window. 80-bit codes cannot be guessed anyway; the limit keeps a
 * typo-prone installer's mistakes from becoming an oracle and keeps the log
 * quiet. Failures live in SQLite, so `serve` and the `claim` command share
 * them and a restart does not reset them.
 */
import { ApiError } from './errors.js';
import type { Clock } from './clock.js';
import type { ProvisionDb } from './provision-store.js';

export interface FailureLimitOptions {
  readonly max: number;
  readonly windowMs: number;
}

export const DEFAULT_FAILURE_LIMIT: FailureLimitOptions = { max: 5, windowMs: 15 * 60_000 };

export class FailureLimiter {
  private readonly countSince;
  private readonly insert;
  private readonly prune;

  constructor(
    db: ProvisionDb,
    private readonly clock: Clock,
    private readonly options: FailureLimitOptions = DEFAULT_FAILURE_LIMIT,
  ) {
    this.countSince = db.prepare('SELECT count(*) AS n, min(at) AS oldest FROM failed_attempts WHERE scope = ? AND at > ?');
    this.insert = db.prepare('INSERT INTO failed_attempts (scope, at) VALUES (?, ?)');
    this.prune = db.prepare('DELETE FROM failed_attempts WHERE at <= ?');
  }

  /** Throws 429 when any scope is over the limit. */
  check(scopes: readonly string[]): void {
    const now = this.clock();
    for (const scope of scopes) {
      const row = this.countSince.get(scope, now - this.options.windowMs) as { n: number; oldest: number | null };
      if (row.n >= this.options.max) {
        const retryAfterS = Math.max(1, Math.ceil(((row.oldest ?? now) + this.options.windowMs - now) / 1000));
        throw new ApiError(429, 'too_many_attempts', `too many wrong claim codes; try again in ${retryAfterS} s`, retryAfterS);
      }
    }
  }

  record(scopes: readonly string[]): void {
    const now = this.clock();
    for (const scope of scopes) this.insert.run(scope, now);
    this.prune.run(now - this.options.windowMs);
  }
}
