import { existsSync } from 'node:fs';
import { MIGRATIONS } from '../../store/migrations.js';
import { fail, pass, skip, warn, type CheckResult } from '../check-result.js';
import type { DiagContext } from '../diag-context.js';
import { databasePath, openReadOnly } from '../read-only-database.js';

const TITLE = 'database integrity';

/**
 * `PRAGMA quick_check` on a read-only open of the database (it works while
 * the daemon runs), and its schema version against what this release knows.
 */
export function databaseCheck(context: DiagContext): CheckResult {
  if (context.loaded === undefined) return skip('database', TITLE, 'needs a valid configuration');
  const dataDir = context.loaded.config.dataDir;
  const path = databasePath(dataDir);
  if (!existsSync(path)) return warn('database', TITLE, `${path} does not exist yet`, 'start the service once ("systemctl start pleevi-edge"): it creates the database');
  const fix = `stop the service ("systemctl stop pleevi-edge"), keep a copy of ${path} for support, then restore a backup or move the file aside so that the gateway starts a new one`;
  let verdict: string[];
  let version: number;
  try {
    const db = openReadOnly(dataDir);
    try {
      version = Number(db.pragma('user_version', { simple: true }));
      verdict = (db.pragma('quick_check') as Array<{ quick_check: string }>).map((row) => row.quick_check);
    } finally {
      db.close();
    }
  } catch (error: unknown) {
    const code = (error as { code?: unknown }).code;
    const message = error instanceof Error ? error.message : String(error);
    if (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY' || code === 'SQLITE_PERM' || code === 'SQLITE_BUSY') {
      return warn('database', TITLE, `cannot open ${path} to check it: ${message}`, 'run diag as the service user or root ("sudo -u pleevi-edge pleevi-edge diag check")');
    }
    return fail('database', TITLE, `${path}: ${message}`, fix);
  }
  const latest = MIGRATIONS.reduce((max, migration) => Math.max(max, migration.version), 0);
  if (verdict.length !== 1 || verdict[0] !== 'ok') {
    const problems = verdict.join('\n').split('\n').filter((line) => line !== '' && !line.startsWith('***'));
    return fail('database', TITLE, `${path} is damaged: ${problems[0] ?? 'quick_check failed'}${problems.length > 1 ? ` (and ${problems.length - 1} more problems)` : ''}`, fix);
  }
  if (version > latest) return fail('database', TITLE, `${path} has schema version ${version}, newer than this release knows (${latest})`, 'a newer release wrote it: install that release again, or restore the backup of the database made before the update');
  return pass('database', TITLE, `${path}: quick_check ok, schema version ${version}${version < latest ? ` (brought to ${latest} at the next start)` : ''}`);
}
