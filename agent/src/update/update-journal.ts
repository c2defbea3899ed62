/**
 * The helper's journal (`<installDir>/update-state.json`): written, fsynced,
 * BEFORE each step of an update, so that after a power cut or a crash at any
 * point `pleevi-edge-update --recover` knows what may be half done and
 * finishes or undoes it (docs/appliance.md "Updates"). It lives beside the
 * releases, where only root writes, never in the agent's folder.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncDir } from '../provisioning/atomic-write.js';
import { writeJsonAtomic } from './update-files.js';

export const JOURNAL_FILE = 'update-state.json';

/**
 * In order. Up to `backup` the agent never ran the new release and
 * `current` still names the old one; from `switching` to `rolling-back` the
 * new release may have run (and migrated the database); `keeping` means it
 * was proven ready.
 */
export const UPDATE_PHASES = ['unpacking', 'stopping', 'backup', 'switching', 'starting', 'waiting', 'rolling-back', 'keeping'] as const;
export type UpdatePhase = (typeof UPDATE_PHASES)[number];

export interface UpdateJournal {
  readonly phase: UpdatePhase;
  readonly id: string;
  readonly commandId: string | null;
  readonly from: string;
  readonly to: string;
  /** The folder holding the database copy (set from `switching` on). */
  readonly backupDir: string;
  /** When the new release must be ready (ISO 8601), from `waiting` on. */
  readonly deadline: string | null;
  /** Why it is rolling back. */
  readonly reason: string | null;
  readonly at: string;
}

export function journalPath(installDir: string): string {
  return join(installDir, JOURNAL_FILE);
}

/**
 * Record the phase about to start. `PLEEVI_UPDATE_CRASH_AT=<phase>` (tests
 * only) kills the helper with SIGKILL right after the record: a power cut at
 * exactly that point.
 */
export function recordPhase(installDir: string, journal: Omit<UpdateJournal, 'at'>): UpdateJournal {
  const written: UpdateJournal = { ...journal, at: new Date().toISOString() };
  writeJsonAtomic(journalPath(installDir), written, 0o644);
  if (process.env.PLEEVI_UPDATE_CRASH_AT === journal.phase) process.kill(process.pid, 'SIGKILL');
  return written;
}

export function readJournal(installDir: string): UpdateJournal | undefined {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(journalPath(installDir), 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const journal = value as Partial<UpdateJournal>;
  if (!UPDATE_PHASES.includes(journal.phase as UpdatePhase) || typeof journal.from !== 'string' || typeof journal.to !== 'string') return undefined;
  return value as UpdateJournal;
}

export function clearJournal(installDir: string): void {
  rmSync(journalPath(installDir), { force: true });
  fsyncDir(installDir);
}
