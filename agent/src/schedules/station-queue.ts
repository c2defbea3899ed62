/**
 * One chain of work per station: a schedule command, a re-apply after a boot
 * and an expiry never interleave on the same station, so each reads the row
 * the previous one wrote. (The call lane already serializes the OCPP calls;
 * this serializes the bookkeeping around them.)
 */
export class StationQueue {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(stationId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(stationId) ?? Promise.resolve();
    const result = previous.then(work);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(stationId, tail);
    void tail.then(() => {
      if (this.tails.get(stationId) === tail) this.tails.delete(stationId);
    });
    return result;
  }

  /** Resolves when everything queued so far has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all(this.tails.values());
  }
}
