import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { SessionRecord } from '../sessions/session-record.js';
import { SessionRecords } from '../sessions/session-records.js';
import { DATABASE_FILE } from '../store/gateway-store.js';
import { EXIT_OK, EXIT_USAGE, type CliCommand, type CliIo } from './cli-io.js';
import { formatTable } from './format-table.js';
import { terminalSafeJson } from './terminal-safe.js';
import { readStore } from './read-store.js';
import { loadCliConfig } from './load-cli-config.js';
import { parseCommandFlags } from './parse-command-flags.js';

const SESSIONS_USAGE = `Usage: pleevi-edge sessions [--active] [--json] [--limit N] [--config FILE]

Charging sessions from the gateway's database, newest first (by the station's
start time): station, transaction, connector or EVSE, badge, driver, times,
energy, stop reason. Works with the daemon running or stopped.

  --active     only sessions that have not ended
  --limit N    at most N sessions (default 50; 0 means all)
  --json       one JSON array, fields as in docs/sessions.md
`;

const DEFAULT_LIMIT = 50;

/** `pleevi-edge sessions`: stored state, read from the SQLite file (WAL: never blocks the daemon). */
export const sessionsCommand: CliCommand = async (args, io) => {
  const flags = parseCommandFlags('sessions', SESSIONS_USAGE, args, {
        active: { type: 'boolean' },
        json: { type: 'boolean' },
        limit: { type: 'string' },
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
      }, io);
  if (typeof flags === 'number') return flags;
  const limit = flags.limit === undefined ? DEFAULT_LIMIT : /^\d{1,9}$/.test(flags.limit) ? Number(flags.limit) : undefined;
  if (limit === undefined) {
    io.stderr.write(`pleevi-edge sessions: --limit wants a whole number, got "${flags.limit ?? ''}"\n\n${SESSIONS_USAGE}`);
    return EXIT_USAGE;
  }
  const config = loadCliConfig(flags.config, io);
  if (!config) return EXIT_USAGE;

  const activeOnly = flags.active === true;
  const sessions = readSessions(config.dataDir, activeOnly, limit, io);
  if (flags.json) {
    io.stdout.write(`${terminalSafeJson(sessions.map(toJson))}\n`);
    return EXIT_OK;
  }
  if (sessions.length === 0) {
    io.stdout.write(activeOnly ? 'no active sessions\n' : 'no sessions recorded\n');
    return EXIT_OK;
  }
  io.stdout.write(
    formatTable(
      ['STATION', 'TRANSACTION', 'CONNECTOR', 'BADGE', 'DRIVER', 'STARTED', 'ENDED', 'kWh', 'STATE', 'STOP REASON'],
      sessions.map((session) => [
        session.stationId,
        session.transactionId,
        place(session),
        session.idTag ?? '-',
        session.driverEmail ?? (session.idTag === null ? '-' : 'unknown badge'),
        shortTime(session.startedAt),
        session.endedAt === null ? '-' : shortTime(session.endedAt),
        session.energyWh === null ? '-' : (session.energyWh / 1000).toFixed(3),
        session.state,
        session.stopReason ?? '-',
      ]),
    ),
  );
  return EXIT_OK;
};

/** No database yet (the daemon never ran here) reads as no sessions; the CLI does not create one. */
function readSessions(dataDir: string, activeOnly: boolean, limit: number, io: CliIo): SessionRecord[] {
  if (!existsSync(join(dataDir, DATABASE_FILE))) return [];
  return readStore(dataDir, io, (db) => new SessionRecords(db).list({ activeOnly, limit: limit === 0 ? -1 : limit }));
}

/** The stored record in the vocabulary of the session event (docs/sessions.md "Events") plus the bookkeeping. */
function toJson(session: SessionRecord): Record<string, unknown> {
  return {
    stationId: session.stationId,
    ocppVersion: session.ocppVersion,
    connectorId: session.connectorId,
    evseId: session.evseId,
    transactionId: session.transactionId,
    state: session.state,
    idTag: session.idTag,
    idTagStatus: session.idTagStatus,
    driver: session.driverEmail === null ? null : { email: session.driverEmail },
    startedAt: session.startedAt,
    endedAt: session.endedAt,
    meterStartWh: session.meterStartWh,
    meterStopWh: session.meterStopWh,
    lastMeterWh: session.lastMeterWh,
    lastMeterAt: session.lastMeterAt,
    energyWh: session.energyWh,
    stopReason: session.stopReason,
    lastSeqNo: session.lastSeqNo,
    missedSeqNos: session.missedSeqNos,
    offlineEvents: session.offlineEvents,
    updatedAt: session.updatedAt,
  };
}

/** 1.6 names a connector; 2.x an EVSE and maybe the connector on it. */
function place(session: SessionRecord): string {
  if (session.ocppVersion === '1.6') return String(session.connectorId ?? '-');
  if (session.evseId === null) return 'evse ?';
  return session.connectorId === null ? `evse ${session.evseId}` : `evse ${session.evseId}/${session.connectorId}`;
}

/** `2024-05-01T10:00:00.000Z` → `2024-05-01 10:00:00Z`: still UTC, still unambiguous. */
function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
