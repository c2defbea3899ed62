import { existsSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fail, pass, skip, warn, type CheckResult } from '../check-result.js';
import type { DiagContext } from '../diag-context.js';

const MB = 1024 * 1024;
/** Below either of these the disk under dataDir is a failure: SQLite and the journal are about to run out. */
export const DISK_FAIL = { percent: 2, bytes: 50 * MB };
/** Below either of these it is a warning. */
export const DISK_WARN = { percent: 10, bytes: 200 * MB };

const TITLE = 'disk space of dataDir';

/** Free space on the file system that holds `dataDir` (what an unprivileged process may use). */
export function diskSpaceCheck(context: DiagContext): CheckResult {
  if (context.loaded === undefined) return skip('disk', TITLE, 'needs a valid configuration');
  const dataDir = context.loaded.config.dataDir;
  let at = dataDir;
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  let free: number;
  let total: number;
  try {
    const stats = statfsSync(at);
    free = stats.bavail * stats.bsize;
    total = stats.blocks * stats.bsize;
  } catch (error: unknown) {
    return fail('disk', TITLE, `cannot read the file system of ${at}: ${error instanceof Error ? error.message : String(error)}`, `check that ${dataDir} exists and is readable`);
  }
  const percent = total > 0 ? (free / total) * 100 : 0;
  const detail = `${formatBytes(free)} free of ${formatBytes(total)} (${percent.toFixed(1)}%) at ${at}`;
  const fix = `free space under ${at} (old logs: "journalctl --vacuum-size=100M", old releases, files left by hand); the gateway keeps relaying on a full disk but keeps no sessions`;
  const below = (limit: { percent: number; bytes: number }): string | undefined =>
    percent < limit.percent ? `below ${limit.percent}%` : free < limit.bytes ? `below ${formatBytes(limit.bytes)}` : undefined;
  const failing = below(DISK_FAIL);
  if (failing !== undefined) return fail('disk', TITLE, `${detail}: ${failing}`, fix);
  const low = below(DISK_WARN);
  if (low !== undefined) return warn('disk', TITLE, `${detail}: ${low}`, fix);
  return pass('disk', TITLE, detail);
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * MB) return `${(bytes / (1024 * MB)).toFixed(1)} GB`;
  if (bytes >= MB) return `${(bytes / MB).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${bytes} B`;
}
