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
  /**
   * `memory` only: why the copy is empty although a database file is there
   * (it could not be read, or is not a database image). The gateway then has
   * no driver list and no schedules: in local authorization mode every badge
   * reads Invalid, so this must be said, never swallowed.
   */
  readonly copyFailure?: string;
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
    const copy = memoryCopy(join(dataDir, DATABASE_FILE));
    return { db: copy.db, mode: 'memory', reason: describeError(cause), ...(copy.failure !== undefined ? { copyFailure: copy.failure } : {}) };
  }
}

function memoryCopy(path: string): { db: SqliteDatabase; failure?: string } {
  let image: Buffer;
  try {
    image = readFileSync(path);
  } catch (error: unknown) {
    // No file yet is a first start: an empty database is what it would have had.
    if (isNoSuchFile(error)) return { db: emptyCopy() };
    return { db: emptyCopy(), failure: `cannot read ${path}: ${describeError(error)}` };
  }
  // SQLite itself treats an empty file as an empty database.
  if (image.length === 0) return { db: emptyCopy() };
  try {
    return { db: copyOf(image) };
  } catch (error: unknown) {
    return { db: emptyCopy(), failure: `${path} cannot be used as a database: ${describeError(error)}` };
  }
}

function copyOf(image: Buffer): SqliteDatabase {
  if (image.length < HEADER_BYTES) throw new Error(`only ${image.length} bytes, shorter than a database header`);
  // An in-memory database cannot be in WAL mode: read the image as a rollback-journal one.
  image[HEADER_WRITE_VERSION] = 1;
  image[HEADER_READ_VERSION] = 1;
  const db = new Database(image);
  try {
    prepare(db);
  } catch (error: unknown) {
    db.close();
    throw error;
  }
  return db;
}

function emptyCopy(): SqliteDatabase {
  const db = new Database(':memory:');
  prepare(db);
  return db;
}

function prepare(db: SqliteDatabase): void {
  db.pragma('foreign_keys = ON');
  migrate(db, MIGRATIONS);
}

function isNoSuchFile(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT';
}
