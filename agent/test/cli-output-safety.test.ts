/**
 * Text a station chose (its id, its BootNotification fields, the badge it
 * sent) never reaches the operator's terminal as control characters: the
 * listings show ESC, BEL, CR, LF, C1 and bidi overrides as visible escapes,
 * and `--json` stays exact JSON. Real gateway, real ocpp-rpc peers, the CLI
 * spawned from dist/ (`npm run build` first).
 */
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAdminServer } from '../src/admin/admin-server.js';
import { terminalSafe } from '../src/cli/terminal-safe.js';
import { createLogger } from '../src/util/logger.js';
import { connectStation, startCpms } from './helpers/ocpp-peers.js';
import { runCli } from './helpers/run-cli.js';
import { startTestGateway, stationEndpoint } from './helpers/test-gateway.js';

/** Every character a terminal may act on, except the line feeds the CLI writes itself. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
/** Any control or bidi character at all. */
const ANY_CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

// Clear the screen, write "hi" to the clipboard (OSC 52, ended by BEL), fake a new table row, reverse the rest.
const STATION_ID = 'CP\u001b[2J\u001b]52;c;aGk=\u0007\r\nEVIL\u202eX';
// Such an id is refused at the handshake (docs/station-interface.md "URL and station id"),
// so the stations below connect with a plain id and carry the escapes in their other fields.
const CONNECTED_ID = 'CP-ESC';
const VENDOR = 'V\u001b[31mRED\r\nX'; // within CiString20Type
const MODEL = 'M\u202elive'; // RLO
const SERIAL = 'S\u009b2J'; // C1 CSI
const FIRMWARE = '1.0\u0007\u2066';
const INFO = 'i\u001b[0m\u007f';
const BADGE = '\u001b]52;c;aGk=\u0007'; // 12 characters: a valid CiString20Type length

function site(t: Test, upstreamUrl: string, adminSocket?: string): { configPath: string; dataDir: string; dir: string } {
  const dir = t.testdir();
  const dataDir = join(dir, 'data');
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ dataDir, upstream: { url: upstreamUrl }, admin: { socket: adminSocket ?? join(dir, 'admin.sock') } }));
  return { configPath, dataDir, dir };
}

async function cli(t: Test, args: readonly string[]): Promise<string> {
  const result = await runCli(args);
  t.equal(result.code, 0, `pleevi-edge ${args[0]} exits 0 ${result.stderr}`);
  return result.stdout;
}

t.test('terminalSafe escapes exactly the control and bidi characters, and nothing else', async (t) => {
  let escaped = 0;
  for (let code = 0; code <= 0xffff; code++) {
    if (code >= 0xd800 && code <= 0xdfff) continue;
    const character = String.fromCharCode(code);
    const shown = terminalSafe(character);
    if (ANY_CONTROL.test(character)) {
      escaped++;
      t.notMatch(shown, ANY_CONTROL, `U+${code.toString(16)} is escaped`);
      if (ANY_CONTROL.test(shown)) break;
    } else if (shown !== character) {
      t.fail(`U+${code.toString(16)} is left alone, got ${JSON.stringify(shown)}`);
      break;
    }
  }
  t.equal(escaped, 32 + 1 + 32 + 3 + 2 + 5 + 4, 'C0, DEL, C1, ALM/LRM/RLM, LS/PS, U+202A-E, U+2066-9');
  t.equal(terminalSafe(STATION_ID), 'CP\\x1b[2J\\x1b]52;c;aGk=\\x07\\x0d\\x0aEVIL\\u202eX');
  t.equal(terminalSafe('Zoë 04A1 ⚡'), 'Zoë 04A1 ⚡', 'ordinary text, accents and symbols unchanged');
});

t.test('stations and sessions: peer text is shown escaped; --json is the exact value', async (t) => {
  const cpms = await startCpms({
    onClient: (client) => {
      client.handle('BootNotification', () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 }));
      client.handle('StatusNotification', () => ({}));
      client.handle('StartTransaction', () => ({ transactionId: 7, idTagInfo: { status: 'Accepted' } }));
    },
  });
  t.teardown(() => cpms.close());
  const { configPath, dataDir } = site(t, cpms.url);
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, dataDir });
  const station = await connectStation({ endpoint: stationEndpoint(gateway), identity: CONNECTED_ID });
  t.teardown(() => station.close({ force: true }));
  await station.call('BootNotification', { chargePointVendor: VENDOR, chargePointModel: MODEL, chargePointSerialNumber: SERIAL, firmwareVersion: FIRMWARE });
  await station.call('StatusNotification', { connectorId: 1, status: 'Charging', errorCode: 'NoError', info: INFO });
  await station.call('StartTransaction', { connectorId: 1, idTag: BADGE, meterStart: 0, timestamp: '2025-05-01T09:00:00Z' });

  const stations = await cli(t, ['stations', '--config', configPath]);
  t.notMatch(stations, RAW_CONTROL, 'no raw control or bidi character reaches the terminal');
  const stationLines = stations.split('\n').filter((line) => line !== '');
  t.equal(stationLines.length, 2, 'a header and one row: the CR LF in the vendor fakes no row');
  t.match(stationLines[1], /^CP-ESC\s+ocpp1\.6\s+V\\x1b\[31mRED\\x0d\\x0aX\s+M\\u202elive\s+S\\x9b2J\s+1\.0\\x07\\u2066\s/);

  const sessions = await cli(t, ['sessions', '--config', configPath]);
  t.notMatch(sessions, RAW_CONTROL);
  const sessionLines = sessions.split('\n').filter((line) => line !== '');
  t.equal(sessionLines.length, 2);
  t.match(sessionLines[1], /^CP-ESC\s+7\s+1\s+\\x1b\]52;c;aGk=\\x07\s+unknown badge\s/);

  const stationsJson = await cli(t, ['stations', '--json', '--config', configPath]);
  t.notMatch(stationsJson, RAW_CONTROL, 'JSON escapes C0 itself; C1 and bidi are written as \\u escapes too');
  t.match(stationsJson, /"model": "M\\u202elive"/);
  t.match(stationsJson, /"serialNumber": "S\\u009b2J"/);
  t.match(JSON.parse(stationsJson), [
    { stationId: CONNECTED_ID, vendor: VENDOR, model: MODEL, serialNumber: SERIAL, firmwareVersion: FIRMWARE, connectors: [{ connectorId: 1, info: INFO }] },
  ], 'parsed back: the exact values');

  const sessionsJson = await cli(t, ['sessions', '--json', '--config', configPath]);
  t.notMatch(sessionsJson, RAW_CONTROL);
  t.match(JSON.parse(sessionsJson), [{ stationId: CONNECTED_ID, transactionId: '7', idTag: BADGE }]);
});

t.test('status: the connected station and its events are shown escaped; --json is exact', async (t) => {
  const cpms = await startCpms({
    onClient: (client) => client.handle('StartTransaction', () => ({ transactionId: 8, idTagInfo: { status: 'Accepted' } })),
  });
  t.teardown(() => cpms.close());
  // A short folder: a unix socket path must fit in 107 bytes.
  const socketDir = mkdtempSync(join(tmpdir(), 'pe-safe-'));
  t.teardown(() => rmSync(socketDir, { recursive: true, force: true }));
  const socket = join(socketDir, 'admin.sock');
  const { configPath, dataDir } = site(t, cpms.url, socket);
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, dataDir });
  const admin = await startAdminServer(socket, new Map([['/v1/status', () => gateway.status()]]), createLogger('silent'));
  t.teardown(() => admin.close());
  const station = await connectStation({ endpoint: stationEndpoint(gateway), identity: CONNECTED_ID });
  t.teardown(() => station.close({ force: true }));
  await station.call('StartTransaction', { connectorId: 1, idTag: BADGE, meterStart: 0, timestamp: '2025-05-01T09:00:00Z' });

  const status = await cli(t, ['status', '--config', configPath]);
  t.notMatch(status, RAW_CONTROL, 'no raw control or bidi character reaches the terminal');
  t.match(status, /\nCP-ESC\s+ocpp1\.6\s+open\s/, 'the station row');
  t.match(status, /\n\s+session\s+started\s+CP-ESC\s+tx 8 badge \\x1b\]52;c;aGk=\\x07 driver unknown\n/, 'the session event line');

  const json = await cli(t, ['status', '--json', '--config', configPath]);
  t.notMatch(json, RAW_CONTROL);
  t.match(JSON.parse(json), { stations: [{ stationId: CONNECTED_ID }], recentEvents: [{ topic: 'station' }, { topic: 'session', payload: { stationId: CONNECTED_ID, idTag: BADGE } }] });
});

t.test('drivers import: a refused field is quoted escaped; emails and badges with control or bidi characters are refused', async (t) => {
  const { configPath, dir } = site(t, 'ws://127.0.0.1:9/ocpp');
  const file = join(dir, 'drivers.csv');
  writeFileSync(file, `email,badge_ids\nok@example.com,"B\u001b[8mX\u0007"\nx\u001b[2J@example.com,B2\nab\u202emoc.elpmaxe@example.com,B3\n`);
  const imported = await runCli(['drivers', 'import', file, '--config', configPath]);
  t.equal(imported.code, 2);
  t.notMatch(imported.stderr, RAW_CONTROL);
  t.match(imported.stderr, /line 2: badge "B\\x1b\[8mX\\x07" contains a blank or control character/);
  t.match(imported.stderr, /line 3: "x\\x1b\[2J@example\.com" contains a control or bidi formatting character/);
  t.match(imported.stderr, /line 4: "ab\\u202emoc\.elpmaxe@example\.com" contains a control or bidi formatting character/);

  const asJson = await runCli(['drivers', 'import', file, '--json', '--config', configPath]);
  t.equal(asJson.code, 2);
  t.notMatch(asJson.stdout, RAW_CONTROL);
  const parsed = JSON.parse(asJson.stdout) as { problems: Array<{ line: number; message: string }> };
  t.same(
    parsed.problems.map((problem) => problem.line),
    [2, 3, 4],
  );
  t.match(parsed.problems[2]?.message, '\u202e', 'the exact message, parsed back');
});
