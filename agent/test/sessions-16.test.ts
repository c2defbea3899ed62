/**
 * OCPP 1.6 sessions end to end: an independent station and CPMS (ocpp-rpc,
 * strict schema validation) talk through a real gateway with the session
 * observer on a real SQLite file; raw sockets for payloads a strict peer
 * would never send.
 */
import t, { type Test } from 'tap';
import type { DriverDirectory } from '../src/drivers/driver-directory.js';
import type { Gateway } from '../src/gateway.js';
import type { SessionEvent } from '../src/events/gateway-events.js';
import { RecentEvents } from '../src/sessions/recent-events.js';
import type { SessionObserver } from '../src/sessions/session-observer.js';
import type { SessionRecord } from '../src/sessions/session-record.js';
import { SessionRecords } from '../src/sessions/session-records.js';
import { StationDetails } from '../src/sessions/station-details.js';
import { openStore, type SqliteDatabase } from '../src/store/gateway-store.js';
import { createLogger } from '../src/util/logger.js';
import { connectStation, startCpms, type RpcPeer } from './helpers/ocpp-peers.js';
import { connectRawStation, startRawCpms } from './helpers/raw-peers.js';
import { MemoryDrivers } from './helpers/memory-drivers.js';
import { startTestGateway, stationEndpoint } from './helpers/test-gateway.js';
import { waitUntil } from './helpers/wait-until.js';

interface Rig {
  readonly gateway: Gateway;
  readonly observer: SessionObserver;
  readonly events: RecentEvents;
  readonly logs: string[];
  readonly endpoint: string;
  sessions(): SessionRecord[];
  close(): Promise<void>;
}

/** A gateway with the session observer on its own connection to the gateway's database file. */
async function startRig(t: Test, upstreamUrl: string, drivers: DriverDirectory, dataDir: string): Promise<Rig> {
  const db: SqliteDatabase = openStore(dataDir);
  const logs: string[] = [];
  const logger = createLogger('info', { write: (line: string) => void logs.push(line) });
  const events = new RecentEvents();
  const gateway = await startTestGateway(t, { upstreamUrl, dataDir, drivers, events, logger });
  const observer = gateway.sessions;
  const close = async (): Promise<void> => {
    await gateway.close();
    db.close();
  };
  t.teardown(close);
  const records = new SessionRecords(db);
  return { gateway, observer, events, logs, endpoint: stationEndpoint(gateway), sessions: () => records.list(), close };
}

function sessionEvents(rig: Rig): SessionEvent[] {
  return rig.events.sessionEvents();
}

/** A CPMS that accepts everything and numbers transactions from `firstId`, or answers as `startAnswer` says. */
async function startAcceptingCpms(t: Test, startAnswer?: (params: unknown) => unknown) {
  let nextId = 4711;
  const cpms = await startCpms({
    onClient: (client: RpcPeer) => {
      client.handle('BootNotification', () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 }));
      client.handle('StatusNotification', () => ({}));
      client.handle('Authorize', () => ({ idTagInfo: { status: 'Accepted' } }));
      client.handle('StartTransaction', ({ params }) => startAnswer?.(params) ?? { transactionId: nextId++, idTagInfo: { status: 'Accepted' } });
      client.handle('MeterValues', () => ({}));
      client.handle('StopTransaction', () => ({}));
    },
  });
  t.teardown(() => cpms.close());
  return cpms;
}

function energy(timestamp: string, value: string, unit: 'Wh' | 'kWh', context = 'Sample.Periodic') {
  return {
    timestamp,
    sampledValue: [
      { value: '230.1', measurand: 'Voltage', unit: 'V', phase: 'L1-N', context },
      { value: '3.1', measurand: 'Energy.Active.Import.Register', unit: 'kWh', phase: 'L1', context },
      { value, measurand: 'Energy.Active.Import.Register', unit, context },
    ],
  };
}

t.test('known badge in another case with blanks: the session is tied to the driver; meter in kWh; StopTransaction without idTag', async (t) => {
  const cpms = await startAcceptingCpms(t);
  const drivers = new MemoryDrivers().add('alice@example.com', '04A2B3C4');
  const rig = await startRig(t, cpms.url, drivers, t.testdir());
  const station = await connectStation({ endpoint: rig.endpoint, identity: 'CP-16' });
  t.teardown(() => station.close({ force: true }));

  await station.call('BootNotification', {
    chargePointVendor: 'Pleevi',
    chargePointModel: 'Wallbox 22',
    chargePointSerialNumber: 'PV-000123',
    firmwareVersion: '1.4.2',
  });
  await station.call('StatusNotification', { connectorId: 1, status: 'Preparing', errorCode: 'NoError', timestamp: '2025-03-01T09:59:30Z' });
  await station.call('Authorize', { idTag: ' 04a2b3c4 ' });
  const started = (await station.call('StartTransaction', {
    connectorId: 1,
    idTag: ' 04a2b3c4 ',
    meterStart: 1000,
    timestamp: '2025-03-01T10:00:00Z',
  })) as { transactionId: number };
  t.equal(started.transactionId, 4711, 'the station got the CPMS id through the gateway');
  await station.call('MeterValues', { connectorId: 1, transactionId: 4711, meterValue: [energy('2025-03-01T10:15:00Z', '2.5', 'kWh')] });
  await station.call('StopTransaction', {
    transactionId: 4711,
    meterStop: 3750,
    timestamp: '2025-03-01T10:30:00Z',
    reason: 'EVDisconnected',
    transactionData: [energy('2025-03-01T10:29:00Z', '3700', 'Wh', 'Sample.Clock')],
  });

  const [session, ...others] = rig.sessions();
  t.same(others, [], 'one session');
  t.match(session, {
    stationId: 'CP-16',
    ocppVersion: '1.6',
    connectorId: 1,
    evseId: null,
    transactionId: '4711',
    idTag: ' 04a2b3c4 ',
    idTagStatus: 'Accepted',
    driverEmail: 'alice@example.com',
    startedAt: '2025-03-01T10:00:00.000Z',
    endedAt: '2025-03-01T10:30:00.000Z',
    meterStartWh: 1000,
    meterStopWh: 3750,
    lastMeterWh: 3750,
    energyWh: 2750,
    stopReason: 'EVDisconnected',
    state: 'ended',
  });

  const base = {
    stationId: 'CP-16',
    ocppVersion: '1.6',
    connectorId: 1,
    transactionId: '4711',
    idTag: ' 04a2b3c4 ',
    driver: { email: 'alice@example.com' },
    startedAt: '2025-03-01T10:00:00.000Z',
    meterStartWh: 1000,
  };
  t.same(sessionEvents(rig), [
    { event: 'started', ...base, endedAt: null, meterStopWh: null, energyWh: 0, stopReason: null },
    { event: 'updated', ...base, endedAt: null, meterStopWh: null, energyWh: 1500, stopReason: null },
    { event: 'ended', ...base, endedAt: '2025-03-01T10:30:00.000Z', meterStopWh: 3750, energyWh: 2750, stopReason: 'EVDisconnected' },
  ]);

  t.match(rig.events.stationEvents(), [
    { event: 'connected', stationId: 'CP-16', ocppVersion: '1.6' },
    { event: 'boot', stationId: 'CP-16', vendor: 'Pleevi', model: 'Wallbox 22', serialNumber: 'PV-000123', firmwareVersion: '1.4.2', reason: null },
    { event: 'status', stationId: 'CP-16', connectorId: 1, status: 'Preparing', errorCode: 'NoError', statusAt: '2025-03-01T09:59:30.000Z' },
  ]);
  const details = new StationDetails(rig.gateway.store).list();
  t.match(details, [
    {
      stationId: 'CP-16',
      protocol: 'ocpp1.6',
      vendor: 'Pleevi',
      model: 'Wallbox 22',
      serialNumber: 'PV-000123',
      firmwareVersion: '1.4.2',
      connectors: [{ evseId: null, connectorId: 1, status: 'Preparing', errorCode: 'NoError' }],
    },
  ]);
  t.match(rig.observer.counters, { sessionsStarted: 1, sessionsUpdated: 1, sessionsEnded: 1, authorizeRequests: 1, sessionPayloadsMalformed: 0 });

  await station.close();
  await waitUntil(() => rig.events.stationEvents().some((event) => event.event === 'disconnected'), 'the disconnect event');
});

t.test('unknown badge: no driver; a list updated during the session names the driver at the stop; a repeated stop changes nothing', async (t) => {
  const cpms = await startAcceptingCpms(t);
  const drivers = new MemoryDrivers();
  const rig = await startRig(t, cpms.url, drivers, t.testdir());
  const station = await connectStation({ endpoint: rig.endpoint, identity: 'CP-UNKNOWN' });
  t.teardown(() => station.close({ force: true }));

  await station.call('StartTransaction', { connectorId: 2, idTag: 'CAFE0001', meterStart: 0, timestamp: '2025-03-02T08:00:00Z' });
  t.match(rig.sessions(), [{ idTag: 'CAFE0001', driverEmail: null, state: 'active' }]);
  t.match(sessionEvents(rig), [{ event: 'started', idTag: 'CAFE0001', driver: null }]);

  drivers.add('late@example.com', 'cafe0001');
  const stop = { transactionId: 4711, idTag: 'CAFE0001', meterStop: 5000, timestamp: '2025-03-02T09:00:00Z', reason: 'Local' };
  await station.call('StopTransaction', stop);
  // A station that did not see the answer sends the same StopTransaction again.
  await station.call('StopTransaction', stop);

  t.match(rig.sessions(), [{ driverEmail: 'late@example.com', energyWh: 5000, state: 'ended', stopReason: 'Local' }]);
  t.same(
    sessionEvents(rig).map((event) => [event.event, event.driver]),
    [
      ['started', null],
      ['ended', { email: 'late@example.com' }],
    ],
    'one ended event, with the driver',
  );
  t.equal(rig.observer.counters.sessionRepeatedMessages, 1);
});

t.test('a CPMS that gives every rejected badge transactionId 0: one session per transaction', async (t) => {
  const cpms = await startAcceptingCpms(t, () => ({ transactionId: 0, idTagInfo: { status: 'Invalid' } }));
  const rig = await startRig(t, cpms.url, new MemoryDrivers(), t.testdir());
  const station = await connectStation({ endpoint: rig.endpoint, identity: 'CP-ZERO' });
  t.teardown(() => station.close({ force: true }));

  await station.call('StartTransaction', { connectorId: 1, idTag: 'BAD1', meterStart: 100, timestamp: '2025-03-03T08:00:00Z' });
  await station.call('StopTransaction', { transactionId: 0, meterStop: 100, timestamp: '2025-03-03T08:00:05Z', reason: 'DeAuthorized' });
  await station.call('StartTransaction', { connectorId: 1, idTag: 'BAD2', meterStart: 100, timestamp: '2025-03-03T09:00:00Z' });
  // This station never stops the second one; the third gets id 0 again.
  await station.call('StartTransaction', { connectorId: 1, idTag: 'BAD3', meterStart: 100, timestamp: '2025-03-03T10:00:00Z' });

  t.match(
    rig.sessions(),
    [
      { transactionId: '0', idTag: 'BAD3', idTagStatus: 'Invalid', state: 'active' },
      { transactionId: '0', idTag: 'BAD2', state: 'ended', endedAt: null, stopReason: null },
      { transactionId: '0', idTag: 'BAD1', state: 'ended', stopReason: 'DeAuthorized' },
    ],
    'newest first',
  );
  t.equal(rig.observer.counters.sessionTransactionIdsReused, 1);
});

t.test('a gateway restart mid-session: the StopTransaction after it finds the session, which is whole', async (t) => {
  const cpms = await startAcceptingCpms(t);
  const dataDir = t.testdir();
  const drivers = new MemoryDrivers().add('bob@example.com', 'B0B');
  const first = await startRig(t, cpms.url, drivers, dataDir);
  const before = await connectStation({ endpoint: first.endpoint, identity: 'CP-RESTART' });
  await before.call('StartTransaction', { connectorId: 1, idTag: 'b0b', meterStart: 20_000, timestamp: '2025-03-04T18:00:00Z' });
  await before.call('MeterValues', { connectorId: 1, transactionId: 4711, meterValue: [energy('2025-03-04T18:30:00Z', '25', 'kWh')] });
  await before.close();
  await first.close();

  // A new process: new gateway, new observer, nothing in memory, the same database file.
  const second = await startRig(t, cpms.url, drivers, dataDir);
  const after = await connectStation({ endpoint: second.endpoint, identity: 'CP-RESTART' });
  t.teardown(() => after.close({ force: true }));
  await after.call('MeterValues', { connectorId: 1, transactionId: 4711, meterValue: [energy('2025-03-04T19:00:00Z', '30000', 'Wh')] });
  await after.call('StopTransaction', { transactionId: 4711, meterStop: 32_000, timestamp: '2025-03-04T19:10:00Z', reason: 'EVDisconnected' });

  const [session, ...others] = second.sessions();
  t.same(others, []);
  t.match(session, {
    transactionId: '4711',
    idTag: 'b0b',
    driverEmail: 'bob@example.com',
    startedAt: '2025-03-04T18:00:00.000Z',
    endedAt: '2025-03-04T19:10:00.000Z',
    meterStartWh: 20_000,
    meterStopWh: 32_000,
    energyWh: 12_000,
    state: 'ended',
  });
  t.same(
    sessionEvents(second).map((event) => [event.event, event.idTag, event.driver?.email, event.startedAt, event.energyWh]),
    [
      ['updated', 'b0b', 'bob@example.com', '2025-03-04T18:00:00.000Z', 10_000],
      ['ended', 'b0b', 'bob@example.com', '2025-03-04T18:00:00.000Z', 12_000],
    ],
    'events after the restart carry the whole session',
  );
  t.equal(second.observer.counters.sessionUnknownTransactions, 0);
});

t.test('malformed and unexpected 1.6 payloads are logged and counted; every frame is still relayed as is', async (t) => {
  const cpms = await startRawCpms();
  t.teardown(() => cpms.close());
  const rig = await startRig(t, cpms.url, new MemoryDrivers(), t.testdir());
  const arriving = cpms.nextConnection();
  const station = await connectRawStation(`${rig.endpoint}/CP-RAW`);
  t.teardown(() => station.socket.terminate());
  const atCpms = await arriving;
  const startPayload = '{"connectorId":1,"idTag":"AB","meterStart":0,"timestamp":"2025-03-01T10:00:00Z"}';
  const answers: Record<string, string> = {
    'bad-answer': '[3,"bad-answer",{"transactionId":"abc","idTagInfo":{"status":"Accepted"}}]',
    refused: '[4,"refused","InternalError","database down",{}]',
  };
  atCpms.socket.on('message', (data: Buffer) => {
    const id = /^\[2,"([^"]+)"/.exec(data.toString())?.[1];
    if (id !== undefined) atCpms.socket.send(answers[id] ?? `[3,"${id}",{}]`);
  });

  const frames = [
    '[2,"m1","StartTransaction",{"connectorId":1,"idTag":42,"meterStart":0,"timestamp":"2025-03-01T10:00:00Z"}]',
    '[2,"m2","StartTransaction",null]',
    `[2,"bad-answer","StartTransaction",${startPayload}]`,
    `[2,"refused","StartTransaction",${startPayload}]`,
    '[2,"m5","StopTransaction",{"transactionId":999,"meterStop":10,"timestamp":"2025-03-01T11:00:00Z"}]',
    '[2,"m6","MeterValues",{"connectorId":1,"transactionId":1,"meterValue":"nope"}]',
    '[2,"m7","StatusNotification",{"connectorId":"one","status":"Available","errorCode":"NoError"}]',
    '[3,"ghost",{"transactionId":5,"idTagInfo":{"status":"Accepted"}}]',
    '[2,"m9","StopTransaction",{"transactionId":1,"meterStop":"ten","timestamp":"yesterday"}]',
    '[2,"m10","BootNotification",{"chargePointVendor":7}]',
    '[2,"m11","MeterValues",{"connectorId":1,"transactionId":1,"meterValue":[{"timestamp":"2025-03-01T10:05:00Z","sampledValue":[{"value":"12,5","unit":"kWh"}]}]}]',
    '[2,"m12","StartTransaction",{"connectorId":1,"idTag":"AB","meterStart":0,"timestamp":"the day before"}]',
  ];
  for (const frame of frames) station.socket.send(frame);
  // The CPMS answers a message id nobody asked about.
  atCpms.socket.send('[3,"nobody",{"transactionId":77,"idTagInfo":{"status":"Accepted"}}]');

  const upward = await atCpms.waitFor(frames.length);
  t.same(upward.map((frame) => frame.data.toString()), frames, 'every station frame reached the CPMS byte for byte, in order');
  const calls = frames.filter((frame) => frame.startsWith('[2,')).length;
  const down = await station.waitFor(calls + 1);
  t.equal(down.length, calls + 1, 'every call answered, and the stray CALLRESULT relayed too');
  t.ok(down.some((frame) => frame.data.toString() === answers.refused), 'the CALLERROR reached the station');

  await waitUntil(() => rig.observer.counters.sessionStartsRefused === 1, 'the refused start was seen');
  t.match(rig.observer.counters, {
    sessionPayloadsMalformed: 9,
    sessionUnknownTransactions: 1,
    sessionStartsRefused: 1,
    sessionsStarted: 0,
    sessionObserverErrors: 0,
  });
  t.same(rig.sessions(), [], 'nothing recorded, no transaction id invented');
  t.equal(rig.gateway.pipeline.observerFailures, 0, 'nothing escaped the observer');
  const warnings = rig.logs.filter((line) => line.includes('OCPP payload not usable for sessions'));
  t.equal(warnings.length, 9, 'each malformed payload logged once');
  t.ok(warnings.some((line) => line.includes('"problem":"idTag is not a string"') && line.includes('"stationId":"CP-RAW"')));
  t.ok(warnings.some((line) => line.includes('"part":"answer"') && line.includes('"problem":"transactionId is not an integer"')));
  t.ok(rig.logs.some((line) => line.includes('never saw start') && line.includes('"transactionId":"999"')));
});

t.test('a failing driver directory is logged and counted; the relay goes on', async (t) => {
  const cpms = await startAcceptingCpms(t);
  const broken: DriverDirectory = {
    lookup: () => {
      throw new Error('driver list unreadable');
    },
  };
  const rig = await startRig(t, cpms.url, broken, t.testdir());
  const station = await connectStation({ endpoint: rig.endpoint, identity: 'CP-BROKEN' });
  t.teardown(() => station.close({ force: true }));
  const answer = await station.call('StartTransaction', { connectorId: 1, idTag: 'X1', meterStart: 0, timestamp: '2025-03-05T08:00:00Z' });
  t.match(answer, { transactionId: 4711 }, 'the station got its answer');
  t.equal(rig.observer.counters.sessionObserverErrors, 1);
  t.equal(rig.gateway.pipeline.observerFailures, 0);
  t.ok(rig.logs.some((line) => line.includes('session bookkeeping failed') && line.includes('driver list unreadable')));
  t.same(rig.sessions(), [], 'the failed change was rolled back whole');
  await station.call('StatusNotification', { connectorId: 1, status: 'Available', errorCode: 'NoError' });
  t.match(new StationDetails(rig.gateway.store).list()[0]?.connectors, [{ connectorId: 1, status: 'Available' }], 'later frames still recorded');
});
