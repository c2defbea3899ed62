/**
 * `pleevi-edge drivers import | list | lookup` (docs/drivers.md "Commands"). They work
 * on the SQLite file directly, with the daemon running or stopped: the store
 * is in WAL mode, an import is one transaction, and the daemon's next lookup
 * reads the committed list.
 */
import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { DeviceConfig } from '../config/gateway-config.js';
import { parseDriverCsv } from '../drivers/driver-csv.js';
import { normalizeBadge } from '../drivers/driver-directory.js';
import { DriverImportError, type DriverListProblem } from '../drivers/driver-import-error.js';
import { importDrivers, readDriverListMeta, SqliteDriverDirectory, type ImportResult } from '../drivers/driver-list-store.js';
import { describeError } from '../errors.js';
import { openStore, type SqliteDatabase } from '../store/gateway-store.js';
import { isStorageUnavailable } from '../store/storage-unavailable.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliCommand, type CliIo } from './cli-io.js';
import { formatTable } from './format-table.js';
import { terminalSafe, terminalSafeJson } from './terminal-safe.js';
import { readStore } from './read-store.js';
import { loadCliConfig } from './load-cli-config.js';

const IMPORT_USAGE = `Usage: pleevi-edge drivers import FILE [--dry-run] [--merge] [--config FILE] [--json]

Import the driver CSV (columns email and badge_ids; see docs/drivers.md).
Replaces the whole list unless --merge (then only the drivers in FILE change).
All or nothing: any problem is printed as "line N: ..." and nothing changes
(exit 2). --dry-run prints the same summary and writes nothing.
`;
const LIST_USAGE = `Usage: pleevi-edge drivers list [--config FILE] [--json]

Every driver and their badges, by email.
`;
const LOOKUP_USAGE = `Usage: pleevi-edge drivers lookup BADGE [--config FILE] [--json]

Who owns BADGE (case and surrounding blanks ignored): prints the email.
Exit 1 and "unknown badge" on stderr when no driver has it.
`;

/** How many emails per added / removed / changed line before "... and N more". */
const EMAILS_SHOWN = 10;

/** `pleevi-edge drivers import FILE`. */
export const driversImportCommand: CliCommand = async (args, io) => {
  const parsed = parseFlags('drivers import', IMPORT_USAGE, args, io, {
    'dry-run': { type: 'boolean' },
    merge: { type: 'boolean' },
  });
  if (typeof parsed === 'number') return parsed;
  const { flags, positionals } = parsed;
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0) {
    io.stderr.write(`pleevi-edge drivers import: ${file === undefined ? 'FILE is missing' : 'one FILE only'}\n\n${IMPORT_USAGE}`);
    return EXIT_USAGE;
  }
  const config = loadCliConfig(flags.config, io);
  if (config === undefined) return EXIT_USAGE;
  const path = resolve(file);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error: unknown) {
    io.stderr.write(`pleevi-edge drivers import: cannot read ${path}: ${describeFsError(error)}\n`);
    return EXIT_USAGE;
  }
  const mode = flags.merge === true ? 'merge' : 'replace';
  const dryRun = flags['dry-run'] === true;
  try {
    const list = parseDriverCsv(bytes);
    const result = withStore(config, (db) => importDrivers(db, list.rows, { mode, dryRun, source: `file:${path}` }));
    if (flags.json === true) {
      io.stdout.write(`${terminalSafeJson({ imported: !dryRun, file: path, mode, ...result, warnings: list.warnings })}\n`);
    } else {
      printWarnings(io, list.warnings);
      io.stdout.write(terminalSafeLines(summary(basename(path), mode, result)));
    }
    return EXIT_OK;
  } catch (error: unknown) {
    if (isStorageUnavailable(error)) {
      // The import is one transaction: nothing of it was kept.
      io.stderr.write(`pleevi-edge drivers import: ${path}: the database could not be written (${describeError(error)}); the driver list is unchanged [PE_ERR_STORE]\n`);
      return EXIT_FAILURE;
    }
    if (!(error instanceof DriverImportError)) throw error;
    io.stderr.write(`pleevi-edge drivers import: ${terminalSafe(`${path}: ${error.message}`)}\n`);
    // A problem quotes the offending field, which may hold any character of the file.
    for (const problem of error.problems) io.stderr.write(`line ${problem.line}: ${terminalSafe(problem.message)}\n`);
    printWarnings(io, error.warnings);
    if (flags.json === true) {
      io.stdout.write(`${terminalSafeJson({ imported: false, file: path, mode, problems: error.problems, warnings: error.warnings })}\n`);
    }
    return EXIT_USAGE;
  }
};

/** `pleevi-edge drivers list`. */
export const driversListCommand: CliCommand = async (args, io) => {
  const parsed = parseFlags('drivers list', LIST_USAGE, args, io, {});
  if (typeof parsed === 'number') return parsed;
  const { flags, positionals } = parsed;
  if (positionals.length > 0) {
    io.stderr.write(`pleevi-edge drivers list: unexpected argument "${positionals[0]}"\n\n${LIST_USAGE}`);
    return EXIT_USAGE;
  }
  const config = loadCliConfig(flags.config, io);
  if (config === undefined) return EXIT_USAGE;
  const { drivers, meta } = readStore(config.dataDir, io, (db) => ({ drivers: new SqliteDriverDirectory(db).list(), meta: readDriverListMeta(db) }));
  if (flags.json === true) {
    // The shape of the cloud's replace-drivers (docs/cloud.md "Commands"), plus where the list came from.
    const json = { version: meta?.version ?? null, source: meta?.source ?? null, importedAt: meta?.importedAt ?? null, drivers };
    io.stdout.write(`${terminalSafeJson(json)}\n`);
    return EXIT_OK;
  }
  if (drivers.length === 0) {
    io.stdout.write('no drivers (import a list with: pleevi-edge drivers import FILE)\n');
    return EXIT_OK;
  }
  const badges = drivers.reduce((sum, driver) => sum + driver.badgeIds.length, 0);
  const origin = meta === undefined ? '' : ` (imported ${meta.importedAt} from ${meta.source}${meta.version === null ? '' : `, version ${meta.version}`})`;
  io.stdout.write(`${plural(drivers.length, 'driver')}, ${plural(badges, 'badge')}${terminalSafe(origin)}\n\n`);
  io.stdout.write(formatTable(['EMAIL', 'BADGES'], drivers.map((driver) => [driver.email, driver.badgeIds.join(', ')])));
  return EXIT_OK;
};

/** `pleevi-edge drivers lookup BADGE`: exit 0 with the email, or exit 1 for an unknown badge (scriptable). */
export const driversLookupCommand: CliCommand = async (args, io) => {
  const parsed = parseFlags('drivers lookup', LOOKUP_USAGE, args, io, {});
  if (typeof parsed === 'number') return parsed;
  const { flags, positionals } = parsed;
  const [badge, ...extra] = positionals;
  if (badge === undefined || extra.length > 0) {
    io.stderr.write(`pleevi-edge drivers lookup: ${badge === undefined ? 'BADGE is missing' : 'one BADGE only (quote a badge with blanks)'}\n\n${LOOKUP_USAGE}`);
    return EXIT_USAGE;
  }
  const config = loadCliConfig(flags.config, io);
  if (config === undefined) return EXIT_USAGE;
  const match = readStore(config.dataDir, io, (db) => new SqliteDriverDirectory(db).lookup(badge));
  const badgeId = normalizeBadge(badge);
  if (flags.json === true) {
    io.stdout.write(`${terminalSafeJson({ badgeId, driver: match === undefined ? null : { email: match.email } })}\n`);
  } else if (match === undefined) {
    io.stderr.write(`unknown badge "${terminalSafe(badgeId)}"\n`);
  } else {
    io.stdout.write(`${terminalSafe(match.email)}\n`);
  }
  return match === undefined ? EXIT_FAILURE : EXIT_OK;
};

type ExtraOptions = Record<string, { type: 'boolean' }>;

interface ParsedFlags {
  readonly flags: { config?: string | undefined; json?: boolean | undefined; help?: boolean | undefined } & Record<string, string | boolean | undefined>;
  readonly positionals: readonly string[];
}

/** The flags every drivers command takes, plus its own; a usage error or --help is answered here (the number is the exit code). */
function parseFlags(name: string, usage: string, args: readonly string[], io: CliIo, extra: ExtraOptions): ParsedFlags | number {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, ...extra },
      strict: true,
      allowPositionals: true,
    });
  } catch (error: unknown) {
    io.stderr.write(`pleevi-edge ${name}: ${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    return EXIT_USAGE;
  }
  if (parsed.values.help === true) {
    io.stdout.write(usage);
    return EXIT_OK;
  }
  return { flags: parsed.values, positionals: parsed.positionals };
}

function withStore<T>(config: DeviceConfig, use: (db: SqliteDatabase) => T): T {
  const db = openStore(config.dataDir);
  try {
    return use(db);
  } finally {
    db.close();
  }
}

function summary(file: string, mode: string, result: ImportResult): string {
  const head = result.dryRun
    ? `dry run, nothing written: importing ${file} (${mode}) would leave`
    : `imported ${file} (${mode}):`;
  const lines = [
    `${head} ${plural(result.drivers, 'driver')}, ${plural(result.badges, 'badge')}`,
    emailLine('added', result.added),
    emailLine('removed', result.removed),
    emailLine('changed', result.changed),
    `  ${'unchanged'.padEnd(10)}${result.unchanged}`,
  ];
  return `${lines.join('\n')}\n`;
}

function emailLine(label: string, emails: readonly string[]): string {
  const shown = emails.slice(0, EMAILS_SHOWN).join(', ');
  const more = emails.length > EMAILS_SHOWN ? `, ... and ${emails.length - EMAILS_SHOWN} more` : '';
  return `  ${label.padEnd(10)}${emails.length}${emails.length > 0 ? `  ${shown}${more}` : ''}`;
}

function printWarnings(io: CliIo, warnings: readonly DriverListProblem[]): void {
  for (const warning of warnings) io.stderr.write(`line ${warning.line}: warning: ${terminalSafe(warning.message)}\n`);
}

/** Each line of `text` through `terminalSafe`, the line breaks kept. */
function terminalSafeLines(text: string): string {
  return text.split('\n').map(terminalSafe).join('\n');
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function describeFsError(error: unknown): string {
  const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return error instanceof Error ? error.message : String(error);
}
