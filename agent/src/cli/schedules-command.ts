import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ScheduleRecords, type ScheduleRecord } from '../schedules/schedule-records.js';
import { DATABASE_FILE } from '../store/gateway-store.js';
import { EXIT_OK, EXIT_USAGE, type CliCommand, type CliIo } from './cli-io.js';
import { formatTable } from './format-table.js';
import { terminalSafeJson } from './terminal-safe.js';
import { readStore } from './read-store.js';
import { loadCliConfig } from './load-cli-config.js';
import { parseCommandFlags } from './parse-command-flags.js';

const SCHEDULES_USAGE = `Usage: pleevi-edge schedules [--all] [--json] [--config FILE]

The cloud's charging schedules from the gateway's database, per station:
what is in force (pending, applied, rejected, failed, being cleared), the
gateway's profile id, the limits, and the last result the station gave.
Works with the daemon running or stopped. See docs/schedules.md.

  --all     also schedules that were cleared or expired
  --json    one JSON array, fields as in docs/schedules.md
`;

/** `pleevi-edge schedules`: stored state, read from the SQLite file (WAL: never blocks the daemon). */
export const schedulesCommand: CliCommand = async (args, io) => {
  const flags = parseCommandFlags('schedules', SCHEDULES_USAGE, args, {
        all: { type: 'boolean' },
        json: { type: 'boolean' },
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
      }, io);
  if (typeof flags === 'number') return flags;
  const config = loadCliConfig(flags.config, io);
  if (!config) return EXIT_USAGE;

  const schedules = readSchedules(config.dataDir, flags.all === true, io);
  if (flags.json) {
    io.stdout.write(`${terminalSafeJson(schedules)}\n`);
    return EXIT_OK;
  }
  if (schedules.length === 0) {
    io.stdout.write(flags.all ? 'no schedules received\n' : 'no schedules in force\n');
    return EXIT_OK;
  }
  io.stdout.write(
    formatTable(
      ['STATION', 'CONNECTOR', 'SCHEDULE', 'PURPOSE', 'PROFILE', 'LIMITS', 'STARTS', 'UNTIL', 'STATE', 'LAST RESULT'],
      schedules.map((schedule) => [
        schedule.stationId,
        String(schedule.connectorId),
        schedule.scheduleId,
        schedule.purpose,
        String(schedule.profileId),
        limits(schedule),
        schedule.startsAt === null ? (schedule.purpose === 'default' ? 'each session' : shortTime(schedule.acceptedAt)) : `${shortTime(schedule.startsAt)}${schedule.recurrency ? ` ${schedule.recurrency}` : ''}`,
        schedule.validUntil === null ? '-' : shortTime(schedule.validUntil),
        schedule.state,
        lastResult(schedule),
      ]),
    ),
  );
  return EXIT_OK;
};

/** No database yet (the daemon never ran here) reads as no schedules; the CLI does not create one. */
function readSchedules(dataDir: string, all: boolean, io: CliIo): ScheduleRecord[] {
  if (!existsSync(join(dataDir, DATABASE_FILE))) return [];
  return readStore(dataDir, io, (db) => {
    const records = new ScheduleRecords(db);
    return all ? records.all() : records.live();
  });
}

/** `0s 32A, 1800s 16A`: offsets from the schedule's start. */
function limits(schedule: ScheduleRecord): string {
  return schedule.periods
    .map((period) => `${period.startOffsetS}s ${period.limit}${schedule.unit}${period.phases === undefined ? '' : `/${period.phases}ph`}`)
    .join(', ');
}

function lastResult(schedule: ScheduleRecord): string {
  if (schedule.lastResult === null) return '-';
  const status = schedule.lastStatus === null ? '' : ` ${schedule.lastStatus}`;
  const at = schedule.lastAt === null ? '' : ` at ${shortTime(schedule.lastAt)}`;
  const reason = schedule.lastReason === null ? '' : ` (${schedule.lastReason})`;
  return `${schedule.lastResult}${status}${at}${reason}`;
}

/** `2024-05-01T10:00:00.000Z` → `2024-05-01 10:00:00Z`: still UTC, still unambiguous. */
function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
