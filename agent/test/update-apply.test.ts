/**
 * A whole update on a gateway installed as on the appliance (temp folders,
 * real processes): the daemon runs release A from `current` with a station
 * connected and a cloud link to a real mosquitto; `pleevi-edge update apply`
 * (from the installed release) checks bundle B and leaves the request; the
 * real update helper runs as a process, stops the daemon, backs up the
 * database, switches `current`, starts the daemon on B and keeps it once B
 * answers /v1/status; the daemon publishes `update-applied`. Then a release
 * that never becomes ready: rolled back to A within the limit, the database
 * restored, `update-rolled-back` published.
 */
import { connectAsync } from 'mqtt';
import t, { type Test } from 'tap';
import { existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildReleaseBundle, makeSigningKeys, type ReleaseBundle, type SigningKeys } from './helpers/release-bundle.js';
import { MOSQUITTO_MISSING, startMosquitto, type MosquittoBroker } from './helpers/mosquitto.js';
import { connectStation, startCpms, type TestCpms } from './helpers/ocpp-peers.js';
import { makeUpdateSite, type UpdateSite } from './helpers/update-site.js';
import { waitUntil } from './helpers/wait-until.js';

// Real daemons, helpers and CLIs as processes, one after another: minutes on a busy 2-core machine, not the default 120 s.
t.setTimeout(360_000);

const keys: SigningKeys = makeSigningKeys();
const bundlesDir = t.testdir();
const A = '9.1.0';
const B = '9.2.0';

interface Cloud {
  readonly events: Record<string, unknown>[];
}

async function watchGatewayEvents(t: Test, broker: MosquittoBroker, gatewayId: string): Promise<Cloud> {
  const events: Record<string, unknown>[] = [];
  const client = await connectAsync(broker.url, { protocolVersion: 5, clientId: `cloud-${gatewayId}` });
  client.on('message', (_topic, payload) => events.push(JSON.parse(payload.toString('utf8')) as Record<string, unknown>));
  await client.subscribeAsync(`pleevi/v1/gw/${gatewayId}/events/gateway`, { qos: 1 });
  t.teardown(() => client.endAsync(true));
  return { events };
}

async function heartbeatThrough(site: UpdateSite, port: number, identity: string): Promise<void> {
  const station = await connectStation({ endpoint: `ws://127.0.0.1:${port}/ocpp`, identity });
  try {
    await station.call('BootNotification', { chargePointVendor: 'Pleevi', chargePointModel: 'UpdateBox' });
    await station.call('Heartbeat', {});
  } finally {
    await station.close({ force: true });
  }
  void site;
}

async function startCpmsFor(t: Test): Promise<TestCpms> {
  const cpms = await startCpms({
    onClient: (client) => {
      client.handle('BootNotification', () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 }));
      client.handle('Heartbeat', () => ({ currentTime: new Date().toISOString() }));
    },
  });
  t.teardown(() => cpms.close());
  return cpms;
}

let bundleA: ReleaseBundle;
let bundleB: ReleaseBundle;

t.before(() => {
  bundleA = buildReleaseBundle({ version: A, outDir: bundlesDir, keys });
  bundleB = buildReleaseBundle({ version: B, outDir: bundlesDir, keys });
});

t.test('a good update: from A to B, the daemon comes back on B, stations are served, update-applied reaches the cloud', { skip: MOSQUITTO_MISSING }, async (t) => {
  const broker = await startMosquitto(t);
  const cpms = await startCpmsFor(t);
  const cloud = await watchGatewayEvents(t, broker, 'gw-upd-good');
  const site = await makeUpdateSite(t, { installed: bundleA, publicKeyPem: keys.publicKeyPem, upstreamUrl: cpms.url, mqttUrl: broker.url, gatewayId: 'gw-upd-good' });
  site.start();
  const before = await site.waitForVersion(A);
  await heartbeatThrough(site, before.listen.port, 'CP-UPD-1');

  const apply = await site.cli(['update', 'apply', bundleB.file]);
  t.equal(apply.code, 0, `update apply exits 0: ${apply.stderr}`);
  t.match(apply.stdout, new RegExp(`update to ${B} requested .*from ${A}`));
  t.match(apply.stdout, /no update helper is installed here.*update-helper-main\.js --config/, 'without the systemd units it says what to run');
  const request = JSON.parse(readFileSync(join(site.updatesDir, 'request.json'), 'utf8')) as Record<string, unknown>;
  t.match(request, { version: B, bundle: `pleevi-edge-${B}.tar.gz`, sig: `pleevi-edge-${B}.tar.gz.sig`, sha256: bundleB.sha256 });
  t.ok(existsSync(join(site.updatesDir, `pleevi-edge-${B}.tar.gz`)), 'the verified bundle was copied into the updates folder');

  const helper = await site.helper();
  t.equal(helper.code, 0, `the helper exits 0: ${helper.stderr}`);
  t.equal(readlinkSync(join(site.installDir, 'current')), `releases/${B}`, 'current points to B');
  const outcome = JSON.parse(readFileSync(join(site.updatesDir, 'outcome.json'), 'utf8')) as Record<string, unknown>;
  t.match(outcome, { id: request.id, commandId: null, from: A, to: B, result: 'applied', reason: null });
  t.notOk(existsSync(join(site.updatesDir, 'request.json')) || existsSync(join(site.updatesDir, 'in-progress.json')), 'the request is gone');
  t.notOk(existsSync(join(site.updatesDir, `pleevi-edge-${B}.tar.gz`)), 'the bundle copy is removed');
  t.notOk(existsSync(join(site.installDir, 'update-state.json')), 'the journal is cleared');

  const after = await site.waitForVersion(B);
  await heartbeatThrough(site, after.listen.port, 'CP-UPD-1');
  t.pass('the station is served by B');
  await waitUntil(() => cloud.events.some((event) => event.event === 'update-applied'), 'update-applied reaches the broker', 15_000);
  t.match(cloud.events.find((event) => event.event === 'update-applied'), { event: 'update-applied', gatewayId: 'gw-upd-good', updateId: request.id, commandId: null, fromVersion: A, toVersion: B, reason: null });
  await waitUntil(() => (JSON.parse(readFileSync(join(site.updatesDir, 'outcome.json'), 'utf8')) as { reportedAt?: string }).reportedAt !== undefined, 'the outcome is marked reported');

  const status = await site.cli(['update', 'status', '--json', '--install-dir', site.installDir]);
  t.equal(status.code, 0);
  t.match(JSON.parse(status.stdout), { version: B, current: B, releases: [A, B], inProgress: null, lastOutcome: { result: 'applied', from: A, to: B } });
  site.stop();
  t.match(site.log(), /"msg":"update outcome reported"/);
});

t.test('a release that never becomes ready: rolled back within the limit, the database restored, A serves stations again', { skip: MOSQUITTO_MISSING }, async (t) => {
  // Its entry point damages the database the way a bad migration would, then hangs without ever answering.
  const broken = buildReleaseBundle({
    version: '9.3.0-broken',
    outDir: bundlesDir,
    keys,
    entryPoint: `#!/usr/bin/env node
import { writeFileSync } from 'node:fs';
const config = process.argv[process.argv.indexOf('--config') + 1];
const { dataDir } = JSON.parse((await import('node:fs')).readFileSync(config, 'utf8'));
writeFileSync(dataDir + '/pleevi-edge.db', 'not a database any more');
setInterval(() => {}, 1000);
`,
  });
  const broker = await startMosquitto(t);
  const cpms = await startCpmsFor(t);
  const cloud = await watchGatewayEvents(t, broker, 'gw-upd-bad');
  const readyTimeoutS = 6;
  const site = await makeUpdateSite(t, { installed: bundleA, publicKeyPem: keys.publicKeyPem, upstreamUrl: cpms.url, mqttUrl: broker.url, gatewayId: 'gw-upd-bad', readyTimeoutS });
  site.start();
  const before = await site.waitForVersion(A);
  await heartbeatThrough(site, before.listen.port, 'CP-UPD-2');
  // The station's boot is in the database: it must still be there after the rollback.
  const stationsBefore = await site.cli(['stations', '--json']);
  t.match(stationsBefore.stdout, /CP-UPD-2/);

  const apply = await site.cli(['update', 'apply', broken.file]);
  t.equal(apply.code, 0, apply.stderr);
  const started = Date.now();
  const helper = await site.helper();
  const tookS = (Date.now() - started) / 1000;
  t.equal(helper.code, 0, helper.stderr);
  t.ok(tookS < readyTimeoutS + 20, `rolled back within the limit plus the stop and start (${tookS.toFixed(1)} s)`);
  t.equal(readlinkSync(join(site.installDir, 'current')), `releases/${A}`, 'current points to A again');
  t.notOk(existsSync(join(site.installDir, 'releases', '9.3.0-broken')), 'the broken release is removed');
  const outcome = JSON.parse(readFileSync(join(site.updatesDir, 'outcome.json'), 'utf8')) as Record<string, unknown>;
  t.match(outcome, { from: A, to: '9.3.0-broken', result: 'rolled-back', reason: new RegExp(`did not report ready within ${readyTimeoutS} s`) });

  const after = await site.waitForVersion(A);
  const stationsAfter = await site.cli(['stations', '--json']);
  t.equal(stationsAfter.code, 0, `the restored database opens: ${stationsAfter.stderr}`);
  t.match(stationsAfter.stdout, /CP-UPD-2/, 'the database was restored from the backup');
  await heartbeatThrough(site, after.listen.port, 'CP-UPD-2');
  t.pass('A serves the station again');
  await waitUntil(() => cloud.events.some((event) => event.event === 'update-rolled-back'), 'update-rolled-back reaches the broker', 15_000);
  t.match(cloud.events.find((event) => event.event === 'update-rolled-back'), { fromVersion: A, toVersion: '9.3.0-broken', reason: /did not report ready/ });
  t.match(site.log(), /the gateway did not stop cleanly: event seq continues above its durable reservation/, 'after the restore, A hands out seqs above its reservation: none the new release may have used');
  site.stop();
  writeFileSync(join(site.dir, 'done'), '');
});
