import type { Logger } from '../util/logger.js';
import { isStorageUnavailable } from './storage-unavailable.js';

/** How often writes that wait for the storage are tried again, by default. */
export const DEFAULT_STORAGE_RETRY_MS = 5_000;

/** One write that could not be made yet. */
export interface DeferredWrite {
  /** The station it is about, for the log. */
  readonly stationId: string;
  /** The action or event it belongs to, for the log. */
  readonly what: string;
  /** When it happened: the time it is written with. */
  readonly at: Date;
  readonly write: () => void;
}

export interface DeferredWritesOptions {
  /** Logged at `warn` once everything waiting is written. */
  readonly recoveredMessage: string;
  /** Entries kept at most. */
  readonly limit: number;
  readonly retryMs: number;
  /**
   * Make one write. Throws while the storage is still unavailable: the entry
   * and those after it stay. Any other error (a bug, a constraint violation)
   * will not go away by waiting: that entry is logged, counted and dropped,
   * and the ones behind it are written.
   */
  readonly apply: (entry: DeferredWrite) => void;
  readonly logger: Logger;
}

/**
 * Writes that wait for the storage to take them again (a full disk, an I/O
 * error, a long-held write lock), in the order they happened, retried every
 * `retryMs` while any wait. Once anything waits, the owner queues later
 * writes behind it: a StopTransaction must never be applied before the
 * StartTransaction it ends.
 *
 * Bounded: past `limit` entries the newest are refused (the owner counts
 * them), so a disk that never frees up cannot exhaust memory. What waits here
 * lives in memory only; a restart before the storage recovers loses it.
 */
export class DeferredWrites {
  private readonly waiting: DeferredWrite[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private failedCount = 0;

  constructor(private readonly options: DeferredWritesOptions) {}

  get size(): number {
    return this.waiting.length;
  }

  get limit(): number {
    return this.options.limit;
  }

  get retryMs(): number {
    return this.options.retryMs;
  }

  /** Entries dropped because their write failed for another reason than the storage. */
  get failed(): number {
    return this.failedCount;
  }

  /** Keep `entry` behind the others and retry until written; false when the queue is full. */
  add(entry: DeferredWrite): boolean {
    if (this.waiting.length >= this.options.limit) return false;
    this.waiting.push(entry);
    this.retryTimer ??= setInterval(() => this.retry(), this.options.retryMs).unref();
    return true;
  }

  /** Stop retrying after one last try; returns how many writes are lost. */
  close(): number {
    if (this.waiting.length > 0) this.retry();
    this.stopRetrying();
    return this.waiting.length;
  }

  /** Make the waiting writes oldest first, until one finds the storage still unavailable. */
  private retry(): void {
    let written = 0;
    let dropped = 0;
    for (let next = this.waiting[0]; next !== undefined; next = this.waiting[0]) {
      try {
        this.options.apply(next);
        written += 1;
      } catch (error: unknown) {
        if (isStorageUnavailable(error)) {
          this.options.logger.debug({ err: error, waiting: this.waiting.length }, 'storage still unavailable');
          return;
        }
        // Retrying cannot fix it, and keeping it would hold every write behind it for good.
        this.failedCount += 1;
        dropped += 1;
        this.options.logger.error(
          { err: error, stationId: next.stationId, what: next.what, at: next.at.toISOString(), failed: this.failedCount },
          'a waiting write failed for another reason than the storage; it is dropped and the writes behind it go on',
        );
      }
      this.waiting.shift();
    }
    this.stopRetrying();
    this.options.logger.warn({ written, ...(dropped > 0 ? { dropped } : {}) }, this.options.recoveredMessage);
  }

  private stopRetrying(): void {
    if (this.retryTimer) clearInterval(this.retryTimer);
    this.retryTimer = undefined;
  }
}
