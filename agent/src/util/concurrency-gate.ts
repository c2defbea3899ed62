import { GateFullError } from '../errors.js';

interface Waiter {
  readonly grant: (release: () => void) => void;
  readonly refuse: (error: unknown) => void;
}

/**
 * At most `maxActive` holders at once, at most `maxWaiting` in line behind
 * them (first come, first served); beyond that `acquire` fails at once with
 * GateFullError. Used where one burst from the LAN must not take every
 * resource of the gateway: upstream dials after a power cut, scrypt on the
 * thread pool during a password-guessing burst.
 */
export class ConcurrencyGate {
  private active = 0;
  private peak = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    readonly name: string,
    readonly maxActive: number,
    readonly maxWaiting: number,
  ) {}

  get activeCount(): number {
    return this.active;
  }

  get waitingCount(): number {
    return this.waiting.length;
  }

  /** The most holders there ever were at once. */
  get peakActive(): number {
    return this.peak;
  }

  /**
   * Resolves with the function that gives the slot back (call it exactly
   * once, in a `finally`). An abort while waiting rejects with the signal's
   * reason and leaves the line.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.active < this.maxActive && this.waiting.length === 0) return Promise.resolve(this.take());
    if (this.waiting.length >= this.maxWaiting) return Promise.reject(new GateFullError(this.name, this.maxActive, this.maxWaiting));
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        grant: (release) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(release);
        },
        refuse: reject,
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  /** Run `task` holding a slot. */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await task();
    } finally {
      release();
    }
  }

  private take(): () => void {
    this.active += 1;
    if (this.active > this.peak) this.peak = this.active;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active -= 1;
      const next = this.waiting.shift();
      if (next) next.grant(this.take());
    };
  }
}
