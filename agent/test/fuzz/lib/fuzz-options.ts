/**
 * Budgets and seeds of the fuzz suite. `npm test` runs each fuzz test with a
 * small iteration count; `npm run fuzz` (FUZZ_LONG=1) with a larger one.
 *
 *   FUZZ_SEED=<n>        replay: the same inputs again (printed by every run)
 *   FUZZ_ITERATIONS=<n>  iterations per fuzz test (one attacker, frame, command or CSV file each)
 *   FUZZ_TIME_CAP_S=<n>  stop generating after this long (a cap, never an assertion)
 *
 * Budgets are iteration counts; the time cap only stops generating early on
 * a slow machine, the checks after it still run.
 */
import { randomInt } from 'node:crypto';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { mixSeed, Rng } from './prng.js';

export const FUZZ_LONG = process.env.FUZZ_LONG === '1';

function envInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a whole number >= 0, got "${raw}"`);
  return value;
}

/** One base seed per process: FUZZ_SEED, or a fresh one printed so it can be given back. */
export const BASE_SEED: number = envInt('FUZZ_SEED') ?? randomInt(2 ** 31);
const ITERATIONS = envInt('FUZZ_ITERATIONS');
const TIME_CAP_MS = (envInt('FUZZ_TIME_CAP_S') ?? (FUZZ_LONG ? 1800 : 12)) * 1000;

export interface FuzzBudget {
  readonly rng: Rng;
  readonly iterations: number;
  /** Generating stops at this time (ms since epoch); checks still run. */
  readonly deadline: number;
  /** True while there is time left to generate. */
  more(): boolean;
  /** For failure messages: how to run exactly this again. */
  readonly replay: string;
}

/**
 * The budget of one fuzz test: its own PRNG stream (base seed mixed with the
 * test's name), its iteration count, and a replay line printed at the start
 * and again, on stderr, when the test fails.
 */
export function fuzzBudget(t: Test, file: string, name: string, shortIterations: number, longIterations = shortIterations * 20): FuzzBudget {
  const iterations = ITERATIONS ?? (FUZZ_LONG ? longIterations : shortIterations);
  const seed = mixSeed(BASE_SEED, name);
  const path = relative(process.cwd(), fileURLToPath(file));
  const replay = `FUZZ_SEED=${BASE_SEED} FUZZ_ITERATIONS=${iterations} npx tap ${path}`;
  t.comment(`fuzz "${name}": seed ${BASE_SEED} (stream ${seed}), ${iterations} iterations; replay: ${replay}`);
  t.teardown(() => {
    if (!t.passing()) process.stderr.write(`\nFUZZ FAILURE in "${name}": replay with\n  ${replay}\n\n`);
  });
  const deadline = Date.now() + TIME_CAP_MS;
  return { rng: new Rng(seed), iterations, deadline, more: () => Date.now() < deadline, replay };
}

