/**
 * The whole daemon (`pleevi-edge run`, spawned) with its cloud link to a real
 * mosquitto over mutual TLS: sessions published, a schedule pushed and
 * applied, the broker stopped while sessions run, the daemon SIGKILLed and
 * started again: every event arrives, in seq order, and the schedule is kept.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import t, { type Test } from 'tap';
import { issueClientCert } from './helpers/certs.js';
import { MOSQUITTO_MISSING, startMosquitto, type MosquittoBroker } from './helpers/mosquitto.js';
import { mountSmallDisk } from './helpers/small-disk.js';
import { connectStation, startCpms, type RpcPeer } from './helpers/ocpp-peers.js';
import { CLI, ROOT, runCli } from './helpers/run-cli.js';
import { waitUntil } from './helpers/wait-until.js';
import { SEQ_RESERVATION } from '../src/cloud/durable-outbox.js';

interface Daemon {
  readonly process: ChildProcess;
  log(): string;
  exited: Promise<number | null>;
}

function startDaemon(t: Test, configPath: string): Daemon {
  const child = spawn(process.execPath, [CLI, 'run', '--config', configPath], { cwd: ROOT });
  let log = '';
  child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  return { process: child, log: () => log, exited };
}

interface Received {
  readonly topic: string;
  readonly payload: Record<string, unknown>;
}

interface CloudRig {
  readonly broker: MosquittoBroker;
  /** The cloud's own MQTT client. */
  readonly cloud: MqttClient;
  readonly configPath: string;
  readonly received: Received[];
  readonly P: string;
  on(suffix: string): Received[];
}

/**
 * mosquitto with mutual TLS, a CPMS, the daemon's config (data in `dataDir`,
 * default: a temporary folder) and the cloud: a subscriber with its own
 * certificate on the same broker.
 */
async function startCloudRig(t: Test, options: { dataDir?: string } = {}): Promise<CloudRig> {
  const broker = await startMosquitto(t, { tls: true });
  const tls = broker.tls;
  if (!tls) throw new Error('TLS listener missing');
  const dir = mkdtempSync(join(tmpdir(), 'pe-cloud-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gatewayCert = await issueClientCert(tls.ca, 'gw-e2e');
  writeFileSync(join(dir, 'ca.pem'), tls.ca.cert);
  writeFileSync(join(dir, 'gw.crt'), gatewayCert.cert);
  writeFileSync(join(dir, 'gw.key'), gatewayCert.key, { mode: 0o600 });

  let nextTransaction = 500;
  const cpms = await startCpms({
    protocols: ['ocpp1.6'],
    onClient: (client: RpcPeer) => {
      client.handle('BootNotification', () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 }));
      client.handle('StartTransaction', () => ({ transactionId: nextTransaction++, idTagInfo: { status: 'Accepted' } }));
      client.handle('StopTransaction', () => ({}));
    },
  });
  t.teardown(() => cpms.close());

  const configPath = join(dir, 'config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      gatewayId: 'gw-e2e',
      dataDir: options.dataDir ?? join(dir, 'data'),
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { url: cpms.url },
      mqtt: { url: tls.url, tls: { ca: 'ca.pem', cert: 'gw.crt', key: 'gw.key' } },
      admin: { socket: join(dir, 'admin.sock') },
    }),
  );

  const cloudCert = await issueClientCert(tls.ca, 'cloud');
  const received: Received[] = [];
  const cloud: MqttClient = await connectAsync(tls.url, { ca: tls.ca.cert, cert: cloudCert.cert, key: cloudCert.key, protocolVersion: 5, clientId: 'cloud', clean: false, properties: { sessionExpiryInterval: 600 } });
  t.teardown(() => cloud.endAsync(true));
  cloud.on('message', (topic, payload) => received.push({ topic, payload: JSON.parse(payload.toString()) as Record<string, unknown> }));
  await cloud.subscribeAsync('pleevi/v1/gw/gw-e2e/#', { qos: 1 });
  const P = 'pleevi/v1/gw/gw-e2e';
  return { broker, cloud, configPath, received, P, on: (suffix) => received.filter((message) => message.topic === `${P}/${suffix}`) };
}

/** A started and stopped charging session on `station`. */
async function chargingSession(station: RpcPeer, badge: string): Promise<void> {
  const started = (await station.call('StartTransaction', { connectorId: 1, idTag: badge, meterStart: 0, timestamp: new Date().toISOString() })) as { transactionId: number };
  await station.call('StopTransaction', { transactionId: started.transactionId, meterStop: 1500, timestamp: new Date().toISOString() });
}

/** Event seqs as the cloud saw them: strictly one after the other (QoS 1 duplicates ignored). */
/** Seqs in order without gaps, but for `uncleanStops` jumps past the durable seq reservation (one per daemon that did not stop cleanly). */
function checkSeqs(t: Test, rig: CloudRig, uncleanStops = 0): void {
  const seqs = [...new Set(rig.received.filter((m) => m.topic.startsWith(`${rig.P}/events/`)).map((m) => Number(m.payload.seq)))];
  t.same(seqs, [...seqs].sort((a, b) => a - b), 'events arrive in seq order (duplicates from QoS 1 ignored by seq)');
  const gaps = seqs.slice(1).filter((seq, i) => seq !== (seqs[i] ?? 0) + 1);
  t.equal(gaps.length, uncleanStops, `no gap in seq but ${uncleanStops} after an unclean stop (${gaps.join(', ')})`);
  for (const [i, seq] of seqs.entries()) {
    if (i > 0 && seq !== (seqs[i - 1] ?? 0) + 1) t.ok(seq - (seqs[i - 1] ?? 0) <= SEQ_RESERVATION + 1, `the jump before seq ${seq} stays within one reservation`);
  }
}

t.test('sessions and schedules over MQTT survive a broker outage and a SIGKILL', { skip: MOSQUITTO_MISSING }, async (t) => {
  const rig = await startCloudRig(t);
  const { broker, cloud, configPath, on } = rig;

  let daemon = startDaemon(t, configPath);
  await waitUntil(() => on('status').some((m) => m.payload.online === true), 'the gateway announces itself online', 15_000);
  const status = JSON.parse((await runCli(['status', '--json', '--config', configPath])).stdout) as { listen: { port: number } };

  const station = await connectStation({ endpoint: `ws://127.0.0.1:${status.listen.port}/ocpp`, identity: 'CP-E2E' });
  const setProfiles: unknown[] = [];
  station.handle('SetChargingProfile', ({ params }) => {
    setProfiles.push(params);
    return { status: 'Accepted' };
  });
  await station.call('BootNotification', { chargePointVendor: 'Pleevi', chargePointModel: 'E2E' });
  const session = (badge: string): Promise<void> => chargingSession(station, badge);
  await session('BADGE-A');
  await waitUntil(() => on('events/session').some((m) => m.payload.event === 'ended'), 'the first session is published', 15_000);

  await cloud.publishAsync(
    `${rig.P}/cmd/set-schedule`,
    JSON.stringify({ id: 'cmd-1', scheduleId: 'sched-1', stationId: 'CP-E2E', connectorId: 0, purpose: 'default', unit: 'A', periods: [{ startOffsetS: 0, limit: 16 }] }),
    { qos: 1 },
  );
  await waitUntil(() => on('ack').some((m) => m.payload.id === 'cmd-1'), 'the schedule command is acknowledged', 15_000);
  t.match(on('ack').find((m) => m.payload.id === 'cmd-1')?.payload, { ok: true, command: 'set-schedule', result: { state: 'applied', status: 'Accepted' } });
  t.equal(setProfiles.length, 1, 'the station received SetChargingProfile');

  // The broker goes away while charging goes on: the events wait in the outbox.
  await broker.stop();
  await session('BADGE-B');
  await session('BADGE-C');
  // A power cut: the daemon dies without a chance to flush anything.
  daemon.process.kill('SIGKILL');
  await daemon.exited;
  await station.close({ force: true });

  await broker.start();
  daemon = startDaemon(t, configPath);
  await waitUntil(() => on('events/session').filter((m) => m.payload.event === 'ended').length >= 3, 'the queued sessions arrive after the restart', 20_000);

  checkSeqs(t, rig);
  const badges = on('events/session').filter((m) => m.payload.event === 'ended').map((m) => m.payload.idTag);
  t.same([...new Set(badges)], ['BADGE-A', 'BADGE-B', 'BADGE-C'], 'every session, in order');

  const schedules = await runCli(['schedules', '--json', '--config', configPath]);
  t.match(schedules.stdout, /sched-1/, 'the schedule survived the SIGKILL');

  daemon.process.kill('SIGTERM');
  t.equal(await daemon.exited, 0);
  await waitUntil(() => on('status').at(-1)?.payload.online === false, 'a clean stop says offline');
});

t.test('a full disk under the daemon: stations are served, and every event reaches the cloud once space is back', { skip: MOSQUITTO_MISSING }, async (t) => {
  const disk = mountSmallDisk(t, 8 * 1024 * 1024);
  if (!disk) {
    t.plan(0, 'mounting a tmpfs needs root');
    return;
  }
  const rig = await startCloudRig(t, { dataDir: disk.path });
  const { configPath, on } = rig;
  const daemon = startDaemon(t, configPath);
  await waitUntil(() => on('status').some((m) => m.payload.online === true), 'the gateway announces itself online', 15_000);
  const status = JSON.parse((await runCli(['status', '--json', '--config', configPath])).stdout) as { listen: { port: number } };
  const station = await connectStation({ endpoint: `ws://127.0.0.1:${status.listen.port}/ocpp`, identity: 'CP-DISK' });
  t.teardown(() => station.close({ force: true }));
  await station.call('BootNotification', { chargePointVendor: 'Pleevi', chargePointModel: 'E2E' });
  await chargingSession(station, 'BADGE-1');
  await waitUntil(() => on('events/session').some((m) => m.payload.event === 'ended'), 'the first session is published', 15_000);

  disk.fill();
  await chargingSession(station, 'BADGE-2');
  await chargingSession(station, 'BADGE-3');
  const full = await runCli(['status', '--config', configPath]);
  t.match(full.stdout, /storage +UNAVAILABLE \(disk full, I\/O errors or locked\): the session bookkeeping of \d+ frames waits in memory/, 'status tells the technician');
  t.match(daemon.log(), /storage cannot take writes \(disk full\?\)/, 'the daemon logged the full disk');
  t.equal(on('events/session').filter((m) => m.payload.event === 'ended').length, 1, 'nothing is published that was not stored');

  disk.free();
  await waitUntil(() => on('events/session').filter((m) => m.payload.event === 'ended').length >= 3, 'the waiting sessions reach the cloud', 20_000);
  const badges = on('events/session').filter((m) => m.payload.event === 'ended').map((m) => m.payload.idTag);
  t.same([...new Set(badges)], ['BADGE-1', 'BADGE-2', 'BADGE-3'], 'every session, in order');
  checkSeqs(t, rig);
  t.match((await runCli(['status', '--config', configPath])).stdout, /storage +ok/, 'status is back to ok');

  daemon.process.kill('SIGTERM');
  t.equal(await daemon.exited, 0);
});
