import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { StationDetails, type ConnectorStatus, type StationDetail } from '../sessions/station-details.js';
import { DATABASE_FILE } from '../store/gateway-store.js';
import { EXIT_OK, EXIT_USAGE, type CliCommand, type CliIo } from './cli-io.js';
import { formatTable } from './format-table.js';
import { describeHop } from '../proxy/hop-security.js';
import { terminalSafeJson } from './terminal-safe.js';
import { readStore } from './read-store.js';
import { loadCliConfig } from './load-cli-config.js';
import { parseCommandFlags } from './parse-command-flags.js';

const STATIONS_USAGE = `Usage: pleevi-edge stations [--json] [--config FILE]

Every station the gateway has seen, from its database: protocol, vendor,
model, serial number and firmware (BootNotification), last connect and
disconnect, the security profile of both hops at the last connection (LAN
and upstream: profile, ws/wss, Basic Auth or client certificate, TLS
version), and the last status of each connector (StatusNotification).
Works with the daemon running or stopped; for the live connections use
"pleevi-edge status".
`;

/** `pleevi-edge stations`: stored state, read from the SQLite file (WAL: never blocks the daemon). */
export const stationsCommand: CliCommand = async (args, io) => {
  const flags = parseCommandFlags('stations', STATIONS_USAGE, args, { json: { type: 'boolean' }, config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } }, io);
  if (typeof flags === 'number') return flags;
  const config = loadCliConfig(flags.config, io);
  if (!config) return EXIT_USAGE;

  const stations = readStations(config.dataDir, io);
  if (flags.json) {
    io.stdout.write(`${terminalSafeJson(stations)}\n`);
    return EXIT_OK;
  }
  if (stations.length === 0) {
    io.stdout.write('no stations seen yet\n');
    return EXIT_OK;
  }
  io.stdout.write(
    formatTable(
      ['STATION', 'PROTOCOL', 'VENDOR', 'MODEL', 'SERIAL', 'FIRMWARE', 'LAST CONNECTED', 'LAST DISCONNECTED', 'SECURITY (LAN > UPSTREAM)', 'CONNECTORS'],
      stations.map((station) => [
        station.stationId,
        station.protocol || '-',
        station.vendor ?? '-',
        station.model ?? '-',
        station.serialNumber ?? '-',
        station.firmwareVersion ?? '-',
        station.lastConnectedAt === null ? '-' : shortTime(station.lastConnectedAt),
        station.lastDisconnectedAt === null ? '-' : shortTime(station.lastDisconnectedAt),
        station.security ? `${describeHop(station.security.station)} > ${describeHop(station.security.upstream)}` : '-',
        station.connectors.map(connectorLabel).join(' ') || '-',
      ]),
    ),
  );
  return EXIT_OK;
};

/** No database yet (the daemon never ran here) reads as no stations; the CLI does not create one. */
function readStations(dataDir: string, io: CliIo): StationDetail[] {
  if (!existsSync(join(dataDir, DATABASE_FILE))) return [];
  return readStore(dataDir, io, (db) => new StationDetails(db).list());
}

/** `1:Charging` (1.6 connector 1), `1/2:Occupied` (2.x EVSE 1, connector 2). */
function connectorLabel(connector: ConnectorStatus): string {
  const where = connector.evseId === null ? `${connector.connectorId}` : `${connector.evseId}/${connector.connectorId}`;
  const error = connector.errorCode !== null && connector.errorCode !== 'NoError' ? `(${connector.errorCode})` : '';
  return `${where}:${connector.status}${error}`;
}

/** `2024-05-01T10:00:00.000Z` → `2024-05-01 10:00:00Z`: still UTC, still unambiguous. */
function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
