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

/**
 * Writes that wait for the storage to take them again (a full disk, an I/O
 * error, a long-held write lock), in the order they happened. Once anything
 * waits, later writes of the same owner wait behind it: a StopTransaction must
 * never be applied before the StartTransaction it ends.
 *
 * Bounded: past `limit` entries the newest are refused (the owner counts
 * them), so a disk that never frees up cannot exhaust memory. What waits here
 * lives in memory only; a restart before the storage recovers loses it.
 */
export class DeferredWrites {
  private readonly waiting: DeferredWrite[] = [];

  constructor(readonly limit: number) {}

  get size(): number {
    return this.waiting.length;
  }

  /** Keep `entry` behind the others; false when the queue is full. */
  add(entry: DeferredWrite): boolean {
    if (this.waiting.length >= this.limit) return false;
    this.waiting.push(entry);
    return true;
  }

  /**
   * Make the waiting writes oldest first with `apply`, which throws when the
   * storage is still unavailable: that entry and the rest stay. Returns how
   * many were made.
   */
  drain(apply: (entry: DeferredWrite) => void): number {
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
