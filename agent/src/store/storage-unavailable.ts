/**
 * SQLite errors that say "the storage cannot take this write now", not "this
 * write is wrong": a full disk (SQLITE_FULL, which SQLite reports for ENOSPC),
 * an I/O error (SQLITE_IOERR_*: a failing card, a remount), or another
 * process holding the write lock beyond `busy_timeout` (SQLITE_BUSY, e.g. a
 * very large `drivers import`). The same write can succeed later, so callers
 * keep it and try again instead of dropping it.
 */
const TRANSIENT_CODE_PREFIXES = ['SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_BUSY'] as const;

export function isStorageUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = 'code' in error ? error.code : undefined;
  if (typeof code === 'string' && TRANSIENT_CODE_PREFIXES.some((prefix) => code.startsWith(prefix))) return true;
  // A StoreError ("cannot open the database ...") carries SQLite's error as its cause.
  return 'cause' in error && error.cause !== error && isStorageUnavailable(error.cause);
}
