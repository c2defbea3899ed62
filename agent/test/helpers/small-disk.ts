import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';

/** A real, tiny filesystem (tmpfs) that a test can fill up and free again. */
export interface SmallDisk {
  readonly path: string;
  /** Write a filler file until the filesystem reports ENOSPC. */
  fill(): void;
  /** Delete the filler: the space is back. */
  free(): void;
}

const FILLER = 'filler.bin';

/**
 * Mount a tmpfs of `sizeBytes` on a fresh temporary folder (needs root, as in CI;
 * undefined when mounting is not allowed here). Lazily unmounted at teardown,
 * so a database still open on it cannot keep it mounted.
 */
export function mountSmallDisk(t: Test, sizeBytes: number): SmallDisk | undefined {
  // Outside tap's fixture folder, which tap removes before a run (a leftover mount would make that fail).
  const path = mkdtempSync(join(tmpdir(), 'pleevi-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', path], { stdio: 'pipe' });
  } catch {
    rmSync(path, { recursive: true, force: true });
    return undefined;
  }
  t.teardown(() => {
    execFileSync('umount', ['-l', path], { stdio: 'pipe' });
    rmSync(path, { recursive: true, force: true });
  });
  const filler = join(path, FILLER);
  return {
    path,
    fill() {
      const fd = openSync(filler, 'a');
      const block = Buffer.alloc(4096);
      try {
        for (;;) writeSync(fd, block);
      } catch (error: unknown) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
      } finally {
        closeSync(fd);
      }
    },
    free() {
      rmSync(filler, { force: true });
    },
  };
}
