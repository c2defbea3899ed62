import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeError, StoreError } from '../errors.js';
import { DATABASE_FILE, migrate, openStore, type SqliteDatabase } from './gateway-store.js';
import { MIGRATIONS } from './migrations.js';
import { isStorageUnavailable } from './storage-unavailable.js';

/** `disk`: the database file in `dataDir`; `memory`: a copy of it in memory, because the file could not be opened. */
export type StorageMode = 'disk' | 'memory';

export interface OpenedStore {
  readonly db: SqliteDatabase;
  readonly mode: StorageMode;
  /** Why the file could not be opened (`memory` only). */
  readonly reason?: string;
}

/** Bytes 18 and 19 of the SQLite header: 2 marks a WAL database, 1 a rollback-journal one (file format section 1.3.3). */
const HEADER_WRITE_VERSION = 18;
const HEADER_READ_VERSION = 19;
const HEADER_BYTES = 100;

/**
 * The gateway's database, or, when the storage under `dataDir` cannot even
 * open it (a full disk: SQLite cannot create its `-shm` file; an I/O error),
 * an in-memory copy of it, so that the relay still starts: a site must not
 * go dark because its gateway's disk filled up. The copy is read straight
 * from the file (no space needed) and keeps the driver list and schedules as
 * of the last clean stop; what changes in it is lost at exit. Other errors
 * (a corrupt file, a newer schema) still stop the start.
 */
export function openStoreOrMemoryCopy(dataDir: string): OpenedStore {
  try {
    return { db: openStore(dataDir), mode: 'disk' };
  } catch (error: unknown) {
    const cause = error instanceof StoreError ? error.cause : error;
    if (!isStorageUnavailable(cause)) throw error;
    return { db: memoryCopy(join(dataDir, DATABASE_FILE)), mode: 'memory', reason: describeError(cause) };
  }
}

function memoryCopy(path: string): SqliteDatabase {
  let db: SqliteDatabase;
  try {
    const image = readFileSync(path);
    if (image.length < HEADER_BYTES) throw new Error('not a database image');
    // An in-memory database cannot be in WAL mode: read the image as a rollback-journal one.
    image[HEADER_WRITE_VERSION] = 1;
    image[HEADER_READ_VERSION] = 1;
    db = new Database(image);
  } catch {
    // No file yet, or one that cannot be read: start from an empty database.
    db = new Database(':memory:');
  }
  db.pragma('foreign_keys = ON');
  migrate(db, MIGRATIONS);
  return db;
}
