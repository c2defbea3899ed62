import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describeError, StoreError } from '../errors.js';
import { MIGRATIONS, type Migration } from './migrations.js';

export type SqliteDatabase = Database.Database;

export const DATABASE_FILE = 'pleevi-edge.db';

/**
 * The gateway's one SQLite file in `dataDir`: WAL mode (readers such as the
 * CLI never block the daemon), `synchronous=NORMAL` (durable across process
 * crashes; WAL keeps the file consistent after a power cut), versioned
 * migrations. Later capabilities (drivers, sessions, schedules, outbox) add
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
    db.pragma('journal_mode = WAL');
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
