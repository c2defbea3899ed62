export interface LatencySummary {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

/** Round-trip times in microseconds, kept whole so percentiles are exact (nearest rank). */
export class LatencySamples {
  private values = new Float64Array(4096);
  private length = 0;

  add(micros: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length] = micros;
    this.length += 1;
  }

  get count(): number {
    return this.length;
  }

  summary(): LatencySummary {
    const sorted = this.values.slice(0, this.length).sort();
    const at = (fraction: number): number => {
      if (sorted.length === 0) return Number.NaN;
      const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
      return (sorted[rank] ?? Number.NaN) / 1000;
    };
    let total = 0;
    for (const value of sorted) total += value;
    return {
      count: sorted.length,
      meanMs: sorted.length === 0 ? Number.NaN : total / sorted.length / 1000,
      p50Ms: at(0.5),
      p90Ms: at(0.9),
      p99Ms: at(0.99),
      p999Ms: at(0.999),
      maxMs: at(1),
    };
  }
}
