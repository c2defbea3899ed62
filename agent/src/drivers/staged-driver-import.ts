/**
 * Replacing the whole driver list without stalling the relay: the cloud's
 * `replace-drivers` (docs/drivers.md "Storage").
 *
 * The daemon is single-threaded and better-sqlite3 is synchronous, so one
 * transaction writing 100,000 drivers holds every station's frames for over
 * a second. Here the new list is written in small chunks, each its own short
 * transaction, into staging tables (`drivers_staging`, `badges_staging`) that
 * nothing reads, yielding to the event loop between chunks so frames are
 * relayed meanwhile. One short transaction then swaps the tables in by
 * renaming them (a few milliseconds whatever the size) and records the
 * version. Readers see the old list up to that commit and the whole new one
 * after it; a failure before it (a full disk, another process holding the
 * write lock past `busy_timeout`) drops the staging tables and leaves the old
 * list as it was. The old tables are dropped afterwards, in a transaction of
 * their own.
 *
 * Each chunk takes the write lock with BEGIN IMMEDIATE and waits at most
 * `busy_timeout` for it, as every other write of the daemon does; SQLITE_FULL,
 * SQLITE_IOERR and SQLITE_BUSY propagate as they are, so the command is
 * answered `storage_unavailable` (isStorageUnavailable).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { SqliteDatabase } from '../store/gateway-store.js';
import type { DriverRow } from './driver-csv.js';
import { readDriverListMeta, type ImportResult } from './driver-list-store.js';

export interface StagedImportOptions {
  /** The cloud's list version; not newer than the stored one: nothing is written (`staleVersion`). */
  readonly version: number;
  readonly source: string;
  readonly now?: Date;
  /** Drivers written per transaction (default 1000: a few tens of milliseconds on a Raspberry Pi class CPU). */
  readonly chunkDrivers?: number;
}

const DEFAULT_CHUNK_DRIVERS = 1000;
const INDEX_NAMES = ['badges_by_email', 'badges_by_email_swap'] as const;

export async function replaceDriverListInChunks(db: SqliteDatabase, rows: readonly DriverRow[], options: StagedImportOptions): Promise<ImportResult> {
  if (!Number.isSafeInteger(options.version)) throw new RangeError(`driver list version must be an integer, got ${options.version}`);
  const chunk = options.chunkDrivers ?? DEFAULT_CHUNK_DRIVERS;
  if (!Number.isSafeInteger(chunk) || chunk < 1) throw new RangeError(`chunkDrivers must be a positive integer, got ${chunk}`);
  if (isStale(db, options.version)) return staleResult();
  const at = (options.now ?? new Date()).toISOString();
  prepareStaging(db);
  try {
    const insertDriver = db.prepare<[string, string]>('INSERT INTO drivers_staging (email, updated_at) VALUES (?, ?)');
    const insertBadge = db.prepare<[string, string]>('INSERT INTO badges_staging (badge_id, email) VALUES (?, ?)');
    const writeChunk = db.transaction((slice: readonly DriverRow[]) => {
      for (const row of slice) {
        insertDriver.run(row.email, at);
        for (const badge of row.badges) insertBadge.run(badge.id, row.email);
      }
    });
    for (let start = 0; start < rows.length; start += chunk) {
      // Frames that arrived meanwhile are relayed before the next chunk.
      await nextTurn();
      writeChunk.immediate(rows.slice(start, start + chunk));
    }
    await nextTurn();
    // The diff is read outside the swap, one statement a turn; the swap reads it again only if another connection changed the database since.
    const seen = dataVersion(db);
    const diff: Diff = { added: added(db), removed: [], changed: [] };
    await nextTurn();
    diff.removed = removed(db);
    await nextTurn();
    diff.changed = changed(db);
    await nextTurn();
    const swapped = db.transaction((): ImportResult => {
      // Another cloud command cannot run meanwhile (commands run one at a time), but a CLI import can.
      if (isStale(db, options.version)) return staleResult();
      const current = dataVersion(db) === seen ? diff : { added: added(db), removed: removed(db), changed: changed(db) };
      const badges = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM badges_staging').get()?.n ?? 0;
      db.exec(`
        ALTER TABLE badges RENAME TO badges_old;
        ALTER TABLE drivers RENAME TO drivers_old;
        ALTER TABLE drivers_staging RENAME TO drivers;
        ALTER TABLE badges_staging RENAME TO badges;
      `);
      db.prepare(
        `INSERT INTO driver_list_meta (id, version, source, imported_at) VALUES (1, @version, @source, @at)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, source = excluded.source, imported_at = excluded.imported_at`,
      ).run({ version: options.version, source: options.source, at });
      return {
        added: current.added,
        removed: current.removed,
        changed: current.changed,
        unchanged: rows.length - current.added.length - current.changed.length,
        drivers: rows.length,
        badges,
        dryRun: false,
        staleVersion: false,
      };
    }).immediate();
    if (swapped.staleVersion) dropQuietly(db, ['badges_staging', 'drivers_staging']);
    else {
      await nextTurn();
      // The new list is in force; a failure here only leaves the old tables to the next import's clean-up.
      dropQuietly(db, ['badges_old', 'drivers_old']);
    }
    return swapped;
  } catch (error: unknown) {
    dropQuietly(db, ['badges_staging', 'drivers_staging']);
    throw error;
  }
}

interface Diff {
  added: string[];
  removed: string[];
  changed: string[];
}

function isStale(db: SqliteDatabase, version: number): boolean {
  const stored = readDriverListMeta(db);
  return stored !== undefined && stored.version !== null && version <= stored.version;
}

function staleResult(): ImportResult {
  return { added: [], removed: [], changed: [], unchanged: 0, drivers: 0, badges: 0, dryRun: false, staleVersion: true };
}

/** Empty staging tables, after removing what an interrupted import (a crash, a full disk) left behind. */
function prepareStaging(db: SqliteDatabase): void {
  const live = db.prepare<[], string>("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'badges' AND sql IS NOT NULL").pluck().all();
  // Index names are global: the staging one takes the name the live table does not use, and the two alternate.
  const index = INDEX_NAMES.find((name) => !live.includes(name)) ?? INDEX_NAMES[0];
  db.transaction(() => {
    db.exec(`
      DROP TABLE IF EXISTS badges_staging;
      DROP TABLE IF EXISTS drivers_staging;
      DROP TABLE IF EXISTS badges_old;
      DROP TABLE IF EXISTS drivers_old;
      CREATE TABLE drivers_staging (
        email      TEXT PRIMARY KEY,
        updated_at TEXT NOT NULL
      ) STRICT;
      CREATE TABLE badges_staging (
        badge_id TEXT PRIMARY KEY,
        email    TEXT NOT NULL REFERENCES drivers_staging (email) ON DELETE CASCADE
      ) STRICT;
      CREATE INDEX ${index} ON badges_staging (email);
    `);
  }).immediate();
}

function dropQuietly(db: SqliteDatabase, tables: readonly string[]): void {
  try {
    db.transaction(() => {
      for (const table of tables) db.exec(`DROP TABLE IF EXISTS ${table}`);
    }).immediate();
  } catch {
    // Left for the next import, which drops leftovers before it starts; the live list is not affected.
  }
}

/** Changes to the database file by other connections since this one last looked (SQLite `PRAGMA data_version`). */
function dataVersion(db: SqliteDatabase): number {
  return Number(db.pragma('data_version', { simple: true }));
}

function added(db: SqliteDatabase): string[] {
  return db.prepare<[], string>('SELECT email FROM drivers_staging EXCEPT SELECT email FROM drivers ORDER BY email').pluck().all();
}

function removed(db: SqliteDatabase): string[] {
  return db.prepare<[], string>('SELECT email FROM drivers EXCEPT SELECT email FROM drivers_staging ORDER BY email').pluck().all();
}

/** Drivers in both lists whose badge sets differ: a (badge, email) pair in one list and not the other. */
function changed(db: SqliteDatabase): string[] {
  return db
    .prepare<[], string>(
      `SELECT DISTINCT email FROM (
         SELECT badge_id, email FROM badges_staging EXCEPT SELECT badge_id, email FROM badges
         UNION ALL
         SELECT badge_id, email FROM (SELECT badge_id, email FROM badges EXCEPT SELECT badge_id, email FROM badges_staging)
       )
       WHERE email IN (SELECT email FROM drivers) AND email IN (SELECT email FROM drivers_staging)
       ORDER BY email`,
    )
    .pluck()
    .all();
}
