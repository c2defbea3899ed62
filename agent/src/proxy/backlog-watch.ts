/**
 * A peer with more than `maxBufferedBytes` waiting to be written is given this
 * long to make progress before it is judged too slow: one large frame (a
 * SendLocalList of several MiB) fills the buffer for a moment on a healthy link.
 */
export const SLOW_PEER_GRACE_MS = 10_000;
/** Beyond the limit by more than the largest frame a peer may receive, a peer is closed at once: memory comes first. */
const SLOW_PEER_HARD_EXTRA_BYTES = 16 * 1024 * 1024;

/**
 * Judges one side of a link as a slow reader over time, not on one send: the
 * side is slow when its backlog stays over the limit without shrinking for
 * SLOW_PEER_GRACE_MS, or at once when it passes the hard ceiling. A healthy
 * station receiving one large CPMS frame drains it and is left alone.
 */
export class BacklogWatch {
  /** The backlog when last looked at, while a check is pending. */
  private lastBytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limitBytes: number,
    /** The side's current backlog (its socket may be replaced, e.g. a redialled upstream). */
    private readonly buffered: () => number,
    private readonly onSlow: () => void,
  ) {}

  /** After a send: starts watching when the backlog is over the limit. */
  afterSend(): void {
    const bytes = this.buffered();
    if (bytes <= this.limitBytes) return;
    if (bytes > this.limitBytes + SLOW_PEER_HARD_EXTRA_BYTES) {
      this.stop();
      this.onSlow();
      return;
    }
    if (this.timer) return;
    this.lastBytes = bytes;
    this.arm();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.timer = setTimeout(() => this.check(), SLOW_PEER_GRACE_MS);
    this.timer.unref();
  }

  private check(): void {
    this.timer = undefined;
    const bytes = this.buffered();
    if (bytes <= this.limitBytes) return;
    if (bytes >= this.lastBytes) {
      this.onSlow();
      return;
    }
    this.lastBytes = bytes;
    this.arm();
  }
}
