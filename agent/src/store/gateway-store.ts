import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describeError, StoreError } from '../errors.js';
import { MIGRATIONS, type Migration } from './migrations.js';

export type SqliteDatabase = Database.Database;

export const DATABASE_FILE = 'pleevi-edge.db';

/**
 * The page size of a new database: 512 bytes, SQLite's smallest. Every
 * commit writes each page it changed whole into the WAL, and the gateway's
 * commits change a few small rows (a session row is ~200 bytes, an event
 * ~350): with 4 KiB pages a start wrote ~30 KiB of WAL. Bytes written per
 * MeterValues on the bench's site day with the 5 min flush
 * (docs/benchmark.md): 2 KiB 735 and 1 KiB 593 in 30 simulated minutes;
 * 1 KiB 507 and 512 B 401 in two simulated hours. The price: about twice the
 * b-tree pages to walk, and a row or an index key that does not fit
 * (over ~470 bytes in a table, ~100 in an index) spills to an overflow
 * page; the file is about as big. A database created with another page
 * size keeps it (changing it takes a VACUUM).
 */
export const NEW_DATABASE_PAGE_SIZE = 512;

/**
 * Checkpoint once the WAL holds about this many bytes of pages, whatever
 * the page size (SQLite's default is 1,000 pages: 500 KiB of 512-byte
 * pages). A checkpoint copies every page changed since the last one into
 * the database file, and the same few pages (the active sessions, the
 * outbox) change again and again, so fewer checkpoints copy them fewer
 * times. 4 MiB is what SQLite's default gives with 4 KiB pages.
 */
export const WAL_AUTOCHECKPOINT_BYTES = 4 * 1024 * 1024;

/**
 * The gateway's one SQLite file in `dataDir`: WAL mode (readers such as the
 * CLI never block the daemon), `synchronous=NORMAL` (durable across process
 * crashes; WAL keeps the file consistent after a power cut), 512-byte pages
 * for a new file and a checkpoint every 4 MiB of WAL (fewer bytes
 * written per commit, issue 10), versioned migrations. Later capabilities (drivers, sessions, schedules, outbox) add
 * their tables as migrations here.
 */
export function openStore(dataDir: string, migrations: readonly Migration[] = MIGRATIONS): SqliteDatabase {
  const path = join(dataDir, DATABASE_FILE);
  let db: SqliteDatabase;
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o750 });
    db = new Database(path);
  } catch (error: unknown) {
    throw new StoreError(`cannot open the database ${path}: ${describeError(error)}`, { cause: error });
  }
  try {
    // Only a database without pages yet takes a page size (before WAL mode: the first write fixes it).
    if (Number(db.pragma('page_count', { simple: true })) === 0) db.pragma(`page_size = ${NEW_DATABASE_PAGE_SIZE}`);
    db.pragma('journal_mode = WAL');
    db.pragma(`wal_autocheckpoint = ${Math.ceil(WAL_AUTOCHECKPOINT_BYTES / Number(db.pragma('page_size', { simple: true })))}`);
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db, migrations);
  } catch (error: unknown) {
    db.close();
    throw error instanceof StoreError ? error : new StoreError(`cannot prepare the database ${path}: ${describeError(error)}`, { cause: error });
  }
  return db;
}

/** Apply every migration newer than the database; refuse a database from a newer gateway. */
export function migrate(db: SqliteDatabase, migrations: readonly Migration[]): number {
  const current = Number(db.pragma('user_version', { simple: true }));
  const latest = migrations.reduce((max, migration) => Math.max(max, migration.version), 0);
  if (current > latest) {
    throw new StoreError(`database schema version ${current} is newer than this gateway knows (${latest}); refusing to touch it`);
  }
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
  return latest;
}
