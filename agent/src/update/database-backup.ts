/**
 * The gateway's database around an update: copied while the agent is
 * stopped (so the file and its write-ahead log are at rest and consistent),
 * put back when the update is rolled back, because the new release may have
 * migrated it. The helper runs as root in a folder the agent owns, so it
 * never follows a symbolic link there and gives restored files back to the
 * folder's owner.
 */
import Database from 'better-sqlite3';
import { chownSync, closeSync, constants, existsSync, fchownSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fsyncDir } from '../provisioning/atomic-write.js';
import { DATABASE_FILE } from '../store/gateway-store.js';

/** The database file and its write-ahead log; `-shm` is rebuilt by SQLite and never copied. */
const DATABASE_FILES = [DATABASE_FILE, `${DATABASE_FILE}-wal`];

/** Copy the database of `dataDir` into `backupDir` (made afresh, root only). Returns the files copied. */
export function backupDatabase(dataDir: string, backupDir: string): string[] {
  rmSync(backupDir, { recursive: true, force: true });
  mkdirSync(backupDir, { recursive: true, mode: 0o700 });
  const copied: string[] = [];
  for (const name of DATABASE_FILES) {
    if (copyNoFollow(join(dataDir, name), join(backupDir, name))) copied.push(name);
  }
  fsyncDir(backupDir);
  return copied;
}

/**
 * Put the backup back: the database, its log and its shared-memory index
 * are removed first, then the copies written in place, owned like `dataDir`.
 */
export function restoreDatabase(backupDir: string, dataDir: string): void {
  const owner = statSync(dataDir);
  for (const name of [...DATABASE_FILES, `${DATABASE_FILE}-shm`]) rmSync(join(dataDir, name), { force: true });
  for (const name of DATABASE_FILES) copyNoFollow(join(backupDir, name), join(dataDir, name), { uid: owner.uid, gid: owner.gid });
  forgetCleanStop(dataDir);
  if (process.getuid?.() === 0) {
    for (const name of [...DATABASE_FILES, `${DATABASE_FILE}-shm`]) {
      const path = join(dataDir, name);
      if (existsSync(path)) chownSync(path, owner.uid, owner.gid);
    }
  }
  fsyncDir(dataDir);
}

/**
 * The backup was taken after a clean stop, so the old release would hand
 * out event seqs from where it stopped, and the new release may already
 * have published some of those to the cloud, which drops repeats by seq.
 * Clearing the clean-stop mark makes the old release continue above its
 * durable seq reservation instead, as after a crash (docs/cloud.md "What a
 * power cut can lose"): a gap, never a repeat.
 */
function forgetCleanStop(dataDir: string): void {
  const path = join(dataDir, DATABASE_FILE);
  if (!existsSync(path)) return;
  const db = new Database(path);
  try {
    const table = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'outbox_state'").get();
    if (table !== undefined) db.prepare('UPDATE outbox_state SET clean_stop = 0').run();
  } finally {
    db.close();
  }
}

/** Copy a regular file (never through a symbolic link) via a temp name and rename; false when there is no source. */
function copyNoFollow(from: string, to: string, owner?: { uid: number; gid: number }): boolean {
  let source: number;
  try {
    source = openSync(from, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  const temp = `${to}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const info = fstatSync(source);
    if (!info.isFile()) throw new Error(`${from} is not a regular file`);
    const target = openSync(temp, 'wx', 0o600);
    try {
      if (owner && process.getuid?.() === 0) fchownSync(target, owner.uid, owner.gid);
      const buffer = Buffer.allocUnsafe(1 << 20);
      for (let read = readSync(source, buffer); read > 0; read = readSync(source, buffer)) {
        for (let written = 0; written < read; ) written += writeSync(target, buffer, written, read - written);
      }
      fsyncSync(target);
    } finally {
      closeSync(target);
    }
    renameSync(temp, to);
  } catch (error: unknown) {
    rmSync(temp, { force: true });
    throw error;
  } finally {
    closeSync(source);
  }
  return true;
}
