/**
 * The service's SQLite file, `<data>/provision.db`: WAL (the CLI and a
 * running `serve` share it), versioned migrations with the gateway's own
 * `migrate` (agent/src/store/gateway-store.ts).
 */
import Database from 'better-sqlite3';
import { chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describeError } from '../../agent/src/errors.js';
import { migrate } from '../../agent/src/store/gateway-store.js';
import type { Migration } from '../../agent/src/store/migration.js';
import { ProvisionError } from './errors.js';
import { registryMigration } from './migrations/001-registry.js';
import { enrolledKeyMigration } from './migrations/002-enrolled-key.js';

export type ProvisionDb = Database.Database;

export const DATABASE_FILE = 'provision.db';

export const MIGRATIONS: readonly Migration[] = [registryMigration, enrolledKeyMigration];

export function openProvisionStore(dataDir: string): ProvisionDb {
  const path = join(dataDir, DATABASE_FILE);
  const fresh = !existsSync(path);
  let db: ProvisionDb;
  try {
    db = new Database(path);
    // It holds the claim codes of unclaimed gateways.
    if (fresh) chmodSync(path, 0o600);
  } catch (error: unknown) {
    throw new ProvisionError(`cannot open the database ${path}: ${describeError(error)}`, { cause: error });
  }
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db, MIGRATIONS);
  } catch (error: unknown) {
    db.close();
    throw new ProvisionError(`cannot prepare the database ${path}: ${describeError(error)}`, { cause: error });
  }
  return db;
}
