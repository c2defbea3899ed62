/**
 * A small seeded PRNG (mulberry32) and the draws the generators use. No
 * dependency: the same seed gives the same inputs on every machine, which is
 * what makes a failure replayable.
 */
export class Rng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  bool(probability = 0.5): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.int(items.length)] as T;
  }

  /** One of several generators, by weight. */
  weighted<T>(choices: ReadonlyArray<readonly [number, () => T]>): T {
    const total = choices.reduce((sum, [weight]) => sum + weight, 0);
    let draw = this.next() * total;
    for (const [weight, make] of choices) {
      draw -= weight;
      if (draw < 0) return make();
    }
    const last = choices[choices.length - 1];
    if (!last) throw new RangeError('no choices');
    return last[1]();
  }

  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i += 1) out[i] = this.int(256);
    return out;
  }

  /** A string of `length` characters drawn from `alphabet`. */
  string(length: number, alphabet: string): string {
    const chars = [...alphabet];
    let out = '';
    for (let i = 0; i < length; i += 1) out += this.pick(chars);
    return out;
  }

  /** An independent generator for a sub-task (same seed, same sub-stream). */
  fork(label: string): Rng {
    return new Rng(mixSeed(this.seed, label));
  }
}

/** FNV-1a of the label mixed into the seed: one base seed, a stable stream per test. */
export function mixSeed(seed: number, label: string): number {
  let hash = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < label.length; i += 1) {
    hash ^= label.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}
