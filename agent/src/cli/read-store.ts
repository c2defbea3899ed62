import { StoreError } from '../errors.js';
import type { SqliteDatabase } from '../store/gateway-store.js';
import { openStoreOrMemoryCopy } from '../store/store-or-memory-copy.js';
import type { CliIo } from './cli-io.js';

/**
 * Read from the gateway's database for a listing command. On a disk too full
 * (or failing) for SQLite to open the file, the listing is read from a copy
 * of the file instead, and stderr says so: the copy may miss the latest
 * changes, which are still in the write-ahead log. When the copy cannot be
 * read either, the command fails: an empty listing would say "no drivers"
 * (or "nobody owns this badge") when the truth is "cannot tell".
 */
export function readStore<T>(dataDir: string, io: CliIo, read: (db: SqliteDatabase) => T): T {
  const { db, mode, reason, copyFailure } = openStoreOrMemoryCopy(dataDir);
  try {
    if (copyFailure !== undefined) {
      throw new StoreError(`the database cannot be opened (${reason ?? 'unknown reason'}) and cannot be copied either: ${copyFailure}`);
    }
    if (mode === 'memory') {
      io.stderr.write(`note: the database cannot be opened (${reason ?? 'unknown reason'}); this is read from a copy of the file and may miss the latest changes\n`);
    }
    return read(db);
  } finally {
    db.close();
  }
}
