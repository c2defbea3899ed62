/**
 * Write a file so that after a power cut it is either the old content or the
 * new, never half of either: a temp file created with its final mode (a key
 * is never readable by others, not even for a moment), fsync, rename, fsync
 * of the folder so the rename itself survives.
 */
import { closeSync, fsyncSync, linkSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Write `data` to `path` atomically. With `exclusive`, an existing file is
 * kept and false comes back: link(2) fails on an existing name where rename
 * would replace it, so of two processes creating the same file at once
 * exactly one wins and the other reads the winner's file.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode: number, options: { exclusive?: boolean } = {}): boolean {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  // 'wx': a stale temp file of a crashed run with the same pid is removed first, never reused with its old mode.
  rmSync(temp, { force: true });
  const fd = openSync(temp, 'wx', mode);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  let written = true;
  try {
    if (options.exclusive === true) {
      try {
        linkSync(temp, path);
      } catch (error: unknown) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        written = false;
      }
      rmSync(temp, { force: true });
    } else {
      renameSync(temp, path);
    }
  } catch (error: unknown) {
    rmSync(temp, { force: true });
    throw error;
  }
  fsyncDir(dirname(path));
  return written;
}

export function fsyncDir(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
