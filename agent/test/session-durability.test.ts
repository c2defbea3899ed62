/**
 * The promises of docs/sessions.md "What is written when" and docs/cloud.md
 * "What a crash can send again", with real parts only: the daemon
 * (`pleevi-edge run`, spawned, default 5 min session flush) SIGKILLed right
 * after a session's start or end, a real mosquitto as the cloud broker, a
 * CPMS and stations from ocpp-rpc; and the in-memory path of the session
 * flush on a Gateway in this process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connectAsync, type MqttClient } from 'mqtt';
import t, { type Test } from 'tap';
import type { GatewayEvent } from '../src/events/gateway-events.js';
import { DATABASE_FILE } from '../src/store/gateway-store.js';
import { MOSQUITTO_MISSING, startMosquitto, type MosquittoBroker } from './helpers/mosquitto.js';
import { BOOT_1_6, BOOT_2_0_1, connectStation, startCpms, type RpcPeer, type TestCpms } from './helpers/ocpp-peers.js';
import { CLI, ROOT, runCli } from './helpers/run-cli.js';
import { startTestGateway, stationEndpoint } from './helpers/test-gateway.js';
import { waitUntil } from './helpers/wait-until.js';

t.setTimeout(300_000);

const GATEWAY_ID = 'gw-kill';
const P = `pleevi/v1/gw/${GATEWAY_ID}`;

interface Received {
  readonly topic: string;
  readonly payload: Record<string, unknown>;
}

interface Rig {
  readonly broker: MosquittoBroker;
  readonly cpms: TestCpms;
  readonly configPath: string;
  readonly dataDir: string;
  /** Everything the cloud's subscriber received, duplicates included. */
  readonly received: Received[];
  sessionEvents(transactionId: string): Received[];
}

/** A CPMS speaking 1.6 and 2.0.1 that accepts everything; 1.6 transaction ids from 700. */
async function startAcceptingCpms(t: Test): Promise<TestCpms> {
  let nextTransaction = 700;
  const cpms = await startCpms({
    onClient: (client: RpcPeer) => {
      const now = (): string => new Date().toISOString();
      client.handle('BootNotification', () => ({ status: 'Accepted', currentTime: now(), interval: 300 }));
      client.handle('StatusNotification', () => ({}));
      client.handle('MeterValues', () => ({}));
      client.handle('StartTransaction', () => ({ transactionId: nextTransaction++, idTagInfo: { status: 'Accepted' } }));
      client.handle('StopTransaction', () => ({}));
      client.handle('TransactionEvent', () => ({}));
    },
  });
  t.teardown(() => cpms.close());
  return cpms;
}

/** mosquitto (plain, loopback), a CPMS, the daemon's config with its data on disk, and the cloud subscribed to `P/#` with a persistent session. */
async function startRig(t: Test): Promise<Rig> {
  const broker = await startMosquitto(t);
  const cpms = await startAcceptingCpms(t);
  // A short folder: the admin socket path must fit in 107 bytes.
  const dir = mkdtempSync(join(tmpdir(), 'pe-kill-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'data');
  const configPath = join(dir, 'config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      gatewayId: GATEWAY_ID,
      dataDir,
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { url: cpms.url },
      mqtt: { url: broker.url },
      admin: { socket: join(dir, 'admin.sock') },
    }),
  );
  const received: Received[] = [];
  const cloud: MqttClient = await connectAsync(broker.url, { protocolVersion: 5, clientId: 'cloud', clean: false, properties: { sessionExpiryInterval: 600 }, reconnectPeriod: 200 });
  // The broker is stopped on purpose: the client reconnects on its own.
  cloud.on('error', () => undefined);
  t.teardown(() => cloud.endAsync(true));
  cloud.on('message', (topic, payload) => received.push({ topic, payload: JSON.parse(payload.toString()) as Record<string, unknown> }));
  await cloud.subscribeAsync(`${P}/#`, { qos: 1 });
  return {
    broker,
    cpms,
    configPath,
    dataDir,
    received,
    sessionEvents: (transactionId) => received.filter((m) => m.topic === `${P}/events/session` && m.payload.transactionId === transactionId),
  };
}

interface Daemon {
  readonly process: ChildProcess;
  /** `ws://127.0.0.1:<port>/ocpp` */
  readonly endpoint: string;
  log(): string;
  /** SIGKILL: nothing runs after it, no flush, no clean-stop mark. */
  kill(): Promise<void>;
  /** SIGTERM: a clean stop; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** `pleevi-edge run` with its default session flush (5 min); resolves once it relays. */
async function startDaemon(t: Test, rig: Rig): Promise<Daemon> {
  const child = spawn(process.execPath, [CLI, 'run', '--config', rig.configPath], { cwd: ROOT });
  let log = '';
  child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  t.teardown(() => {
    if (exitCode === undefined) child.kill('SIGKILL');
  });
  await waitUntil(() => /"msg":"gateway started"/.test(log) || exitCode !== undefined, 'the daemon relays', 20_000);
  const port = /"port":(\d+)[^\n]*"msg":"gateway started"/.exec(log)?.[1];
  if (port === undefined) throw new Error(`the daemon did not start:\n${log}`);
  return {
    process: child,
    endpoint: `ws://127.0.0.1:${port}/ocpp`,
    log: () => log,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

interface SessionJson {
  readonly stationId: string;
  readonly transactionId: string;
  readonly state: 'active' | 'ended';
  readonly meterStartWh: number | null;
  readonly meterStopWh: number | null;
  readonly lastMeterWh: number | null;
  readonly energyWh: number | null;
}

/** `pleevi-edge sessions --json`: what the file holds. */
async function sessionsOnDisk(t: Test, rig: Rig, transactionId: string): Promise<SessionJson | undefined> {
  const run = await runCli(['sessions', '--json', '--config', rig.configPath]);
  t.equal(run.code, 0, 'pleevi-edge sessions exits 0');
  return (JSON.parse(run.stdout) as SessionJson[]).find((session) => session.transactionId === transactionId);
}

/** The session events of a transaction waiting in the outbox table (the daemon is not running). */
function outboxSessionEvents(rig: Rig, transactionId: string): Array<Record<string, unknown>> {
  const db = new Database(join(rig.dataDir, DATABASE_FILE), { readonly: true });
  try {
    // An updated event of the flush is a reference to its session (migration 008): its transaction id is the session's.
    return db
      .prepare<[], { payload: string; transaction_id: string | null; energy_wh: number | null }>(
        "SELECT o.payload, s.transaction_id, o.energy_wh FROM outbox o LEFT JOIN sessions s ON s.session_id = o.session_id WHERE o.topic = 'session' ORDER BY o.seq",
      )
      .all()
      .map((row) => (row.payload === '' ? { event: 'updated', transactionId: row.transaction_id, energyWh: row.energy_wh } : (JSON.parse(row.payload) as Record<string, unknown>)))
      .filter((payload) => payload.transactionId === transactionId);
  } finally {
    db.close();
  }
}

function energy(timestamp: string, kWh: number, context = 'Sample.Periodic'): Record<string, unknown> {
  return { timestamp, sampledValue: [{ value: String(kWh), measurand: 'Energy.Active.Import.Register', unit: 'kWh', context }] };
}

async function connect16(t: Test, endpoint: string, identity: string): Promise<RpcPeer> {
  const station = await connectStation({ endpoint, identity });
  t.teardown(() => station.close({ force: true }));
  return station;
}


/** A 1.6 station that booted and started a transaction at 10:00 with `idTag`; its transaction id as the CPMS gave it. */
async function bootAndStart16(t: Test, endpoint: string, identity: string, idTag: string, meterStart: number): Promise<{ station: RpcPeer; transactionId: number; tx: string }> {
  const station = await connect16(t, endpoint, identity);
  await station.call('BootNotification', BOOT_1_6);
  const answer = (await station.call('StartTransaction', { connectorId: 1, idTag, meterStart, timestamp: '2025-06-01T10:00:00Z' })) as { transactionId: number };
  return { station, transactionId: answer.transactionId, tx: String(answer.transactionId) };
}

t.test('1.6: SIGKILL right after a StartTransaction answer: the session and its started event survive and reach the cloud', { skip: MOSQUITTO_MISSING }, async (t) => {
  const rig = await startRig(t);
  const first = await startDaemon(t, rig);
  const station = await connect16(t, first.endpoint, 'CP-K1');
  await station.call('BootNotification', BOOT_1_6);
  // The cloud is away: the started event can only reach it from the outbox, after the restart.
  await rig.broker.stop();
  const answer = (await station.call('StartTransaction', { connectorId: 1, idTag: 'BADGE-K1', meterStart: 1000, timestamp: '2025-06-01T10:00:00Z' })) as { transactionId: number };
  await first.kill();
  const tx = String(answer.transactionId);

  t.match(await sessionsOnDisk(t, rig, tx), { stationId: 'CP-K1', state: 'active', meterStartWh: 1000, meterStopWh: null }, 'the session is on disk');
  t.match(outboxSessionEvents(rig, tx), [{ event: 'started', meterStartWh: 1000 }], 'its started event waits in the outbox');

  const second = await startDaemon(t, rig);
  await rig.broker.start();
  await waitUntil(() => rig.sessionEvents(tx).some((m) => m.payload.event === 'started'), 'the started event reaches the cloud', 20_000);
  t.match(rig.sessionEvents(tx)[0]?.payload, { event: 'started', stationId: 'CP-K1', idTag: 'BADGE-K1', meterStartWh: 1000 });
  t.match(second.log(), /the gateway did not stop cleanly/, 'the restart knows the stop was not clean');
  t.equal(await second.stop(), 0, 'SIGTERM: clean exit');
});

t.test('1.6: SIGKILL right after a StopTransaction answer: the session is ended with its meterStop and the ended event is delivered', { skip: MOSQUITTO_MISSING }, async (t) => {
  const rig = await startRig(t);
  const first = await startDaemon(t, rig);
  const { station, transactionId, tx } = await bootAndStart16(t, first.endpoint, 'CP-K2', 'BADGE-K2', 1000);
  await waitUntil(() => rig.sessionEvents(tx).some((m) => m.payload.event === 'started'), 'the started event reaches the cloud', 20_000);
  await station.call('MeterValues', { connectorId: 1, transactionId, meterValue: [energy('2025-06-01T10:30:00Z', 2.5)] });
  await rig.broker.stop();
  await station.call('StopTransaction', { transactionId, meterStop: 4000, timestamp: '2025-06-01T11:00:00Z', reason: 'EVDisconnected' });
  await first.kill();

  t.match(await sessionsOnDisk(t, rig, tx), { state: 'ended', meterStartWh: 1000, meterStopWh: 4000, energyWh: 3000 }, 'the session is ended on disk');
  // The started event was acknowledged, but its row goes only with the next flush (5 min): after a SIGKILL it is sent again.
  t.same(outboxSessionEvents(rig, tx).map((event) => event.event), ['started', 'ended'], 'the ended event waits in the outbox, behind the acknowledged started row');

  const second = await startDaemon(t, rig);
  await rig.broker.start();
  await waitUntil(() => rig.sessionEvents(tx).some((m) => m.payload.event === 'ended'), 'the ended event reaches the cloud', 20_000);
  t.match(
    rig.sessionEvents(tx).find((m) => m.payload.event === 'ended')?.payload,
    { stationId: 'CP-K2', meterStartWh: 1000, meterStopWh: 4000, energyWh: 3000, stopReason: 'EVDisconnected' },
  );
  t.equal(await second.stop(), 0);
});

t.test(
  '1.6: meter readings of the last flush interval are lost to a SIGKILL, bounded; the next reading and the stop bring them back; SIGTERM flushes',
  { skip: MOSQUITTO_MISSING },
  async (t) => {
    const rig = await startRig(t);
    const first = await startDaemon(t, rig);
    const started = await bootAndStart16(t, first.endpoint, 'CP-K3', 'BADGE-K3', 0);
    let station = started.station;
    const { transactionId, tx } = started;
    await station.call('MeterValues', { connectorId: 1, transactionId, meterValue: [energy('2025-06-01T10:10:00Z', 2)] });
    // Well inside the 5 min flush: the reading waits in memory.
    await first.kill();

    // What is seen: the session as its start wrote it; the 2 kWh reading is gone with the process, no updated event was made.
    t.match(await sessionsOnDisk(t, rig, tx), { state: 'active', meterStartWh: 0, lastMeterWh: 0, energyWh: 0 }, 'the unflushed reading is lost: reading and energy as last written (the start)');
    t.same(outboxSessionEvents(rig, tx).map((event) => event.event), ['started'], 'no updated event was stored for the lost reading');

    const second = await startDaemon(t, rig);
    station = await connect16(t, second.endpoint, 'CP-K3');
    await station.call('MeterValues', { connectorId: 1, transactionId, meterValue: [energy('2025-06-01T10:20:00Z', 3)] });
    // A clean stop writes what waits in memory.
    t.equal(await second.stop(), 0, 'SIGTERM: clean exit');
    t.match(await sessionsOnDisk(t, rig, tx), { state: 'active', lastMeterWh: 3000, energyWh: 3000 }, 'the next reading is back, written by the clean stop');
    t.notMatch(second.log(), /"level":50/, 'no error logged by the clean stop');

    const third = await startDaemon(t, rig);
    station = await connect16(t, third.endpoint, 'CP-K3');
    await station.call('StopTransaction', { transactionId, meterStop: 3500, timestamp: '2025-06-01T10:30:00Z' });
    t.match(await sessionsOnDisk(t, rig, tx), { state: 'ended', meterStopWh: 3500, energyWh: 3500 }, 'the stop carries the final reading');
    await waitUntil(() => rig.sessionEvents(tx).some((m) => m.payload.event === 'ended'), 'the ended event reaches the cloud', 20_000);
    const events = rig.sessionEvents(tx);
    const updates = events.filter((m) => m.payload.event === 'updated').map((m) => m.payload.energyWh);
    t.same([...new Set(updates)], [3000], 'one updated event (3 kWh, written by the clean stop); none for the reading lost to the SIGKILL');
    t.match(events.find((m) => m.payload.event === 'ended')?.payload, { meterStartWh: 0, meterStopWh: 3500, energyWh: 3500 });
    t.equal(await third.stop(), 0);
  },
);

t.test(
  'an updated event of the flush waits in the outbox as a reference to its session across a SIGKILL, and reaches the cloud with the readings of that flush',
  { skip: MOSQUITTO_MISSING },
  async (t) => {
    const rig = await startRig(t);
    await rig.broker.stop();
    const first = await startDaemon(t, rig);
    const started = await bootAndStart16(t, first.endpoint, 'CP-K6', 'BADGE-K6', 500);
    let station = started.station;
    const { transactionId, tx } = started;
    await station.call('MeterValues', { connectorId: 1, transactionId, meterValue: [energy('2025-06-01T10:10:00Z', 2)] });
    // A clean stop flushes: the reading and its updated event are written.
    t.equal(await first.stop(), 0);
    const stored = (): Array<Record<string, unknown>> => outboxSessionEvents(rig, tx);
    t.match(stored(), [{ event: 'started' }, { event: 'updated', energyWh: 1500 }], 'the updated event waits in the outbox');
    const db = new Database(join(rig.dataDir, DATABASE_FILE), { readonly: true });
    const row = db.prepare<[], { payload: string; energy_wh: number }>("SELECT payload, energy_wh FROM outbox WHERE topic = 'session' ORDER BY seq DESC LIMIT 1").get();
    db.close();
    t.same(row, { payload: '', energy_wh: 1500 }, 'as a reference: no JSON, the energy of the flush');

    const second = await startDaemon(t, rig);
    station = await connect16(t, second.endpoint, 'CP-K6');
    await station.call('MeterValues', { connectorId: 1, transactionId, meterValue: [energy('2025-06-01T10:20:00Z', 5)] });
    await second.kill();
    t.match(stored(), [{ event: 'started' }, { event: 'updated', energyWh: 1500 }], 'the SIGKILL loses the unflushed reading, not the stored event');

    const third = await startDaemon(t, rig);
    await rig.broker.start();
    await waitUntil(() => rig.sessionEvents(tx).some((m) => m.payload.event === 'updated'), 'the updated event reaches the cloud', 20_000);
    const updated = rig.sessionEvents(tx).find((m) => m.payload.event === 'updated')?.payload ?? {};
    t.same(Object.keys(updated).slice(0, 3), ['seq', 'ts', 'event'], 'seq and ts lead, as for every event');
    t.match(updated, { event: 'updated', stationId: 'CP-K6', ocppVersion: '1.6', connectorId: 1, idTag: 'BADGE-K6', meterStartWh: 500, energyWh: 1500, endedAt: null, meterStopWh: null });
    t.equal(await third.stop(), 0);
  },
);

t.test('2.0.1: SIGKILL right after TransactionEvent Started and again after Ended: both kept and delivered in order', { skip: MOSQUITTO_MISSING }, async (t) => {
  const rig = await startRig(t);
  const tx = 'k5-0000-4000-8000-000000000005';
  const txEvent = (eventType: 'Started' | 'Ended', seqNo: number, timestamp: string, kWh: number, context: string): Record<string, unknown> => ({
    eventType,
    timestamp,
    triggerReason: eventType === 'Started' ? 'CablePluggedIn' : 'EVCommunicationLost',
    seqNo,
    transactionInfo: { transactionId: tx, ...(eventType === 'Ended' ? { stoppedReason: 'EVDisconnected' } : {}) },
    ...(eventType === 'Started' ? { evse: { id: 1, connectorId: 1 } } : {}),
    meterValue: [{ timestamp, sampledValue: [{ value: kWh, measurand: 'Energy.Active.Import.Register', context, unitOfMeasure: { unit: 'kWh' } }] }],
  });
  await rig.broker.stop();

  const first = await startDaemon(t, rig);
  let station = await connectStation({ endpoint: first.endpoint, identity: 'CS-K5', protocols: ['ocpp2.0.1'] });
  t.teardown(() => station.close({ force: true }));
  await station.call('BootNotification', BOOT_2_0_1);
  await station.call('TransactionEvent', txEvent('Started', 0, '2025-06-01T08:00:00Z', 1.2, 'Transaction.Begin'));
  await first.kill();
  t.match(await sessionsOnDisk(t, rig, tx), { stationId: 'CS-K5', state: 'active', meterStartWh: 1200 }, 'the started session is on disk');
  t.match(outboxSessionEvents(rig, tx), [{ event: 'started', evseId: 1, meterStartWh: 1200 }]);

  const second = await startDaemon(t, rig);
  station = await connectStation({ endpoint: second.endpoint, identity: 'CS-K5', protocols: ['ocpp2.0.1'] });
  t.teardown(() => station.close({ force: true }));
  await station.call('TransactionEvent', txEvent('Ended', 1, '2025-06-01T09:00:00Z', 7.5, 'Transaction.End'));
  await second.kill();
  t.match(await sessionsOnDisk(t, rig, tx), { state: 'ended', meterStartWh: 1200, meterStopWh: 7500, energyWh: 6300 }, 'ended across the restart, on disk');
  t.match(outboxSessionEvents(rig, tx), [{ event: 'started' }, { event: 'ended', meterStopWh: 7500, energyWh: 6300 }], 'both events wait in the outbox, in order');

  const third = await startDaemon(t, rig);
  await rig.broker.start();
  await waitUntil(() => rig.sessionEvents(tx).some((m) => m.payload.event === 'ended'), 'the ended event reaches the cloud', 20_000);
  const events = rig.sessionEvents(tx);
  t.same(
    events.map((m) => m.payload.event),
    ['started', 'ended'],
    'started then ended, once each',
  );
  t.match(events[1]?.payload, { stopReason: 'EVDisconnected', meterStopWh: 7500, energyWh: 6300 });
  t.equal(await third.stop(), 0);
});

interface StoredSession {
  readonly last_meter_wh: number | null;
  readonly energy_wh: number | null;
}

t.test('the in-memory path: coalesced updated events per flush, statuses in order, a clean close writes what waits', async (t) => {
  const cpms = await startAcceptingCpms(t);
  const dataDir = t.testdir();
  const committed: GatewayEvent[] = [];
  // A flush interval that never fires here: each flush is the test's call of the same method the timer calls.
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, dataDir, sessionFlushMs: 600_000, events: { committed: (event) => committed.push(event) } });
  const db = new Database(join(dataDir, DATABASE_FILE), { readonly: true });
  t.teardown(() => db.close());
  const stored = (): StoredSession | undefined => db.prepare<[], StoredSession>('SELECT last_meter_wh, energy_wh FROM sessions').get();
  const storedStatus = (): string | undefined => db.prepare<[], { status: string }>('SELECT status FROM connector_status WHERE connector_id = 1').get()?.status;
  const sessionEvents = (): Array<Record<string, unknown>> => committed.filter((e) => e.topic === 'session').map((e) => ({ ...e.payload }));
  const statusEvents = (): string[] => committed.flatMap((e) => (e.topic === 'station' && e.payload.event === 'status' ? [String(e.payload.status)] : []));

  const station = await connect16(t, stationEndpoint(gateway), 'CP-MEM');
  await station.call('BootNotification', BOOT_1_6);
  const status = (value: string, at: string): Promise<unknown> => station.call('StatusNotification', { connectorId: 1, status: value, errorCode: 'NoError', timestamp: at });
  await status('Preparing', '2025-06-01T09:59:00Z');
  t.same(statusEvents(), [], 'a status waits in memory');
  const answer = (await station.call('StartTransaction', { connectorId: 1, idTag: 'BADGE-MEM', meterStart: 0, timestamp: '2025-06-01T10:00:00Z' })) as { transactionId: number };
  const transactionId = answer.transactionId;
  t.same(statusEvents(), ['Preparing'], 'a waiting status is written with the next frame written at once');
  const startedAt = committed.findIndex((e) => e.topic === 'session' && e.payload.event === 'started');
  const preparingAt = committed.findIndex((e) => e.topic === 'station' && e.payload.event === 'status');
  t.ok(preparingAt >= 0 && preparingAt < startedAt, 'and its event keeps its place before the started event');

  await status('Charging', '2025-06-01T10:00:05Z');
  for (const [minute, kWh] of [[10, 1], [20, 2], [30, 3.25]] as const) {
    await station.call('MeterValues', { connectorId: 1, transactionId, meterValue: [energy(`2025-06-01T10:${minute}:00Z`, kWh)] });
  }
  await status('SuspendedEV', '2025-06-01T10:31:00Z');
  t.same(sessionEvents().map((e) => e.event), ['started'], 'no updated event before the flush');
  t.same(statusEvents(), ['Preparing'], 'statuses wait');
  t.same(stored(), { last_meter_wh: 0, energy_wh: 0 }, 'the readings wait in memory (the start wrote meterStart)');
  t.equal(storedStatus(), 'Preparing');
  t.equal(gateway.sessions.waitingInMemory, 3, 'one session and two statuses wait');

  gateway.sessions.flush();
  t.same(statusEvents(), ['Preparing', 'Charging', 'SuspendedEV'], 'the flush writes the statuses, in order');
  t.equal(storedStatus(), 'SuspendedEV', 'the latest status is stored');
  const updates = sessionEvents().filter((e) => e.event === 'updated');
  t.equal(updates.length, 1, 'three readings, one coalesced updated event');
  t.match(updates[0], { energyWh: 3250, transactionId: String(transactionId) }, 'with the latest energy');
  t.same(stored(), { last_meter_wh: 3250, energy_wh: 3250 });
  t.equal(gateway.sessions.waitingInMemory, 0);

  const before = committed.length;
  gateway.sessions.flush();
  t.equal(committed.length, before, 'a flush with nothing waiting writes nothing');
  await station.call('MeterValues', { connectorId: 1, transactionId, meterValue: [energy('2025-06-01T10:35:00Z', 3.25)] });
  gateway.sessions.flush();
  t.equal(sessionEvents().filter((e) => e.event === 'updated').length, 1, 'the same register again: no new updated event');

  await station.call('MeterValues', { connectorId: 1, transactionId, meterValue: [energy('2025-06-01T10:40:00Z', 4.5)] });
  await status('Finishing', '2025-06-01T10:41:00Z');
  await station.close({ force: true });
  await gateway.close();
  const last = sessionEvents().at(-1);
  t.match(last, { event: 'updated', energyWh: 4500 }, 'a clean close flushes the waiting reading, with its event');
  t.equal(statusEvents().at(-1), 'Finishing', 'and the waiting status');
  t.same(stored(), { last_meter_wh: 4500, energy_wh: 4500 }, 'nothing lost on a clean stop');
  t.equal(storedStatus(), 'Finishing');
});

t.test('the flush timer: readings within one interval give one updated event with the latest energy', async (t) => {
  const cpms = await startAcceptingCpms(t);
  const committed: GatewayEvent[] = [];
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, sessionFlushMs: 300, events: { committed: (event) => committed.push(event) } });
  const station = await connect16(t, stationEndpoint(gateway), 'CP-TIMER');
  const answer = (await station.call('StartTransaction', { connectorId: 1, idTag: 'BADGE-T', meterStart: 0, timestamp: '2025-06-01T10:00:00Z' })) as { transactionId: number };
  const sent = [1, 2, 3, 4, 5].map((kWh) => kWh * 1000);
  for (const [index, wh] of sent.entries()) {
    await station.call('MeterValues', { connectorId: 1, transactionId: answer.transactionId, meterValue: [energy(`2025-06-01T10:0${index + 1}:00Z`, wh / 1000)] });
  }
  const updates = (): number[] => committed.flatMap((e) => (e.topic === 'session' && e.payload.event === 'updated' ? [Number(e.payload.energyWh)] : []));
  await waitUntil(() => updates().at(-1) === 5000, 'the timer flushes the latest reading', 5_000);
  // How the five readings fall into 300 ms intervals depends on the machine's speed: at most one event per interval, each the latest reading at its flush.
  t.ok(updates().length >= 1 && updates().length <= sent.length, `${updates().length} updated event(s) for ${sent.length} readings`);
  t.same(updates(), [...new Set(updates())].sort((a, b) => a - b), 'each flush adds a newer energy, never a repeat');
  t.ok(updates().every((wh) => sent.includes(wh)), 'each is a reading that was sent');
  await station.close({ force: true });
});

t.test('2.0.1 in memory: an Updated with readings only writes nothing (no transaction for the waiting status); the status is written just before the next event', async (t) => {
  const cpms = await startAcceptingCpms(t);
  const dataDir = t.testdir();
  const committed: GatewayEvent[] = [];
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, dataDir, sessionFlushMs: 600_000, events: { committed: (event) => committed.push(event) } });
  const db = new Database(join(dataDir, DATABASE_FILE), { readonly: true });
  t.teardown(() => db.close());
  const tx = 'mem2-0000-4000-8000-000000000001';
  const station = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CS-MEM2', protocols: ['ocpp2.0.1'] });
  t.teardown(() => station.close({ force: true }));
  await station.call('BootNotification', BOOT_2_0_1);
  const txEvent = (eventType: 'Started' | 'Updated' | 'Ended', seqNo: number, minute: number, kWh: number): Record<string, unknown> => ({
    eventType,
    timestamp: `2025-06-01T10:${String(minute).padStart(2, '0')}:00Z`,
    triggerReason: eventType === 'Updated' ? 'MeterValuePeriodic' : eventType === 'Started' ? 'CablePluggedIn' : 'EVCommunicationLost',
    seqNo,
    transactionInfo: { transactionId: tx, ...(eventType === 'Ended' ? { stoppedReason: 'EVDisconnected' } : {}) },
    ...(eventType === 'Started' ? { evse: { id: 1, connectorId: 1 } } : {}),
    meterValue: [{ timestamp: `2025-06-01T10:${String(minute).padStart(2, '0')}:00Z`, sampledValue: [{ value: kWh, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'kWh' } }] }],
  });
  await station.call('TransactionEvent', txEvent('Started', 0, 0, 0));
  await station.call('StatusNotification', { timestamp: '2025-06-01T10:00:30Z', connectorStatus: 'Occupied', evseId: 1, connectorId: 1 });
  // data_version changes when another connection commits a change to the file.
  const dataVersion = (): number => Number(db.pragma('data_version', { simple: true }));
  const versionBefore = dataVersion();
  for (const [seqNo, kWh] of [[1, 1], [2, 2], [3, 3]] as const) await station.call('TransactionEvent', txEvent('Updated', seqNo, seqNo * 10, kWh));
  const statusEvents = (): string[] => committed.flatMap((e) => (e.topic === 'station' && e.payload.event === 'status' ? [String(e.payload.status)] : []));
  t.same(statusEvents(), [], 'the status still waits: the Updated frames had no event to write it with');
  t.equal(dataVersion(), versionBefore, 'three Updated frames with readings only and their answers committed nothing');
  t.equal(gateway.sessions.waitingInMemory, 2, 'the session readings and the status wait in memory');
  await station.call('TransactionEvent', txEvent('Ended', 4, 40, 4));
  const order = committed.map((e) => String(e.payload.event));
  t.ok(order.indexOf('status') >= 0 && order.indexOf('status') < order.indexOf('ended'), 'the waiting status is written just before the ended event, in its transaction');
  t.match(committed.find((e) => e.payload.event === 'ended')?.payload, { energyWh: 4000 });
});
