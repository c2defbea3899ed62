/**
 * `pleevi-edge sessions` and `pleevi-edge stations`, spawned as the real CLI
 * (from dist/: `npm run build` first) on a database that a real gateway run
 * filled, while that gateway still runs (WAL) and after it stopped.
 */
import t, { type Test } from 'tap';
import { runCli } from './helpers/run-cli.js';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalizeBadge, type DriverDirectory, type DriverMatch } from '../src/drivers/driver-directory.js';
import { DATABASE_FILE, openStore } from '../src/store/gateway-store.js';
import { connectStation, startCpms } from './helpers/ocpp-peers.js';
import { startTestGateway, stationEndpoint } from './helpers/test-gateway.js';




async function json(args: readonly string[]): Promise<unknown> {
  const result = await runCli(args);
  if (result.code !== 0) throw new Error(`pleevi-edge ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as unknown;
}

const drivers: DriverDirectory = {
  lookup: (badge: string): DriverMatch | undefined =>
    normalizeBadge(badge) === 'ALICE-1' ? { email: 'alice@example.com', badgeId: 'ALICE-1' } : undefined,
};

function writeConfig(t: Test, upstreamUrl: string): { configPath: string; dataDir: string } {
  const dir = t.testdir();
  const dataDir = join(dir, 'data');
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ dataDir, upstream: { url: upstreamUrl }, admin: { socket: join(dir, 'admin.sock') } }));
  return { configPath, dataDir };
}

t.test('sessions and stations from the database a gateway run filled, with the gateway running and after it stopped', async (t) => {
  const cpms = await startCpms({
    onClient: (client) => {
      client.handle('BootNotification', () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 }));
      client.handle('StatusNotification', () => ({}));
      client.handle('StartTransaction', () => ({ transactionId: 31, idTagInfo: { status: 'Accepted' } }));
      client.handle('TransactionEvent', () => ({}));
    },
  });
  t.teardown(() => cpms.close());
  const { configPath, dataDir } = writeConfig(t, cpms.url);
  const db = openStore(dataDir);
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, dataDir, drivers });
  t.teardown(() => db.close());

  const wallbox = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CP-A' });
  t.teardown(() => wallbox.close({ force: true }));
  await wallbox.call('BootNotification', { chargePointVendor: 'Pleevi', chargePointModel: 'AC 22', chargePointSerialNumber: 'S-1', firmwareVersion: '1.0' });
  await wallbox.call('StatusNotification', { connectorId: 1, status: 'Charging', errorCode: 'NoError' });
  await wallbox.call('StartTransaction', { connectorId: 1, idTag: 'alice-1', meterStart: 1000, timestamp: '2025-05-01T09:00:00Z' });

  const charger = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CS-B', protocols: ['ocpp2.0.1'] });
  t.teardown(() => charger.close({ force: true }));
  await charger.call('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'Pleevi', model: 'DC 50' } });
  const event = (eventType: string, seqNo: number, timestamp: string, wh: number) => ({
    eventType,
    timestamp,
    triggerReason: 'Authorized',
    seqNo,
    transactionInfo: { transactionId: 'tx-b', ...(eventType === 'Ended' ? { stoppedReason: 'Remote' } : {}) },
    ...(eventType === 'Started' ? { idToken: { idToken: 'NOBODY', type: 'ISO14443' }, evse: { id: 1, connectorId: 1 } } : {}),
    meterValue: [{ timestamp, sampledValue: [{ value: wh }] }],
  });
  await charger.call('TransactionEvent', event('Started', 0, '2025-05-01T07:00:00Z', 0));
  await charger.call('TransactionEvent', event('Ended', 1, '2025-05-01T08:00:00Z', 11_500));

  const whileRunning = (await json(['sessions', '--json', '--config', configPath])) as Array<Record<string, unknown>>;
  t.match(whileRunning, [
    {
      stationId: 'CP-A',
      ocppVersion: '1.6',
      connectorId: 1,
      evseId: null,
      transactionId: '31',
      state: 'active',
      idTag: 'alice-1',
      idTagStatus: 'Accepted',
      driver: { email: 'alice@example.com' },
      startedAt: '2025-05-01T09:00:00.000Z',
      endedAt: null,
      meterStartWh: 1000,
    },
    {
      stationId: 'CS-B',
      ocppVersion: '2.0.1',
      evseId: 1,
      transactionId: 'tx-b',
      state: 'ended',
      idTag: 'NOBODY',
      driver: null,
      startedAt: '2025-05-01T07:00:00.000Z',
      endedAt: '2025-05-01T08:00:00.000Z',
      energyWh: 11_500,
      stopReason: 'Remote',
    },
  ], 'newest start first, read while the gateway writes');
  t.equal(whileRunning.length, 2);

  t.match(await json(['sessions', '--active', '--json', '--config', configPath]), [{ stationId: 'CP-A', state: 'active' }]);
  t.equal(((await json(['sessions', '--active', '--json', '--config', configPath])) as unknown[]).length, 1, '--active');
  t.equal(((await json(['sessions', '--limit', '1', '--json', '--config', configPath])) as unknown[]).length, 1, '--limit 1');

  const table = await runCli(['sessions', '--config', configPath]);
  t.equal(table.code, 0);
  t.match(table.stdout, /^STATION\s+TRANSACTION\s+CONNECTOR\s+BADGE\s+DRIVER\s+STARTED\s+ENDED\s+kWh\s+STATE\s+STOP REASON\n/);
  t.match(table.stdout, /CP-A\s+31\s+1\s+alice-1\s+alice@example\.com\s+2025-05-01 09:00:00Z\s+-\s+0\.000\s+active\s+-/);
  t.match(table.stdout, /CS-B\s+tx-b\s+evse 1\/1\s+NOBODY\s+unknown badge\s+2025-05-01 07:00:00Z\s+2025-05-01 08:00:00Z\s+11\.500\s+ended\s+Remote/);

  const stations = await json(['stations', '--json', '--config', configPath]);
  t.match(stations, [
    {
      stationId: 'CP-A',
      protocol: 'ocpp1.6',
      vendor: 'Pleevi',
      model: 'AC 22',
      serialNumber: 'S-1',
      firmwareVersion: '1.0',
      connectCount: 1,
      connectors: [{ evseId: null, connectorId: 1, status: 'Charging', errorCode: 'NoError' }],
    },
    { stationId: 'CS-B', protocol: 'ocpp2.0.1', vendor: 'Pleevi', model: 'DC 50', serialNumber: null, bootReason: 'PowerUp', connectors: [] },
  ]);
  const stationTable = await runCli(['stations', '--config', configPath]);
  t.equal(stationTable.code, 0);
  t.match(stationTable.stdout, /CP-A\s+ocpp1\.6\s+Pleevi\s+AC 22\s+S-1\s+1\.0\s+\S+ \S+\s+-\s+P0 ws > P0 ws\s+1:Charging/, "the row: boot details, last connect, the security of both hops, the connector");

  await wallbox.close();
  await charger.close();
  await gateway.close();
  db.close();
  const afterStop = (await json(['sessions', '--json', '--config', configPath])) as unknown[];
  t.same(afterStop, whileRunning, 'the same with the daemon stopped');
  t.match(await json(['stations', '--json', '--config', configPath]), [{ stationId: 'CP-A', lastDisconnectedAt: String }, { stationId: 'CS-B' }]);
});

t.test('no database yet: empty listings, exit 0, and no database created', async (t) => {
  const { configPath, dataDir } = writeConfig(t, 'ws://127.0.0.1:9/ocpp');
  t.same(await json(['sessions', '--json', '--config', configPath]), []);
  t.same(await json(['stations', '--json', '--config', configPath]), []);
  const text = await runCli(['sessions', '--active', '--config', configPath]);
  t.equal(text.code, 0);
  t.equal(text.stdout, 'no active sessions\n');
  t.equal((await runCli(['stations', '--config', configPath])).stdout, 'no stations seen yet\n');
  t.notOk(existsSync(join(dataDir, DATABASE_FILE)), 'a listing never creates the database');
});

t.test('bad usage exits 2', async (t) => {
  const { configPath } = writeConfig(t, 'ws://127.0.0.1:9/ocpp');
  const badLimit = await runCli(['sessions', '--limit', 'ten', '--config', configPath]);
  t.equal(badLimit.code, 2);
  t.match(badLimit.stderr, /--limit wants a whole number, got "ten"/);
  const unknownFlag = await runCli(['stations', '--all', '--config', configPath]);
  t.equal(unknownFlag.code, 2);
  t.match(unknownFlag.stderr, /Usage: pleevi-edge stations/);
  const help = await runCli(['sessions', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /Usage: pleevi-edge sessions \[--active\] \[--json\] \[--limit N\] \[--config FILE\]/);
});
