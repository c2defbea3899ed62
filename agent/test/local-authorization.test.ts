import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from './helpers/run-cli.js';
import { parseDriverCsvText } from '../src/drivers/driver-csv.js';
import { importDrivers } from '../src/drivers/driver-list-store.js';
import { openStore } from '../src/store/gateway-store.js';
import { createLogger } from '../src/util/logger.js';
import { connectStation, startCpms } from './helpers/ocpp-peers.js';
import { startTestGateway, stationEndpoint } from './helpers/test-gateway.js';

function seedDrivers(dataDir: string): void {
  const db = openStore(dataDir);
  importDrivers(db, parseDriverCsvText('email,badge_ids\nana@example.com,"04A1B2C3, 04FFFF01"\n').rows, { mode: 'replace', source: 'test' });
  db.close();
}

for (const version of ['ocpp1.6', 'ocpp2.0.1'] as const) {
  t.test(`local mode, ${version}: the gateway answers Authorize from the driver list; transactions still reach the CPMS`, async (t) => {
    const authorizeAtCpms: unknown[] = [];
    const cpms = await startCpms({
      protocols: [version],
      onClient: (client) => {
        client.handle('Authorize', ({ params }) => {
          authorizeAtCpms.push(params);
          return version === 'ocpp1.6' ? { idTagInfo: { status: 'Blocked' } } : { idTokenInfo: { status: 'Blocked' } };
        });
        client.handle('StartTransaction', () => ({ transactionId: 7, idTagInfo: { status: 'Accepted' } }));
        client.handle('TransactionEvent', () => ({}));
      },
    });
    t.teardown(() => cpms.close());
    const dataDir = t.testdir();
    seedDrivers(dataDir);
    const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, dataDir, authorizationMode: 'local' });
    const station = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CP-LOCAL', protocols: [version] });
    t.teardown(() => station.close({ force: true }));

    const authorize = (badge: string) =>
      version === 'ocpp1.6' ? station.call('Authorize', { idTag: badge }) : station.call('Authorize', { idToken: { idToken: badge, type: 'ISO14443' } });
    const statusOf = (answer: unknown): unknown =>
      version === 'ocpp1.6' ? (answer as { idTagInfo: { status: string } }).idTagInfo.status : (answer as { idTokenInfo: { status: string } }).idTokenInfo.status;

    t.equal(statusOf(await authorize('04a1b2c3')), 'Accepted', 'a listed badge (other case) is Accepted');
    t.equal(statusOf(await authorize('04FFFF01')), 'Accepted', 'the driver’s second badge too');
    t.equal(statusOf(await authorize('DEADBEEF')), 'Invalid', 'an unknown badge is Invalid');
    t.same(authorizeAtCpms, [], 'no Authorize reached the CPMS');
    t.equal(gateway.metrics.localAnswers, 3);

    if (version === 'ocpp1.6') {
      const started = (await station.call('StartTransaction', { connectorId: 1, idTag: '04A1B2C3', meterStart: 0, timestamp: new Date().toISOString() })) as { transactionId: number };
      t.equal(started.transactionId, 7, 'StartTransaction still goes to the CPMS');
    } else {
      await station.call('TransactionEvent', { eventType: 'Started', timestamp: new Date().toISOString(), triggerReason: 'Authorized', seqNo: 0, transactionInfo: { transactionId: 'tx-1' } });
      t.pass('TransactionEvent still goes to the CPMS');
    }
  });
}

t.test('cpms mode: Authorize goes to the CPMS', async (t) => {
  let seen = 0;
  const cpms = await startCpms({
    protocols: ['ocpp1.6'],
    onClient: (client) =>
      client.handle('Authorize', () => {
        seen += 1;
        return { idTagInfo: { status: 'Blocked' } };
      }),
  });
  t.teardown(() => cpms.close());
  const dataDir = t.testdir();
  seedDrivers(dataDir);
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, dataDir });
  const station = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CP-CPMS' });
  t.teardown(() => station.close({ force: true }));
  const answer = (await station.call('Authorize', { idTag: '04A1B2C3' })) as { idTagInfo: { status: string } };
  t.equal(answer.idTagInfo.status, 'Blocked', 'the CPMS decided');
  t.equal(seen, 1);
});

t.test('a driver list imported by the CLI while the daemon runs is used at once, without a restart', async (t) => {
  const cpms = await startCpms({ protocols: ['ocpp1.6'] });
  t.teardown(() => cpms.close());
  const dataDir = t.testdir();
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, dataDir, authorizationMode: 'local' });
  const station = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CP-LIVE' });
  t.teardown(() => station.close({ force: true }));
  const status = async (badge: string): Promise<string> => ((await station.call('Authorize', { idTag: badge })) as { idTagInfo: { status: string } }).idTagInfo.status;
  t.equal(await status('CAFE0001'), 'Invalid', 'not on the (empty) list yet');

  const configPath = join(dataDir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ dataDir, upstream: { url: cpms.url } }));
  const csvPath = join(dataDir, 'drivers.csv');
  writeFileSync(csvPath, '\uFEFFEmail;Badge ID(s)\r\nbo@example.com;"CAFE0001, CAFE0002"\r\n');
  const imported = await runCli(['drivers', 'import', csvPath, '--config', configPath]);
  t.equal(imported.code, 0, imported.stderr);

  t.equal(await status('cafe0001'), 'Accepted', 'the running gateway sees the new list');
  const lookup = await runCli(['drivers', 'lookup', ' cafe0002 ', '--config', configPath]);
  t.match(lookup.stdout, /bo@example\.com/);
});

t.test('local mode, a driver list that cannot be read: Authorize goes to the CPMS, counted, logged at most once a minute', async (t) => {
  let atCpms = 0;
  const cpms = await startCpms({
    protocols: ['ocpp1.6'],
    onClient: (client) =>
      client.handle('Authorize', () => {
        atCpms += 1;
        return { idTagInfo: { status: 'Blocked' } };
      }),
  });
  t.teardown(() => cpms.close());
  const dataDir = t.testdir();
  seedDrivers(dataDir);
  const logs: string[] = [];
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, dataDir, authorizationMode: 'local', logger: createLogger('info', { write: (line: string) => void logs.push(line) }) });
  const station = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CP-BROKEN' });
  t.teardown(() => station.close({ force: true }));
  const status = async (badge: string): Promise<string> => ((await station.call('Authorize', { idTag: badge })) as { idTagInfo: { status: string } }).idTagInfo.status;
  t.equal(await status('04A1B2C3'), 'Accepted', 'answered locally while the list can be read');

  // Another process breaks the list (a failed migration, a hand edit): every lookup now fails.
  const other = openStore(dataDir);
  other.exec('DROP TABLE badges');
  other.close();
  for (let i = 0; i < 3; i++) t.equal(await status('04A1B2C3'), 'Blocked', 'the CPMS answers instead');
  t.equal(atCpms, 3);
  t.equal(gateway.status().counters.driverLookupFailures, 3, 'counted in status');
  const failures = logs.filter((line) => line.includes('the driver list cannot be read'));
  t.equal(failures.length, 1, 'one log line, not one per frame');
  t.match(JSON.parse(failures[0] ?? '{}'), { level: 'error', stationId: 'CP-BROKEN', err: { message: /no such table: badges/ } });
  t.notOk(logs.some((line) => line.includes('local answerer failed')), 'handled by the authorizer, not by the relay fallback');
});
