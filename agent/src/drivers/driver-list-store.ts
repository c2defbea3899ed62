/**
 * The driver list in SQLite (tables from migration 002): the frame-path
 * lookup, the listing, and the importer the CLI and the cloud link share.
 *
 * The daemon and the CLI each hold their own connection to the same WAL
 * file. A lookup is one statement outside any transaction, so it reads the
 * latest committed list: an import committed by `pleevi-edge drivers import`
 * is seen by the daemon's next lookup, no restart, no notification.
 */
import type Database from 'better-sqlite3';
import type { SqliteDatabase } from '../store/gateway-store.js';
import type { DriverRow } from './driver-csv.js';
import { normalizeBadge, type DriverDirectory, type DriverMatch } from './driver-directory.js';
import { DriverImportError, type DriverListProblem } from './driver-import-error.js';

export interface DriverListing {
  readonly email: string;
  /** Normalized, sorted. */
  readonly badgeIds: readonly string[];
}

/** Where the stored list came from. */
export interface DriverListMeta {
  /** The last version the cloud's `replace-drivers` carried; null until it sent one. */
  readonly version: number | null;
  /** e.g. `file:/home/installer/drivers.csv`, `cloud`. */
  readonly source: string;
  readonly importedAt: string;
}

export type ImportMode = 'replace' | 'merge';

export interface ImportOptions {
  /**
   * `replace` (the default of `drivers import`): the list becomes exactly the
   * given rows. `merge`: each given driver's badge set is replaced, drivers
   * not given are kept as they are.
   */
  readonly mode: ImportMode;
  /** Compute and return the same diff, write nothing. */
  readonly dryRun?: boolean;
  /**
   * The cloud's list version (docs/cloud.md "Commands"). When given and not newer
   * than the stored one, nothing is compared or written (`staleVersion`).
   * Without it (a CLI import) the stored version is kept, so a replayed older
   * cloud command still cannot overwrite a newer list.
   */
  readonly version?: number;
  readonly source: string;
  readonly now?: Date;
}

/** What the import did (or, on a dry run, would do), per driver email. */
export interface ImportResult {
  /** Emails not in the list before. */
  readonly added: readonly string[];
  /** Emails no longer in the list (replace mode only). */
  readonly removed: readonly string[];
  /** Emails whose badge set differs. */
  readonly changed: readonly string[];
  readonly unchanged: number;
  /** Size of the list afterwards. */
  readonly drivers: number;
  readonly badges: number;
  readonly dryRun: boolean;
  /** `version` was not newer than the stored one: ignored, nothing else in this result means anything. */
  readonly staleVersion: boolean;
}

interface BadgeRow {
  email: string;
  badge_id: string;
}

interface ListRow {
  email: string;
  badge_id: string | null;
}

interface MetaRow {
  version: number | null;
  source: string;
  imported_at: string;
}

/** DriverDirectory over the SQLite list; one prepared primary-key probe per lookup (a few microseconds). */
export class SqliteDriverDirectory implements DriverDirectory {
  private readonly lookupStatement: Database.Statement<[string], BadgeRow>;
  private readonly listStatement: Database.Statement<[], ListRow>;

  constructor(db: SqliteDatabase) {
    this.lookupStatement = db.prepare<[string], BadgeRow>('SELECT email, badge_id FROM badges WHERE badge_id = ?');
    this.listStatement = db.prepare<[], ListRow>(
      'SELECT d.email AS email, b.badge_id AS badge_id FROM drivers d LEFT JOIN badges b ON b.email = d.email ORDER BY d.email, b.badge_id',
    );
  }

  lookup(badge: string): DriverMatch | undefined {
    const row = this.lookupStatement.get(normalizeBadge(badge));
    return row === undefined ? undefined : { email: row.email, badgeId: row.badge_id };
  }

  /** Every driver, by email, with their badges. */
  list(): DriverListing[] {
    const drivers: DriverListing[] = [];
    let current: { email: string; badgeIds: string[] } | undefined;
    for (const row of this.listStatement.iterate()) {
      if (current?.email !== row.email) {
        current = { email: row.email, badgeIds: [] };
        drivers.push(current);
      }
      if (row.badge_id !== null) current.badgeIds.push(row.badge_id);
    }
    return drivers;
  }
}

export function readDriverListMeta(db: SqliteDatabase): DriverListMeta | undefined {
  const row = db.prepare<[], MetaRow>('SELECT version, source, imported_at FROM driver_list_meta WHERE id = 1').get();
  return row === undefined ? undefined : { version: row.version, source: row.source, importedAt: row.imported_at };
}

/**
 * Make the stored list match `rows` (validated: parseDriverCsv or
 * validateDriverEntries), in one transaction: all of it or, on any error,
 * none of it. Only the drivers that differ are rewritten, so a re-import of
 * the same 100,000-driver file writes almost nothing.
 *
 * Throws DriverImportError (nothing written) in merge mode when a badge in
 * the rows belongs to a driver the rows do not mention: moving it would
 * silently take it from someone the import was not about.
 */
export function importDrivers(db: SqliteDatabase, rows: readonly DriverRow[], options: ImportOptions): ImportResult {
  const dryRun = options.dryRun === true;
  if (options.version !== undefined && !Number.isSafeInteger(options.version)) {
    throw new RangeError(`driver list version must be an integer, got ${options.version}`);
  }
  const run = db.transaction((): ImportResult => {
    const stored = readDriverListMeta(db);
    if (options.version !== undefined && stored !== undefined && stored.version !== null && options.version <= stored.version) {
      return { added: [], removed: [], changed: [], unchanged: 0, drivers: 0, badges: 0, dryRun, staleVersion: true };
    }
    const current = readBadgeSets(db);
    const diff = compare(current, rows, options.mode);
    if (!dryRun) write(db, rows, diff, options);
    return { ...diff.result, dryRun, staleVersion: false };
  });
  // A write transaction takes the lock up front (BEGIN IMMEDIATE): a deferred
  // one that read first could not wait for a concurrent writer (SQLITE_BUSY
  // at once, busy_timeout does not apply to a snapshot upgrade).
  return dryRun ? run.deferred() : run.immediate();
}

/** Every stored driver and its badge set. */
function readBadgeSets(db: SqliteDatabase): Map<string, Set<string>> {
  const sets = new Map<string, Set<string>>();
  const statement = db.prepare<[], ListRow>('SELECT d.email AS email, b.badge_id AS badge_id FROM drivers d LEFT JOIN badges b ON b.email = d.email');
  for (const row of statement.iterate()) {
    let set = sets.get(row.email);
    if (set === undefined) {
      set = new Set();
      sets.set(row.email, set);
    }
    if (row.badge_id !== null) set.add(row.badge_id);
  }
  return sets;
}

interface Diff {
  readonly result: Omit<ImportResult, 'dryRun' | 'staleVersion'>;
  /** Emails whose stored badges must go before the new ones are inserted. */
  readonly rewrite: ReadonlySet<string>;
}

function compare(current: ReadonlyMap<string, ReadonlySet<string>>, rows: readonly DriverRow[], mode: ImportMode): Diff {
  const incoming = new Set(rows.map((row) => row.email));
  const added: string[] = [];
  const changed: string[] = [];
  const removed: string[] = [];
  const rewrite = new Set<string>();
  let unchanged = 0;
  let storedBadges = 0;
  for (const set of current.values()) storedBadges += set.size;
  let badges = mode === 'replace' ? 0 : storedBadges;
  for (const row of rows) {
    const before = current.get(row.email);
    badges += row.badges.length - (mode === 'merge' ? (before?.size ?? 0) : 0);
    if (before === undefined) {
      added.push(row.email);
      rewrite.add(row.email);
    } else if (before.size !== row.badges.length || row.badges.some((badge) => !before.has(badge.id))) {
      changed.push(row.email);
      rewrite.add(row.email);
    } else {
      unchanged++;
    }
  }
  if (mode === 'replace') {
    for (const email of current.keys()) if (!incoming.has(email)) removed.push(email);
  } else {
    const problems = badgesTakenFromOthers(current, rows, incoming);
    if (problems.length > 0) throw new DriverImportError(problems);
  }
  const drivers = mode === 'replace' ? rows.length : current.size + added.length;
  return { result: { added, removed, changed, unchanged, drivers, badges }, rewrite };
}

function badgesTakenFromOthers(
  current: ReadonlyMap<string, ReadonlySet<string>>,
  rows: readonly DriverRow[],
  incoming: ReadonlySet<string>,
): DriverListProblem[] {
  const owners = new Map<string, string>();
  for (const [email, set] of current) for (const badge of set) owners.set(badge, email);
  const problems: DriverListProblem[] = [];
  for (const row of rows) {
    for (const badge of row.badges) {
      const owner = owners.get(badge.id);
      if (owner !== undefined && owner !== row.email && !incoming.has(owner)) {
        problems.push({
          line: badge.line,
          message: `badge "${badge.id}" belongs to ${owner}, who is not in this file; a merge leaves ${owner} as is, so the badge cannot move (add ${owner}'s row, or import the whole list without --merge)`,
        });
      }
    }
  }
  return problems.sort((a, b) => a.line - b.line);
}

function write(db: SqliteDatabase, rows: readonly DriverRow[], diff: Diff, options: ImportOptions): void {
  const at = (options.now ?? new Date()).toISOString();
  const deleteBadges = db.prepare<[string]>('DELETE FROM badges WHERE email = ?');
  const deleteDriver = db.prepare<[string]>('DELETE FROM drivers WHERE email = ?');
  const upsertDriver = db.prepare<[string, string]>(
    'INSERT INTO drivers (email, updated_at) VALUES (?, ?) ON CONFLICT (email) DO UPDATE SET updated_at = excluded.updated_at',
  );
  const insertBadge = db.prepare<[string, string]>('INSERT INTO badges (badge_id, email) VALUES (?, ?)');
  // Every old badge set goes first: a badge moving between two drivers of
  // the file (or from a removed driver) must be free before it is inserted.
  for (const email of diff.result.removed) {
    deleteBadges.run(email);
    deleteDriver.run(email);
  }
  for (const email of diff.result.changed) deleteBadges.run(email);
  for (const row of rows) {
    if (!diff.rewrite.has(row.email)) continue;
    upsertDriver.run(row.email, at);
    for (const badge of row.badges) insertBadge.run(badge.id, row.email);
  }
  db.prepare(
    `INSERT INTO driver_list_meta (id, version, source, imported_at) VALUES (1, @version, @source, @at)
     ON CONFLICT (id) DO UPDATE SET version = coalesce(excluded.version, version), source = excluded.source, imported_at = excluded.imported_at`,
  ).run({ version: options.version ?? null, source: options.source, at });
}

// ---------------------------------------------------------------------------
// For benches and tests: a large, realistic list without a fixture file.

/**
 * `count` drivers `driver-000001@example.test`, ... each with one badge that
 * looks like an RFID UID (`04` + 8 hex digits). The 32-bit multiplicative
 * hash is a bijection, so badges are unique and not in insertion order.
 */
export function syntheticDriverRows(count: number): DriverRow[] {
  const rows: DriverRow[] = [];
  for (let i = 1; i <= count; i++) {
    rows.push({ email: `driver-${String(i).padStart(6, '0')}@example.test`, line: i + 1, badges: [{ id: syntheticBadgeId(i), line: i + 1 }] });
  }
  return rows;
}

export function syntheticBadgeId(i: number): string {
  return `04${(Math.imul(i, 0x9e3779b1) >>> 0).toString(16).padStart(8, '0').toUpperCase()}`;
}

/**
 * Fill `db` with `count` synthetic drivers (replacing its list) and return
 * the directory a station session would use plus every stored badge, ready
 * for a bench to time `directory.lookup(badge)`, e.g. with a badge written
 * in lower case and padded, as a station may send it.
 */
export function seedSyntheticDriverList(db: SqliteDatabase, count: number): { directory: SqliteDriverDirectory; badgeIds: string[] } {
  const rows = syntheticDriverRows(count);
  importDrivers(db, rows, { mode: 'replace', source: 'synthetic' });
  return { directory: new SqliteDriverDirectory(db), badgeIds: rows.flatMap((row) => row.badges.map((badge) => badge.id)) };
}
