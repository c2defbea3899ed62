import { setImmediate as nextTurn } from 'node:timers/promises';
import { DriverImportError, type DriverListProblem } from '../drivers/driver-import-error.js';
import { parseDriverCsvText, validateDriverEntriesInSlices, type DriverEntry, type DriverList } from '../drivers/driver-csv.js';
import { readDriverListMeta } from '../drivers/driver-list-store.js';
import { replaceDriverListInChunks } from '../drivers/staged-driver-import.js';
import type { SqliteDatabase } from '../store/gateway-store.js';
import type { Logger } from '../util/logger.js';
import { CommandError, type CloudCommand, type CommandHandler } from './cloud-command.js';

/** Problems quoted in the ack's message; the rest are counted. */
const PROBLEMS_IN_MESSAGE = 5;

/**
 * `replace-drivers` (docs/cloud.md "Commands"): `{"id","version","drivers":[{"email",
 * "badgeIds":[...]}]}` or `{"id","version","csv":"..."}`. The list goes
 * through the same rules as `pleevi-edge drivers import` (docs/drivers.md)
 * and replaces the whole list, all or nothing, written in chunks so the
 * relay is not stalled (staged-driver-import.ts). A version not newer than the
 * stored one is ignored, so a late redelivery of an old list never undoes a
 * newer one. `drivers: []` is accepted and empties the list: unlike an empty
 * CSV file, which is usually a mistake, it can only be sent on purpose.
 */
export class ReplaceDriversCommand implements CommandHandler {
  readonly name = 'replace-drivers';

  constructor(
    private readonly db: SqliteDatabase,
    private readonly logger: Logger,
    /** Drivers per write transaction; the default suits the daemon. */
    private readonly chunkDrivers?: number,
  ) {}

  async execute(command: CloudCommand): Promise<unknown> {
    const { version, drivers, csv } = command.body;
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
      throw new CommandError('invalid_argument', '"version" must be a non-negative integer');
    }
    if ((drivers === undefined) === (csv === undefined)) {
      throw new CommandError('invalid_argument', 'give exactly one of "drivers" (a list) or "csv" (the CSV text)');
    }
    // The command's JSON was parsed in the turn that received it; the list is
    // checked in the next one and written in chunks after that, so stations
    // are relayed in between (staged-driver-import.ts).
    await nextTurn();
    const list = csv !== undefined ? fromCsv(csv) : await fromEntries(drivers);
    const result = await replaceDriverListInChunks(this.db, list.rows, { version, source: 'cloud', ...(this.chunkDrivers === undefined ? {} : { chunkDrivers: this.chunkDrivers }) });
    if (result.staleVersion) {
      const storedVersion = readDriverListMeta(this.db)?.version ?? null;
      this.logger.info({ version, storedVersion }, 'replace-drivers ignored: version not newer than the stored list');
      return { ignored: true, reason: `version ${version} is not newer than the stored version ${storedVersion}`, storedVersion };
    }
    this.logger.info(
      { version, added: result.added.length, removed: result.removed.length, changed: result.changed.length, drivers: result.drivers },
      'driver list replaced by the cloud',
    );
    return {
      ignored: false,
      version,
      added: result.added.length,
      removed: result.removed.length,
      changed: result.changed.length,
      unchanged: result.unchanged,
      drivers: result.drivers,
      badges: result.badges,
      warnings: list.warnings.map(describeProblem(csv !== undefined ? 'line' : 'entry')),
    };
  }
}

function fromCsv(csv: unknown): DriverList {
  if (typeof csv !== 'string') throw new CommandError('invalid_argument', '"csv" must be a string holding the CSV text');
  return refusedAsInvalid(() => parseDriverCsvText(csv), 'line');
}

async function fromEntries(drivers: unknown): Promise<DriverList> {
  if (!Array.isArray(drivers)) throw new CommandError('invalid_argument', '"drivers" must be a list of {"email","badgeIds"}');
  const entries: DriverEntry[] = [];
  const shapeProblems: DriverListProblem[] = [];
  drivers.forEach((driver: unknown, index) => {
    const line = index + 1;
    if (typeof driver !== 'object' || driver === null || Array.isArray(driver)) {
      shapeProblems.push({ line, message: 'must be an object {"email","badgeIds"}' });
      return;
    }
    const { email, badgeIds } = driver as Record<string, unknown>;
    if (typeof email !== 'string') shapeProblems.push({ line, message: '"email" must be a string' });
    if (!Array.isArray(badgeIds) || !badgeIds.every((badge) => typeof badge === 'string')) {
      shapeProblems.push({ line, message: '"badgeIds" must be a list of strings' });
    }
    if (typeof email === 'string' && Array.isArray(badgeIds)) entries.push({ line, email, badgeIds: badgeIds.filter((badge) => typeof badge === 'string') });
  });
  if (shapeProblems.length > 0) throw invalid(shapeProblems, 'entry');
  try {
    return await validateDriverEntriesInSlices(entries);
  } catch (error: unknown) {
    if (error instanceof DriverImportError) throw invalid(error.problems, 'entry', error);
    throw error;
  }
}

function refusedAsInvalid(parse: () => DriverList, where: 'line' | 'entry'): DriverList {
  try {
    return parse();
  } catch (error: unknown) {
    if (error instanceof DriverImportError) throw invalid(error.problems, where, error);
    throw error;
  }
}

function invalid(problems: readonly DriverListProblem[], where: 'line' | 'entry', cause?: unknown): CommandError {
  const shown = problems.slice(0, PROBLEMS_IN_MESSAGE).map(describeProblem(where)).join('; ');
  const more = problems.length > PROBLEMS_IN_MESSAGE ? `; and ${problems.length - PROBLEMS_IN_MESSAGE} more` : '';
  const count = `${problems.length} ${problems.length === 1 ? 'problem' : 'problems'} in the driver list, nothing imported`;
  return new CommandError('invalid_argument', `${count}: ${shown}${more}`, cause === undefined ? undefined : { cause });
}

/** Problems of a JSON list are numbered by position (1 = first entry), of a CSV by line. */
function describeProblem(where: 'line' | 'entry'): (problem: DriverListProblem) => string {
  return (problem) => `${where} ${problem.line}: ${problem.message}`;
}
