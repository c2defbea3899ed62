/**
 * Issue 3: "100,000 drivers import in seconds and a lookup on the frame path
 * costs microseconds". In a temporary data folder (a real SQLite file, WAL,
 * the gateway's own migrations): a CSV of N synthetic drivers is parsed and
 * imported as `pleevi-edge drivers import` does it, imported again unchanged,
 * then `SqliteDriverDirectory.lookup()` (what local authorization calls per
 * Authorize) is timed over random known and unknown badges, against an
 * in-memory `Map.get` over the same normalized badges measured the same way
 * in the same run.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDriverCsv } from '../../agent/src/drivers/driver-csv.js';
import { normalizeBadge } from '../../agent/src/drivers/driver-directory.js';
import { importDrivers, SqliteDriverDirectory, syntheticBadgeId, syntheticDriverRows } from '../../agent/src/drivers/driver-list-store.js';
import { DATABASE_FILE, openStore } from '../../agent/src/store/gateway-store.js';
import type { DriverLookupRun, MicrosSummary } from './bench-results.js';

/** Lookups timed one by one per kind (known, unknown), and in the batch pass. */
const MIN_LOOKUPS = 20_000;
const MAX_LOOKUPS = 200_000;
/** Unmeasured lookups first, so V8 and SQLite's page cache are warm, as in a running gateway. */
const WARMUP_LOOKUPS = 5_000;

/** Deterministic shuffle (xorshift32), so every run looks up the same badges in the same order. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const j = (state >>> 0) % (i + 1);
    const swap = out[i] as T;
    out[i] = out[j] as T;
    out[j] = swap;
  }
  return out;
}

/** As a station may send them: half as stored, half in lower case with a blank around (normalizeBadge handles both). */
function asSent(badges: readonly string[]): string[] {
  return badges.map((badge, i) => (i % 2 === 0 ? badge : ` ${badge.toLowerCase()} `));
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN;
}

/** Each call timed alone with hrtime (its own overhead, measured with an empty body, is subtracted). */
function timeEach(inputs: readonly string[], body: (input: string) => unknown, timerOverheadNs: number): MicrosSummary {
  const samples = new Float64Array(inputs.length);
  let sink = 0;
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i] ?? '';
    const start = process.hrtime.bigint();
    const result = body(input);
    const ns = Number(process.hrtime.bigint() - start);
    if (result !== undefined) sink++;
    samples[i] = Math.max(0, ns - timerOverheadNs) / 1000;
  }
  samples.sort();
  let sum = 0;
  for (const sample of samples) sum += sample;
  return {
    count: inputs.length,
    hits: sink,
    meanUs: sum / samples.length,
    p50Us: percentile(samples, 0.5),
    p90Us: percentile(samples, 0.9),
    p99Us: percentile(samples, 0.99),
    p999Us: percentile(samples, 0.999),
    maxUs: samples[samples.length - 1] ?? Number.NaN,
  };
}

/** The whole loop timed once: the mean without any timer in it. */
function timeBatch(inputs: readonly string[], body: (input: string) => unknown): number {
  let sink = 0;
  const start = process.hrtime.bigint();
  for (const input of inputs) if (body(input) !== undefined) sink++;
  const ns = Number(process.hrtime.bigint() - start);
  if (sink < 0) throw new Error('unreachable');
  return ns / 1000 / inputs.length;
}

function timerOverheadNs(): number {
  const samples = new Float64Array(20_000);
  for (let i = 0; i < samples.length; i++) {
    const start = process.hrtime.bigint();
    samples[i] = Number(process.hrtime.bigint() - start);
  }
  samples.sort();
  return percentile(samples, 0.5);
}

function msSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export function measureDriverLookup(drivers: number, lookups: number): DriverLookupRun {
  const dataDir = mkdtempSync(join(tmpdir(), 'pleevi-bench-drivers-'));
  try {
    const rows = syntheticDriverRows(drivers);
    const csv = Buffer.from(`email,badge ids\n${rows.map((row) => `${row.email},${row.badges.map((badge) => badge.id).join(',')}`).join('\n')}\n`);
    const db = openStore(dataDir);
    try {
      let start = process.hrtime.bigint();
      const list = parseDriverCsv(csv);
      const parseMs = msSince(start);
      if (list.rows.length !== drivers) throw new Error(`CSV parsed to ${list.rows.length} drivers, expected ${drivers}`);
      start = process.hrtime.bigint();
      const first = importDrivers(db, list.rows, { mode: 'replace', source: 'bench' });
      const importMs = msSince(start);
      if (first.added.length !== drivers) throw new Error(`import added ${first.added.length} drivers, expected ${drivers}`);
      start = process.hrtime.bigint();
      const again = importDrivers(db, list.rows, { mode: 'replace', source: 'bench' });
      const reimportMs = msSince(start);
      if (again.unchanged !== drivers) throw new Error(`re-import left ${again.unchanged} drivers unchanged, expected ${drivers}`);
      db.pragma('wal_checkpoint(TRUNCATE)');
      const databaseBytes = statSync(join(dataDir, DATABASE_FILE)).size;

      const directory = new SqliteDriverDirectory(db);
      const count = Math.max(MIN_LOOKUPS, Math.min(MAX_LOOKUPS, lookups));
      const storedBadges = rows.map((row) => row.badges[0]?.id ?? '');
      // Known: random stored badges (repeats when count > drivers). Unknown: the
      // same hash past the list's end (a bijection, so never a stored badge).
      const known = asSent(shuffled(Array.from({ length: count }, (_, i) => storedBadges[i % drivers] ?? ''), 0x5eed));
      const unknown = asSent(Array.from({ length: count }, (_, i) => syntheticBadgeId(drivers + 1 + i)));
      const map = new Map(storedBadges.map((badge, i) => [badge, { email: rows[i]?.email ?? '', badgeId: badge }]));
      const sqlite = (badge: string): unknown => directory.lookup(badge);
      const inMemory = (badge: string): unknown => map.get(normalizeBadge(badge));

      for (const badge of known.slice(0, WARMUP_LOOKUPS)) sqlite(badge);
      for (const badge of unknown.slice(0, WARMUP_LOOKUPS)) sqlite(badge);
      for (const badge of known.slice(0, WARMUP_LOOKUPS)) inMemory(badge);
      const overhead = timerOverheadNs();

      const sqliteKnown = timeEach(known, sqlite, overhead);
      const sqliteUnknown = timeEach(unknown, sqlite, overhead);
      if (sqliteKnown.hits !== count || sqliteUnknown.hits !== 0) {
        throw new Error(`lookup found ${sqliteKnown.hits}/${count} known and ${sqliteUnknown.hits} unknown badges`);
      }
      const mapKnown = timeEach(known, inMemory, overhead);
      const mapUnknown = timeEach(unknown, inMemory, overhead);
      const mixed = shuffled([...known, ...unknown], 0xbadce11);
      const sqliteBatchUs = timeBatch(mixed, sqlite);
      const mapBatchUs = timeBatch(mixed, inMemory);
      return {
        drivers,
        csvBytes: csv.length,
        databaseBytes,
        csvParseMs: parseMs,
        importMs,
        reimportMs,
        lookupsPerKind: count,
        timerOverheadNs: overhead,
        sqlite: { known: sqliteKnown, unknown: sqliteUnknown, batchMeanUs: sqliteBatchUs },
        map: { known: mapKnown, unknown: mapUnknown, batchMeanUs: mapBatchUs },
      };
    } finally {
      db.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
