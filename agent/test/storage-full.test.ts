/**
 * A full disk under the gateway's database: a real tmpfs filled to ENOSPC
 * (SQLite reports SQLITE_FULL). The relay must keep serving, the session
 * bookkeeping must wait in order and be written, with its events, once space
 * is back. Needs root to mount the tmpfs (CI runs as root).
 */
import t, { type Test } from 'tap';
import type { Gateway } from '../src/gateway.js';
import { RecentEvents } from '../src/sessions/recent-events.js';
import { SessionRecords } from '../src/sessions/session-records.js';
import { createLogger } from '../src/util/logger.js';
import { MemoryDrivers } from './helpers/memory-drivers.js';
import { BOOT_1_6, connectStation, startCpms, type RpcPeer } from './helpers/ocpp-peers.js';
import { mountSmallDisk, type SmallDisk } from './helpers/small-disk.js';
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
  await chargingSession(peer, 100, '2025-04-02T10:00:00Z', '2025-04-02T11:00:00Z');
  const status = rig.gateway.status();
  t.equal(status.storage.waitingFrames, 2, 'the bound holds');
  t.ok((status.counters.bookkeepingDropped ?? 0) >= 1, `frames past the bound are counted (${status.counters.bookkeepingDropped})`);
  t.equal(logLines(rig, 'storage unavailable for too long: no room left to keep bookkeeping in memory; this frame is relayed but not recorded').length, 1, 'logged once per minute, not per frame');

  await rig.gateway.close();
  t.match(logLines(rig, 'storage still unavailable at shutdown: the bookkeeping of these frames is lost'), [{ frames: 2 }], 'what is lost at shutdown is said');
});
