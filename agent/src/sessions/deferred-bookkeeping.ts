import type { StationInfo } from '../ocpp/frame-observer.js';

/** One frame's bookkeeping that could not be written yet. */
export interface DeferredWork {
  readonly station: StationInfo;
  /** The action or event it belongs to, for the log. */
  readonly what: string;
  /** When the frame went by: the receive time its bookkeeping is written with. */
  readonly receivedAt: Date;
  readonly work: () => void;
}

/**
 * Bookkeeping that waits for the storage to take writes again (a full disk,
 * an I/O error, a long-held write lock), in the order the frames went by.
 * Once anything waits, later frames wait behind it: a StopTransaction must
 * never be applied before the StartTransaction it ends.
 *
 * Bounded: past `limit` frames the newest are refused (counted by the
 * caller), so a disk that never frees up cannot exhaust memory. What waits
 * here lives in memory only; a restart before the storage recovers loses it.
 */
export class DeferredBookkeeping {
  private readonly waiting: DeferredWork[] = [];

  constructor(readonly limit: number) {}

  get size(): number {
    return this.waiting.length;
  }

  /** Keep `entry` behind the others; false when the queue is full. */
  add(entry: DeferredWork): boolean {
    if (this.waiting.length >= this.limit) return false;
    this.waiting.push(entry);
    return true;
  }

  /**
   * Apply the waiting work oldest first with `apply`, which throws when the
   * storage is still unavailable: that entry and the rest stay. Returns how
   * many were applied.
   */
  drain(apply: (entry: DeferredWork) => void): number {
    let applied = 0;
    while (this.waiting.length > 0) {
      const next = this.waiting[0];
      if (next === undefined) break;
      apply(next);
      this.waiting.shift();
      applied += 1;
    }
    return applied;
  }
}
