/**
 * A full disk under the gateway's database: a real tmpfs filled to ENOSPC
 * (SQLite reports SQLITE_FULL). The relay must keep serving, the session
 * bookkeeping must wait in order and be written, with its events, once space
 * is back. Needs root to mount the tmpfs (CI runs as root).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { parseDriverCsvText } from '../src/drivers/driver-csv.js';
import { importDrivers } from '../src/drivers/driver-list-store.js';
import type { Gateway } from '../src/gateway.js';
import { scheduleCommandHandlers } from '../src/schedules/schedule-commands.js';
import { openStore } from '../src/store/gateway-store.js';
import { RecentEvents } from '../src/sessions/recent-events.js';
import { SessionRecords } from '../src/sessions/session-records.js';
import { StationDetails } from '../src/sessions/station-details.js';
import { createLogger } from '../src/util/logger.js';
import { MemoryDrivers } from './helpers/memory-drivers.js';
import { BOOT_1_6, connectStation, startCpms, type RpcPeer } from './helpers/ocpp-peers.js';
import { mountSmallDisk, type SmallDisk } from './helpers/small-disk.js';
import { CLI, ROOT, runCli } from './helpers/run-cli.js';
import { startTestGateway, stationEndpoint } from './helpers/test-gateway.js';
import { waitUntil } from './helpers/wait-until.js';

const DISK_BYTES = 8 * 1024 * 1024;

interface Rig {
  readonly disk: SmallDisk;
  readonly gateway: Gateway;
  readonly events: RecentEvents;
  readonly logs: string[];
}

async function startRig(t: Test, options: { maxDeferredFrames?: number } = {}): Promise<Rig | undefined> {
  const disk = mountSmallDisk(t, DISK_BYTES);
  if (!disk) return undefined;
  let nextTransactionId = 100;
  const cpms = await startCpms({
    onClient: (client: RpcPeer) => {
      client.handle('BootNotification', () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 }));
      client.handle('Heartbeat', () => ({ currentTime: new Date().toISOString() }));
      client.handle('Authorize', () => ({ idTagInfo: { status: 'Accepted' } }));
      client.handle('StartTransaction', () => ({ transactionId: nextTransactionId++, idTagInfo: { status: 'Accepted' } }));
      client.handle('MeterValues', () => ({}));
      client.handle('StopTransaction', () => ({}));
    },
  });
  t.teardown(() => cpms.close());
  const logs: string[] = [];
  const logger = createLogger('debug', { write: (line: string) => void logs.push(line) });
  const events = new RecentEvents();
  const gateway = await startTestGateway(t, {
    upstreamUrl: cpms.url,
    dataDir: disk.path,
    drivers: new MemoryDrivers().add('alice@example.com', '04A2B3C4'),
    events,
    logger,
    storageRetryMs: 50,
    ...(options.maxDeferredFrames !== undefined ? { maxDeferredFrames: options.maxDeferredFrames } : {}),
  });
  return { disk, gateway, events, logs };
}

async function station(t: Test, rig: Rig, identity: string): Promise<RpcPeer> {
  const peer = await connectStation({ endpoint: stationEndpoint(rig.gateway), identity });
  t.teardown(() => peer.close({ force: true }));
  await peer.call('BootNotification', BOOT_1_6);
  return peer;
}

async function chargingSession(peer: RpcPeer, transactionId: number, start: string, stop: string): Promise<void> {
  await peer.call('Authorize', { idTag: '04A2B3C4' });
  const started = (await peer.call('StartTransaction', { connectorId: 1, idTag: '04A2B3C4', meterStart: 1000, timestamp: start })) as { transactionId: number };
  if (started.transactionId !== transactionId) throw new Error(`expected transaction ${transactionId}, got ${started.transactionId}`);
  await peer.call('StopTransaction', { transactionId, meterStop: 4000, timestamp: stop, reason: 'Local' });
}

function logLines(rig: Rig, message: string): Array<Record<string, unknown>> {
  return rig.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.msg === message);
}

const WAITING_MESSAGE = 'storage cannot take writes (disk full?); session bookkeeping waits in memory and is retried; relay continues';

t.test('disk full: the relay keeps serving, the bookkeeping waits in order and is written with its events once space is back', async (t) => {
  const rig = await startRig(t);
  if (!rig) {
    t.plan(0, 'mounting a tmpfs needs root');
    return;
  }
  const first = await station(t, rig, 'CP-FULL-1');
  const second = await station(t, rig, 'CP-FULL-2');

  rig.disk.fill();
  // A station never seen before connects and boots while the disk is full.
  await station(t, rig, 'CP-FULL-NEW');
  await chargingSession(first, 100, '2025-04-01T10:00:00Z', '2025-04-01T11:00:00Z');
  const heartbeat = (await second.call('Heartbeat', {})) as { currentTime?: string };
  t.type(heartbeat.currentTime, 'string', 'another station is still served through the gateway');
  await chargingSession(second, 101, '2025-04-01T10:30:00Z', '2025-04-01T11:30:00Z');

  const waiting = rig.gateway.status();
  t.equal(waiting.storage.state, 'unavailable', 'status says the storage is unavailable');
  t.ok(waiting.storage.waitingFrames >= 4, `the bookkeeping of both sessions waits (${waiting.storage.waitingFrames} frames)`);
  t.same(new SessionRecords(rig.gateway.store).list(), [], 'no session written while the disk is full');
  t.same(rig.events.sessionEvents(), [], 'no session event before its session is stored');
  t.match(waiting.counters, { sessionsStarted: 0, sessionObserverErrors: 0 }, 'counters of rolled-back work are put back');
  t.equal(logLines(rig, WAITING_MESSAGE).length, 1, 'one error when the storage became unavailable, not one per frame');

  rig.disk.free();
  await waitUntil(() => rig.gateway.status().storage.state === 'ok', 'the waiting bookkeeping to be written');

  const sessions = new SessionRecords(rig.gateway.store).list();
  t.match(
    sessions.map((session) => [session.stationId, session.transactionId, session.driverEmail, session.state, session.energyWh]).sort(),
    [
      ['CP-FULL-1', '100', 'alice@example.com', 'ended', 3000],
      ['CP-FULL-2', '101', 'alice@example.com', 'ended', 3000],
    ],
    'both sessions are stored, tied to the driver, ended',
  );
  t.same(
    rig.events.sessionEvents().map((event) => [event.stationId, event.event]),
    [
      ['CP-FULL-1', 'started'],
      ['CP-FULL-1', 'ended'],
      ['CP-FULL-2', 'started'],
      ['CP-FULL-2', 'ended'],
    ],
    'every session event arrives, in the order the frames went by',
  );
  t.match(
    new StationDetails(rig.gateway.store).list().find((detail) => detail.stationId === 'CP-FULL-NEW'),
    { protocol: 'ocpp1.6', vendor: BOOT_1_6.chargePointVendor, model: BOOT_1_6.chargePointModel, connectCount: 1, lastConnectedAt: String, remoteAddress: '127.0.0.1' },
    'the station that first connected during the outage is recorded with its connect and boot details',
  );
  const counters = rig.gateway.status().counters;
  t.match(counters, { sessionsStarted: 2, sessionsEnded: 2, authorizeRequests: 2, sessionObserverErrors: 0, bookkeepingDropped: 0 });
  t.ok((counters.bookkeepingDeferred ?? 0) >= 4, 'the deferred frames are counted');
  t.equal(logLines(rig, 'storage takes writes again: the waiting session bookkeeping is written').length, 1, 'the recovery is logged');

  // Written as it happens again.
  await chargingSession(first, 102, '2025-04-01T12:00:00Z', '2025-04-01T12:30:00Z');
  t.equal(new SessionRecords(rig.gateway.store).list().length, 3, 'a new session is written at once');
  t.equal(rig.gateway.status().storage.waitingFrames, 0);
});

t.test('disk full for too long: past the in-memory bound frames are relayed but not recorded, counted, and the loss at shutdown is logged', async (t) => {
  const rig = await startRig(t, { maxDeferredFrames: 2 });
  if (!rig) {
    t.plan(0, 'mounting a tmpfs needs root');
    return;
  }
  const peer = await station(t, rig, 'CP-FULL-3');

  rig.disk.fill();
  // With 512-byte pages the first commits may still fit in the space the WAL file already holds: sessions until one is refused and the bound is passed.
  for (let transactionId = 100; transactionId < 140 && (rig.gateway.status().counters.bookkeepingDropped ?? 0) === 0; transactionId++) {
    await chargingSession(peer, transactionId, '2025-04-02T10:00:00Z', '2025-04-02T11:00:00Z');
  }
  const status = rig.gateway.status();
  t.equal(status.storage.waitingFrames, 2, 'the bound holds');
  t.ok((status.counters.bookkeepingDropped ?? 0) >= 1, `frames past the bound are counted (${status.counters.bookkeepingDropped})`);
  t.equal(logLines(rig, 'storage unavailable for too long: no room left to keep bookkeeping in memory; this frame is relayed but not recorded').length, 1, 'logged once per minute, not per frame');

  await rig.gateway.close();
  t.match(logLines(rig, 'storage still unavailable at shutdown: the bookkeeping of these frames is lost'), [{ frames: 2 }], 'what is lost at shutdown is said');
});

t.test('the database cannot even be opened at start (disk full): the gateway runs on an in-memory copy and says when it opens again', async (t) => {
  const disk = mountSmallDisk(t, DISK_BYTES);
  if (!disk) {
    t.plan(0, 'mounting a tmpfs needs root');
    return;
  }
  // An earlier run left a driver list and stopped cleanly.
  const earlier = openStore(disk.path);
  importDrivers(earlier, parseDriverCsvText('email;badge\nalice@example.com;04A2B3C4\n').rows, { mode: 'replace', source: 'test' });
  earlier.close();
  disk.fill();

  const cpms = await startCpms({
    onClient: (client: RpcPeer) => {
      client.handle('BootNotification', () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 }));
      client.handle('StartTransaction', () => ({ transactionId: 7, idTagInfo: { status: 'Accepted' } }));
      client.handle('StopTransaction', () => ({}));
    },
  });
  t.teardown(() => cpms.close());
  const logs: string[] = [];
  const gateway = await startTestGateway(t, {
    upstreamUrl: cpms.url,
    dataDir: disk.path,
    authorizationMode: 'local',
    logger: createLogger('debug', { write: (line: string) => void logs.push(line) }),
    storageRetryMs: 50,
  });
  const recovered = new Promise<void>((resolve) => gateway.onStorageRecovered(resolve));
  t.equal(gateway.storageMode, 'memory');
  t.equal(gateway.status().storage.state, 'memory', 'status says the gateway runs on an in-memory copy');
  t.match(logs.join(''), /the database cannot be opened \(disk full\?\): running on an in-memory copy/);

  const peer = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CP-MEM' });
  t.teardown(() => peer.close({ force: true }));
  t.match(await peer.call('BootNotification', BOOT_1_6), { status: 'Accepted' }, 'relayed to the CPMS');
  t.same(await peer.call('Authorize', { idTag: '04a2b3c4' }), { idTagInfo: { status: 'Accepted' } }, 'the copied driver list answers');
  t.same(await peer.call('Authorize', { idTag: 'FFFF0000' }), { idTagInfo: { status: 'Invalid' } });
  await chargingSession(peer, 7, '2025-04-03T10:00:00Z', '2025-04-03T11:00:00Z');
  t.match(gateway.status().counters, { sessionsStarted: 1, sessionsEnded: 1 }, 'sessions are followed in memory');

  disk.free();
  await recovered;
  t.match(logs.join(''), /the database opens again/);
});

t.test('pleevi-edge run on a full disk: serves stations, status says IN MEMORY, exits 75 once the database opens so systemd restarts it', async (t) => {
  const disk = mountSmallDisk(t, DISK_BYTES);
  if (!disk) {
    t.plan(0, 'mounting a tmpfs needs root');
    return;
  }
  disk.fill();
  const cpms = await startCpms({
    onClient: (client: RpcPeer) => client.handle('BootNotification', () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 })),
  });
  t.teardown(() => cpms.close());
  const dir = mkdtempSync(join(tmpdir(), 'pe-mem-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ dataDir: disk.path, listen: { host: '127.0.0.1', port: 0 }, upstream: { url: cpms.url }, admin: { socket: join(dir, 'admin.sock') } }));

  const daemon = spawn(process.execPath, [CLI, 'run', '--config', configPath], { cwd: ROOT });
  let log = '';
  daemon.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
  daemon.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => daemon.once('exit', (code) => resolve(code)));
  t.teardown(() => void daemon.kill('SIGKILL'));
  await waitUntil(() => log.includes('admin API listening'), 'the daemon to start', 15_000);

  const status = await runCli(['status', '--config', configPath]);
  t.match(status.stdout, /storage +IN MEMORY: the database could not be opened/, 'status tells the technician');
  const port = Number(/"port":(\d+)/.exec(log)?.[1]);
  const peer = await connectStation({ endpoint: `ws://127.0.0.1:${port}/ocpp`, identity: 'CP-RUN' });
  t.teardown(() => peer.close({ force: true }));
  t.match(await peer.call('BootNotification', BOOT_1_6), { status: 'Accepted' }, 'a station is served through the daemon');

  disk.free();
  t.equal(await exited, 75, 'exit 75 (EX_TEMPFAIL): systemd Restart=on-failure starts it again');
  t.match(log, /the database opens again/);
});

t.test('disk full: a schedule re-applied meanwhile is reported once space is back', async (t) => {
  const disk = mountSmallDisk(t, DISK_BYTES);
  if (!disk) {
    t.plan(0, 'mounting a tmpfs needs root');
    return;
  }
  const cpms = await startCpms({
    protocols: ['ocpp1.6'],
    onClient: (client: RpcPeer) => client.handle('BootNotification', () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 })),
  });
  t.teardown(() => cpms.close());
  const events = new RecentEvents();
  const logs: string[] = [];
  const gateway = await startTestGateway(t, {
    upstreamUrl: cpms.url,
    dataDir: disk.path,
    events,
    logger: createLogger('debug', { write: (line: string) => void logs.push(line) }),
    storageRetryMs: 50,
    scheduleSettleMs: 100,
  });
  const [setSchedule] = scheduleCommandHandlers(gateway.schedules);
  let profilesSet = 0;
  const connect = async (): Promise<RpcPeer> => {
    const peer = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CP-SCHED', protocols: ['ocpp1.6'] });
    t.teardown(() => peer.close({ force: true }));
    peer.handle('SetChargingProfile', () => {
      profilesSet += 1;
      return { status: 'Accepted' };
    });
    return peer;
  };
  const first = await connect();
  const body = { id: 'cmd-1', scheduleId: 'cap', stationId: 'CP-SCHED', connectorId: 0, purpose: 'max', unit: 'A', periods: [{ startOffsetS: 0, limit: 16 }] };
  t.match(await setSchedule?.execute({ id: 'cmd-1', name: 'set-schedule', body }), { state: 'applied' });

  // An empty WAL file first: with small pages the next commits could otherwise still fit in the space it holds.
  gateway.store.pragma('wal_checkpoint(TRUNCATE)');
  disk.fill();
  await first.close({ force: true });
  await connect();
  await waitUntil(() => profilesSet === 2, 're-applied on the reconnect');
  await waitUntil(() => logs.some((line) => line.includes('the schedule event waits in memory')), 'the event to wait for the storage');
  const scheduleEvents = (): string[] => events.list().flatMap((event) => (event.topic === 'schedule' ? [event.payload.event] : []));
  t.same(scheduleEvents(), [], 'not reported while it cannot be stored');

  disk.free();
  await waitUntil(() => scheduleEvents().length === 1, 'the reapplied event once space is back');
  t.same(scheduleEvents(), ['reapplied']);
  t.match(gateway.schedules.list(), [{ scheduleId: 'cap', state: 'applied' }]);
});

t.test('the database locked by another process (a long CLI import): the bookkeeping waits and is written once the lock is released', async (t) => {
  const cpms = await startCpms({
    onClient: (client: RpcPeer) => {
      client.handle('BootNotification', () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 }));
      client.handle('Authorize', () => ({ idTagInfo: { status: 'Accepted' } }));
      client.handle('StartTransaction', () => ({ transactionId: 100, idTagInfo: { status: 'Accepted' } }));
      client.handle('StopTransaction', () => ({}));
    },
  });
  t.teardown(() => cpms.close());
  const dataDir = t.testdir();
  const events = new RecentEvents();
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, dataDir, events, drivers: new MemoryDrivers().add('alice@example.com', '04A2B3C4'), storageRetryMs: 50 });
  const peer = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CP-LOCK' });
  t.teardown(() => peer.close({ force: true }));
  await peer.call('BootNotification', BOOT_1_6);

  const other = openStore(dataDir);
  t.teardown(() => other.close());
  other.exec('BEGIN IMMEDIATE');
  await chargingSession(peer, 100, '2025-04-04T10:00:00Z', '2025-04-04T11:00:00Z');
  t.equal(gateway.status().storage.state, 'unavailable', 'the write lock is held elsewhere');
  t.same(events.sessionEvents(), []);

  other.exec('COMMIT');
  await waitUntil(() => gateway.status().storage.state === 'ok', 'the waiting bookkeeping to be written');
  t.same(events.sessionEvents().map((event) => event.event), ['started', 'ended']);
  t.match(new SessionRecords(gateway.store).list(), [{ transactionId: '100', driverEmail: 'alice@example.com', state: 'ended' }]);
});

t.test('a waiting schedule event that fails for another reason than the storage is logged, counted and dropped; the events behind it are written', async (t) => {
  const cpms = await startCpms({
    protocols: ['ocpp1.6'],
    onClient: (client: RpcPeer) => client.handle('BootNotification', () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 })),
  });
  t.teardown(() => cpms.close());
  const dataDir = t.testdir();
  const events = new RecentEvents();
  const logs: string[] = [];
  const gateway = await startTestGateway(t, {
    upstreamUrl: cpms.url,
    dataDir,
    events,
    logger: createLogger('debug', { write: (line: string) => void logs.push(line) }),
    storageRetryMs: 50,
    scheduleSettleMs: 100,
  });
  const [setSchedule] = scheduleCommandHandlers(gateway.schedules);
  let profilesSet = 0;
  const connect = async (): Promise<RpcPeer> => {
    const peer = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CP-JAM', protocols: ['ocpp1.6'] });
    t.teardown(() => peer.close({ force: true }));
    peer.handle('SetChargingProfile', () => {
      profilesSet += 1;
      return { status: 'Accepted' };
    });
    return peer;
  };
  const first = await connect();
  for (const [scheduleId, connectorId, purpose] of [['bad', 0, 'max'], ['good', 1, 'default']] as const) {
    const body = { id: `cmd-${scheduleId}`, scheduleId, stationId: 'CP-JAM', connectorId, purpose, unit: 'A', periods: [{ startOffsetS: 0, limit: 16 }] };
    t.match(await setSchedule?.execute({ id: body.id, name: 'set-schedule', body }), { state: 'applied' });
  }

  // Another process holds the write lock (the storage is unavailable) and,
  // in the same transaction, adds a rule that the first event will break:
  // a constraint violation, which no retry can fix.
  const other = openStore(dataDir);
  t.teardown(() => other.close());
  other.exec('BEGIN IMMEDIATE');
  other.exec("CREATE TRIGGER refuse_bad BEFORE UPDATE ON schedules WHEN OLD.schedule_id = 'bad' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END");
  await first.close({ force: true });
  await connect();
  const reappliedLogged = (): number => logs.filter((line) => line.includes('"msg":"schedule event"') && line.includes('"event":"reapplied"')).length;
  await waitUntil(() => reappliedLogged() === 2, 'both schedules re-applied and their events waiting');
  t.equal(profilesSet, 4);
  const scheduleEvents = (): string[] => events.list().flatMap((event) => (event.topic === 'schedule' ? [`${event.payload.scheduleId} ${event.payload.event}`] : []));
  t.same(scheduleEvents(), [], 'nothing written while the lock is held');

  other.exec('COMMIT');
  await waitUntil(() => scheduleEvents().length === 1, 'the event behind the failed one is written');
  t.same(scheduleEvents(), ['good reapplied']);
  t.equal(gateway.status().counters.scheduleEventsFailed, 1, 'counted in status');
  const failure = logs.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.msg === 'a waiting write failed for another reason than the storage; it is dropped and the writes behind it go on');
  t.match(failure, { level: 'error', stationId: 'CP-JAM', what: 'schedule reapplied', err: { code: 'SQLITE_CONSTRAINT_TRIGGER' } });
});

t.test('a full disk and a database file that cannot be copied (over 2 GiB): said at start, every Invalid answer counted and logged at most once a minute; the CLI fails instead of listing nothing', async (t) => {
  const disk = mountSmallDisk(t, DISK_BYTES);
  if (!disk) {
    t.plan(0, 'mounting a tmpfs needs root');
    return;
  }
  const earlier = openStore(disk.path);
  importDrivers(earlier, parseDriverCsvText('email;badge\nalice@example.com;04A2B3C4\n').rows, { mode: 'replace', source: 'test' });
  earlier.close();
  // A sparse file: past 2 GiB Node cannot read it into one buffer, and it costs no space on the small disk.
  truncateSync(join(disk.path, 'pleevi-edge.db'), 3 * 1024 ** 3);
  disk.fill();

  const cpms = await startCpms({ onClient: (client: RpcPeer) => client.handle('Authorize', () => ({ idTagInfo: { status: 'Accepted' } })) });
  t.teardown(() => cpms.close());
  const logs: string[] = [];
  const gateway = await startTestGateway(t, {
    upstreamUrl: cpms.url,
    dataDir: disk.path,
    authorizationMode: 'local',
    logger: createLogger('info', { write: (line: string) => void logs.push(line) }),
  });
  t.equal(gateway.storageMode, 'memory');
  const lines = (): Array<Record<string, unknown>> => logs.map((line) => JSON.parse(line) as Record<string, unknown>);
  t.match(
    lines().find((line) => typeof line.copyFailure === 'string'),
    {
      level: 'error',
      msg: 'the database file cannot be copied either: the copy is empty, without the driver list and the schedules (in local authorization mode every badge reads Invalid)',
      copyFailure: /cannot read .*pleevi-edge\.db: File size \(3221225472\) is greater than 2 GiB/,
      authorizationMode: 'local',
    },
    'the start says why the copy is empty',
  );

  const peer = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CP-NOCOPY' });
  t.teardown(() => peer.close({ force: true }));
  for (let i = 0; i < 3; i++) t.same(await peer.call('Authorize', { idTag: '04A2B3C4' }), { idTagInfo: { status: 'Invalid' } }, 'no list: Invalid');
  t.equal(gateway.status().counters.authorizeWithoutDriverList, 3, 'every such answer is counted in status');
  const answeredWithout = lines().filter((line) => typeof line.msg === 'string' && line.msg.startsWith('Authorize answered Invalid without a driver list'));
  t.equal(answeredWithout.length, 1, 'logged once, not once per frame');
  t.match(answeredWithout[0], { level: 'error', stationId: 'CP-NOCOPY', reason: /greater than 2 GiB/ });

  const configPath = join(t.testdir(), 'config.json');
  writeFileSync(configPath, JSON.stringify({ dataDir: disk.path, upstream: { url: cpms.url } }));
  const listing = await runCli(['drivers', 'list', '--config', configPath]);
  t.equal(listing.code, 1, 'drivers list fails rather than show an empty list');
  t.match(listing.stderr, /the database cannot be opened \(.*\) and cannot be copied either: cannot read .*greater than 2 GiB \[PE_ERR_STORE\]/);
  t.equal(listing.stdout, '');
});
