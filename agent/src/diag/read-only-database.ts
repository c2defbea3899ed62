import Database from 'better-sqlite3';
import { join } from 'node:path';
import { DATABASE_FILE, type SqliteDatabase } from '../store/gateway-store.js';

/** The gateway's database file in `dataDir`. */
export function databasePath(dataDir: string): string {
  return join(dataDir, DATABASE_FILE);
}

/**
 * The database opened read-only, never created and never migrated: what the
 * diagnosis reads next to a running daemon (WAL mode lets a reader in while
 * the daemon writes). A short busy timeout: a diagnosis must not hang.
 */
export function openReadOnly(dataDir: string): SqliteDatabase {
  const db = new Database(databasePath(dataDir), { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 2000');
  } catch (error: unknown) {
    db.close();
    throw error;
  }
  return db;
}
