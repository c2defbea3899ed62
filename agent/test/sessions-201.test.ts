/**
 * OCPP 2.0.1 sessions end to end: an independent station and CSMS (ocpp-rpc,
 * strict schema validation) through a real gateway with the session observer
 * on a real SQLite file; raw sockets for payloads a strict peer would never
 * send.
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

interface Rig {
  readonly gateway: Gateway;
  readonly observer: SessionObserver;
  readonly events: RecentEvents;
  readonly logs: string[];
  readonly endpoint: string;
  sessions(): SessionRecord[];
  close(): Promise<void>;
}

async function startRig(t: Test, upstreamUrl: string, drivers: DriverDirectory, dataDir: string, now?: () => Date): Promise<Rig> {
  const db: SqliteDatabase = openStore(dataDir);
  const logs: string[] = [];
  const logger = createLogger('info', { write: (line: string) => void logs.push(line) });
  const events = new RecentEvents();
  const gateway = await startTestGateway(t, { upstreamUrl, dataDir, drivers, events, logger, ...(now ? { now } : {}) });
  const observer = gateway.sessions;
  const close = async (): Promise<void> => {
    await gateway.close();
    db.close();
  };
  t.teardown(close);
  const records = new SessionRecords(db);
  return { gateway, observer, events, logs, endpoint: stationEndpoint(gateway), sessions: () => records.list(), close };
}

/** A CSMS that accepts everything; TransactionEvents with an idToken get `idTokenInfo` back. */
async function startCsms(t: Test) {
  const cpms = await startCpms({
    protocols: ['ocpp2.0.1'],
    onClient: (client: RpcPeer) => {
      client.handle('BootNotification', () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 }));
      client.handle('StatusNotification', () => ({}));
      client.handle('Authorize', () => ({ idTokenInfo: { status: 'Accepted' } }));
      client.handle('TransactionEvent', ({ params }) => {
        const carriesToken = typeof params === 'object' && params !== null && 'idToken' in params;
        return carriesToken ? { idTokenInfo: { status: 'Accepted' } } : {};
      });
    },
  });
  t.teardown(() => cpms.close());
  return cpms;
}

async function connect201(t: Test, rig: Rig, identity: string): Promise<RpcPeer> {
  const station = await connectStation({ endpoint: rig.endpoint, identity, protocols: ['ocpp2.0.1'] });
  t.teardown(() => station.close({ force: true }));
  return station;
}

interface TxOptions {
  readonly eventType: 'Started' | 'Updated' | 'Ended';
  readonly seqNo: number;
  readonly timestamp: string;
  readonly transactionId: string;
  readonly triggerReason?: string;
  readonly idToken?: string;
  readonly evse?: { id: number; connectorId?: number };
  readonly offline?: boolean;
  readonly stoppedReason?: string;
  readonly meter?: { value: number; unit?: 'Wh' | 'kWh'; multiplier?: number; context?: string; at?: string };
}

function transactionEvent(options: TxOptions): Record<string, unknown> {
  const meter = options.meter;
  return {
    eventType: options.eventType,
    timestamp: options.timestamp,
    triggerReason: options.triggerReason ?? (options.eventType === 'Ended' ? 'EVCommunicationLost' : 'MeterValuePeriodic'),
    seqNo: options.seqNo,
    transactionInfo: {
      transactionId: options.transactionId,
      ...(options.stoppedReason ? { stoppedReason: options.stoppedReason } : {}),
    },
    ...(options.offline !== undefined ? { offline: options.offline } : {}),
    ...(options.idToken !== undefined ? { idToken: { idToken: options.idToken, type: 'ISO14443' } } : {}),
    ...(options.evse ? { evse: options.evse } : {}),
    ...(meter
      ? {
          meterValue: [
            {
              timestamp: meter.at ?? options.timestamp,
              sampledValue: [
                { value: 11, measurand: 'Current.Import', phase: 'L1', unitOfMeasure: { unit: 'A' } },
                { value: 1, measurand: 'Energy.Active.Import.Register', phase: 'L2', unitOfMeasure: { unit: 'kWh' } },
                {
                  value: meter.value,
                  measurand: 'Energy.Active.Import.Register',
                  ...(meter.context ? { context: meter.context } : {}),
                  ...(meter.unit || meter.multiplier !== undefined
                    ? { unitOfMeasure: { ...(meter.unit ? { unit: meter.unit } : {}), ...(meter.multiplier !== undefined ? { multiplier: meter.multiplier } : {}) } }
                    : {}),
                },
              ],
            },
          ],
        }
      : {}),
  };
}

function eventSummary(events: readonly SessionEvent[]): unknown[] {
  return events.map((event) => [event.event, event.idTag, event.driver?.email ?? null, event.evseId, event.energyWh]);
}

t.test('idToken only on a later Updated: the session gets its badge and driver then; meters in kWh and with a multiplier', async (t) => {
  const cpms = await startCsms(t);
  const drivers = new MemoryDrivers().add('carol@example.com', 'C4R0L-TAG');
  const rig = await startRig(t, cpms.url, drivers, t.testdir());
  const station = await connect201(t, rig, 'CS-201');

  await station.call('BootNotification', {
    reason: 'PowerUp',
    chargingStation: { vendorName: 'Pleevi', model: 'DC 50', serialNumber: 'PV-DC-9', firmwareVersion: '2.0.7' },
  });
  await station.call('StatusNotification', { timestamp: '2025-04-01T07:59:00Z', connectorStatus: 'Occupied', evseId: 1, connectorId: 1 });
  const tx = 'c0ffee00-0000-4000-8000-000000000001';
  await station.call(
    'TransactionEvent',
    transactionEvent({
      eventType: 'Started',
      seqNo: 0,
      timestamp: '2025-04-01T08:00:00Z',
      transactionId: tx,
      triggerReason: 'CablePluggedIn',
      evse: { id: 1, connectorId: 1 },
      meter: { value: 1.2, unit: 'kWh', context: 'Transaction.Begin' },
    }),
  );
  t.match(rig.sessions(), [{ transactionId: tx, idTag: null, driverEmail: null, evseId: 1, connectorId: 1, meterStartWh: 1200, state: 'active' }]);

  await station.call('Authorize', { idToken: { idToken: ' c4r0l-tag', type: 'ISO14443' } });
  await station.call(
    'TransactionEvent',
    transactionEvent({ eventType: 'Updated', seqNo: 1, timestamp: '2025-04-01T08:00:30Z', transactionId: tx, triggerReason: 'Authorized', idToken: ' c4r0l-tag' }),
  );
  await station.call(
    'TransactionEvent',
    transactionEvent({ eventType: 'Updated', seqNo: 2, timestamp: '2025-04-01T08:30:00Z', transactionId: tx, meter: { value: 5, multiplier: 3 } }),
  );
  await station.call(
    'TransactionEvent',
    transactionEvent({
      eventType: 'Ended',
      seqNo: 3,
      timestamp: '2025-04-01T09:00:00Z',
      transactionId: tx,
      stoppedReason: 'EVDisconnected',
      // A stop with another badge does not replace the one that authorized the session.
      idToken: 'SOMEONE-ELSE',
      meter: { value: 7.5, unit: 'kWh', context: 'Transaction.End' },
    }),
  );

  const [session, ...others] = rig.sessions();
  t.same(others, []);
  t.match(session, {
    stationId: 'CS-201',
    ocppVersion: '2.0.1',
    evseId: 1,
    connectorId: 1,
    transactionId: tx,
    idTag: ' c4r0l-tag',
    idTagStatus: 'Accepted',
    driverEmail: 'carol@example.com',
    startedAt: '2025-04-01T08:00:00.000Z',
    endedAt: '2025-04-01T09:00:00.000Z',
    meterStartWh: 1200,
    meterStopWh: 7500,
    energyWh: 6300,
    stopReason: 'EVDisconnected',
    lastSeqNo: 3,
    missedSeqNos: 0,
    offlineEvents: 0,
    state: 'ended',
  });
  t.same(eventSummary(rig.events.sessionEvents()), [
    ['started', null, null, 1, 0],
    ['updated', ' c4r0l-tag', 'carol@example.com', 1, 0],
    ['updated', ' c4r0l-tag', 'carol@example.com', 1, 3800],
    ['ended', ' c4r0l-tag', 'carol@example.com', 1, 6300],
  ]);
  const ended = rig.events.sessionEvents().at(-1);
  t.same(ended, {
    event: 'ended',
    stationId: 'CS-201',
    ocppVersion: '2.0.1',
    evseId: 1,
    transactionId: tx,
    idTag: ' c4r0l-tag',
    driver: { email: 'carol@example.com' },
    startedAt: '2025-04-01T08:00:00.000Z',
    endedAt: '2025-04-01T09:00:00.000Z',
    meterStartWh: 1200,
    meterStopWh: 7500,
    energyWh: 6300,
    stopReason: 'EVDisconnected',
  }, 'the 2.0.1 event names the EVSE, not a connector');

  t.match(rig.events.stationEvents(), [
    { event: 'connected', stationId: 'CS-201', ocppVersion: '2.0.1' },
    { event: 'boot', vendor: 'Pleevi', model: 'DC 50', serialNumber: 'PV-DC-9', firmwareVersion: '2.0.7', reason: 'PowerUp' },
    { event: 'status', evseId: 1, connectorId: 1, status: 'Occupied', errorCode: null, statusAt: '2025-04-01T07:59:00.000Z' },
  ]);
  t.match(new StationDetails(rig.gateway.store).list(), [
    { stationId: 'CS-201', protocol: 'ocpp2.0.1', vendor: 'Pleevi', bootReason: 'PowerUp', connectors: [{ evseId: 1, connectorId: 1, status: 'Occupied' }] },
  ]);
  t.equal(rig.observer.counters.authorizeRequests, 1);
});

t.test('offline events replayed late keep their own times; a seqNo gap is noted; a resent event changes nothing', async (t) => {
  const cpms = await startCsms(t);
  const drivers = new MemoryDrivers().add('dave@example.com', 'DAVE-1');
  // The gateway's clock says it is a day later than the events: session times must be the events' own.
  const receivedAt = new Date('2025-04-02T12:00:00.000Z');
  const rig = await startRig(t, cpms.url, drivers, t.testdir(), () => receivedAt);
  const station = await connect201(t, rig, 'CS-OFFLINE');
  const tx = 'offline-tx-1';

  const queued = [
    transactionEvent({ eventType: 'Started', seqNo: 0, timestamp: '2025-04-01T02:00:00Z', transactionId: tx, offline: true, idToken: 'dave-1', evse: { id: 2 }, meter: { value: 100 } }),
    // seqNo 1 was dropped by the station's full queue (E11).
    transactionEvent({ eventType: 'Updated', seqNo: 2, timestamp: '2025-04-01T03:00:00Z', transactionId: tx, offline: true, meter: { value: 9100 } }),
    transactionEvent({ eventType: 'Updated', seqNo: 3, timestamp: '2025-04-01T03:30:00Z', transactionId: tx, offline: true, meter: { value: 12_100 } }),
  ];
  for (const event of queued) await station.call('TransactionEvent', event);
  // The answer to seqNo 3 was lost; the station sends it again.
  await station.call('TransactionEvent', queued[2]);
  await station.call(
    'TransactionEvent',
    transactionEvent({ eventType: 'Ended', seqNo: 4, timestamp: '2025-04-01T04:00:00Z', transactionId: tx, offline: true, stoppedReason: 'Local', meter: { value: 14_100 } }),
  );

  t.match(rig.sessions(), [
    {
      transactionId: tx,
      evseId: 2,
      connectorId: null,
      idTag: 'dave-1',
      driverEmail: 'dave@example.com',
      startedAt: '2025-04-01T02:00:00.000Z',
      endedAt: '2025-04-01T04:00:00.000Z',
      meterStartWh: 100,
      meterStopWh: 14_100,
      energyWh: 14_000,
      lastSeqNo: 4,
      missedSeqNos: 1,
      offlineEvents: 4,
      createdAt: receivedAt.toISOString(),
      updatedAt: receivedAt.toISOString(),
      state: 'ended',
    },
  ]);
  t.same(
    rig.events.sessionEvents().map((event) => [event.event, event.startedAt, event.endedAt, event.energyWh]),
    [
      ['started', '2025-04-01T02:00:00.000Z', null, 0],
      ['updated', '2025-04-01T02:00:00.000Z', null, 9000],
      ['updated', '2025-04-01T02:00:00.000Z', null, 12_000],
      ['ended', '2025-04-01T02:00:00.000Z', '2025-04-01T04:00:00.000Z', 14_000],
    ],
    'no event for the resent one',
  );
  t.equal(rig.observer.counters.sessionRepeatedMessages, 1);
});

t.test('unknown badge, then a gateway restart mid-session: the session is whole; an event for a transaction never started is counted', async (t) => {
  const cpms = await startCsms(t);
  const dataDir = t.testdir();
  const drivers = new MemoryDrivers().add('erin@example.com', 'ERIN');
  const first = await startRig(t, cpms.url, drivers, dataDir);
  const before = await connectStation({ endpoint: first.endpoint, identity: 'CS-RESTART', protocols: ['ocpp2.0.1'] });
  const tx = 'restart-tx';
  await before.call(
    'TransactionEvent',
    transactionEvent({ eventType: 'Started', seqNo: 0, timestamp: '2025-04-03T10:00:00Z', transactionId: tx, idToken: 'STRANGER', evse: { id: 1, connectorId: 1 }, meter: { value: 500 } }),
  );
  t.match(first.sessions(), [{ idTag: 'STRANGER', driverEmail: null }]);
  await before.close();
  await first.close();

  const second = await startRig(t, cpms.url, drivers, dataDir);
  const after = await connect201(t, second, 'CS-RESTART');
  await after.call('TransactionEvent', transactionEvent({ eventType: 'Updated', seqNo: 1, timestamp: '2025-04-03T10:30:00Z', transactionId: tx, meter: { value: 4500 } }));
  await after.call(
    'TransactionEvent',
    transactionEvent({ eventType: 'Ended', seqNo: 2, timestamp: '2025-04-03T11:00:00Z', transactionId: tx, stoppedReason: 'StoppedByEV', meter: { value: 6500 } }),
  );
  await after.call('TransactionEvent', transactionEvent({ eventType: 'Ended', seqNo: 7, timestamp: '2025-04-03T11:05:00Z', transactionId: 'never-started' }));

  t.match(second.sessions(), [
    {
      transactionId: tx,
      idTag: 'STRANGER',
      idTagStatus: 'Accepted',
      driverEmail: null,
      startedAt: '2025-04-03T10:00:00.000Z',
      endedAt: '2025-04-03T11:00:00.000Z',
      meterStartWh: 500,
      meterStopWh: 6500,
      energyWh: 6000,
      stopReason: 'StoppedByEV',
      lastSeqNo: 2,
      missedSeqNos: 0,
    },
  ]);
  t.equal(second.sessions().length, 1, 'no session invented for the unknown transaction');
  t.match(second.events.sessionEvents().at(-1), { event: 'ended', idTag: 'STRANGER', driver: null, startedAt: '2025-04-03T10:00:00.000Z', energyWh: 6000 });
  t.equal(second.observer.counters.sessionUnknownTransactions, 1);
  t.ok(second.logs.some((line) => line.includes('never saw start') && line.includes('"transactionId":"never-started"')));
});

t.test('malformed and unexpected 2.0.1 payloads are logged and counted; every frame is still relayed as is', async (t) => {
  const cpms = await startRawCpms({ echoCalls: true });
  t.teardown(() => cpms.close());
  const rig = await startRig(t, cpms.url, new MemoryDrivers(), t.testdir());
  const arriving = cpms.nextConnection();
  const station = await connectRawStation(`${rig.endpoint}/CS-RAW`, ['ocpp2.0.1']);
  t.teardown(() => station.socket.terminate());
  const atCpms = await arriving;
  t.equal(atCpms.protocol, 'ocpp2.0.1');

  const tx = (fields: string): string => `{"eventType":"Started","timestamp":"2025-04-04T10:00:00Z","triggerReason":"Authorized","seqNo":0,${fields}}`;
  const frames = [
    '[2,"t1","TransactionEvent",{"eventType":"Started","timestamp":"2025-04-04T10:00:00Z","triggerReason":"Authorized","seqNo":0}]',
    `[2,"t2","TransactionEvent",${tx('"transactionInfo":{"transactionId":"x"},"evse":{"id":"one"}')}]`,
    '[2,"t3","TransactionEvent",{"eventType":"Paused","timestamp":"2025-04-04T10:00:00Z","triggerReason":"Authorized","seqNo":0,"transactionInfo":{"transactionId":"x"}}]',
    `[2,"t4","TransactionEvent",${tx('"transactionInfo":{"transactionId":"x"},"meterValue":[{"timestamp":"2025-04-04T10:00:00Z","sampledValue":[{"value":"12"}]}]')}]`,
    `[2,"t5","TransactionEvent",${tx('"transactionInfo":{"transactionId":"x"},"idToken":{"idToken":7,"type":"ISO14443"}')}]`,
    '[2,"t6","TransactionEvent",{"eventType":"Updated","timestamp":"2025-04-04T10:00:00Z","triggerReason":"Authorized","seqNo":"1","transactionInfo":{"transactionId":"x"}}]',
    '[2,"t7","TransactionEvent",{"eventType":"Updated","timestamp":"2025-04-04T10:00:00Z","triggerReason":"MeterValuePeriodic","seqNo":5,"transactionInfo":{"transactionId":"who"}}]',
    '[2,"t8","StatusNotification",{"timestamp":"2025-04-04T10:00:00Z","connectorStatus":"Available","evseId":1}]',
    '[2,"t9","BootNotification",{"reason":"PowerUp","chargingStation":"Pleevi"}]',
    '[2,"t10","Authorize",{}]',
    '[2,"t11","TransactionEvent",[]]',
  ];
  for (const frame of frames) station.socket.send(frame);
  const upward = await atCpms.waitFor(frames.length);
  t.same(upward.map((frame) => frame.data.toString()), frames, 'every station frame reached the CSMS byte for byte, in order');
  const down = await station.waitFor(frames.length);
  t.same(
    down.map((frame) => frame.data.toString()),
    frames.map((_, index) => `[3,"t${index + 1}",{}]`),
    'every answer came back',
  );

  t.match(rig.observer.counters, {
    sessionPayloadsMalformed: 10,
    sessionUnknownTransactions: 1,
    sessionsStarted: 0,
    sessionObserverErrors: 0,
  });
  t.same(rig.sessions(), []);
  t.equal(rig.gateway.pipeline.observerFailures, 0);
  const warnings = rig.logs.filter((line) => line.includes('OCPP payload not usable for sessions'));
  t.equal(warnings.length, 10);
  for (const problem of [
    'transactionInfo.transactionId is missing',
    'evse.id is not an integer',
    'eventType is not Started, Updated or Ended',
    'meterValue[0].sampledValue[0].value is not a number',
    'idToken.idToken is not a string',
    'seqNo is not an integer',
    'connectorId is not an integer',
    'chargingStation is not an object',
    'idToken is missing',
    'payload is not an object',
  ]) {
    t.ok(warnings.some((line) => line.includes(`"problem":"${problem}"`)), `logged: ${problem}`);
  }
});
