/**
 * What the gateway keeps of a station's over-long text (docs/sessions.md,
 * "Over-long text"): the frame reaches the CPMS unchanged, the stored and
 * published value is cut to its OCPP type with `…`, counted, and a cut badge
 * names no driver. Real gateway and SQLite file; ocpp-rpc peers without
 * schema checks, so they send and accept what the schemas forbid.
 */
import t, { type Test } from 'tap';
import { normalizeBadge, type DriverDirectory, type DriverMatch } from '../src/drivers/driver-directory.js';
import type { Gateway } from '../src/gateway.js';
import { SessionRecords } from '../src/sessions/session-records.js';
import { StationDetails } from '../src/sessions/station-details.js';
import { openStore } from '../src/store/gateway-store.js';
import { connectStation, startCpms, type TestCpms } from './helpers/ocpp-peers.js';
import { startTestGateway, stationEndpoint } from './helpers/test-gateway.js';

/** Everyone's badge: a session without a driver can then only be a badge the gateway refused to look up. */
const anyBadge: DriverDirectory = {
  lookup: (badge: string): DriverMatch => ({ email: 'anyone@example.com', badgeId: normalizeBadge(badge) }),
};

const CUT = '\u2026';

interface Site {
  readonly cpms: TestCpms;
  readonly gateway: Gateway;
  readonly dataDir: string;
  /** Every CALL payload the CPMS received, by action. */
  readonly received: Map<string, unknown[]>;
}

async function site(t: Test): Promise<Site> {
  const received = new Map<string, unknown[]>();
  const keep = (action: string, params: unknown): void => {
    received.set(action, [...(received.get(action) ?? []), params]);
  };
  let transactionId = 100;
  const cpms = await startCpms({
    protocols: ['ocpp1.6', 'ocpp2.0.1', 'ocpp2.1'],
    strictMode: false,
    onClient: (client) => {
      client.handle(({ method, params }) => {
        keep(method ?? '', params);
        if (method === 'BootNotification') return { status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 };
        if (method === 'StartTransaction') return { transactionId: transactionId++, idTagInfo: { status: 'Accepted' } };
        return {};
      });
    },
  });
  t.teardown(() => cpms.close());
  const dataDir = t.testdir();
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, dataDir, drivers: anyBadge });
  return { cpms, gateway, dataDir, received };
}

function read<T>(dataDir: string, use: (db: ReturnType<typeof openStore>) => T): T {
  const db = openStore(dataDir);
  try {
    return use(db);
  } finally {
    db.close();
  }
}

t.test('OCPP 1.6: over-long badge, boot fields and status info are relayed whole and kept cut', async (t) => {
  const { gateway, dataDir, received } = await site(t);
  const station = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CP-16', strictMode: false });
  t.teardown(() => station.close({ force: true }));
  const boot = {
    chargePointVendor: 'V'.repeat(30),
    chargePointModel: 'M'.repeat(20),
    chargePointSerialNumber: 'S'.repeat(10_000),
    firmwareVersion: 'F'.repeat(51),
  };
  await station.call('BootNotification', boot);
  await station.call('StatusNotification', { connectorId: 1, status: 'Available', errorCode: 'NoError', info: 'I'.repeat(51) });
  const longBadge = `ALICE-1${'x'.repeat(9_993)}`;
  await station.call('StartTransaction', { connectorId: 1, idTag: longBadge, meterStart: 0, timestamp: '2025-05-01T09:00:00Z' });
  await station.call('StartTransaction', { connectorId: 2, idTag: 'B'.repeat(20), meterStart: 0, timestamp: '2025-05-01T10:00:00Z' });

  t.same(received.get('BootNotification'), [boot], 'the CPMS got the boot fields unchanged');
  t.equal((received.get('StartTransaction')?.[0] as { idTag: string }).idTag, longBadge, 'and the 10,000 character idTag');

  const [details] = read(dataDir, (db) => new StationDetails(db).list());
  t.match(details, {
    stationId: 'CP-16',
    vendor: `${'V'.repeat(20)}${CUT}`,
    model: 'M'.repeat(20),
    serialNumber: `${'S'.repeat(25)}${CUT}`,
    firmwareVersion: `${'F'.repeat(50)}${CUT}`,
    connectors: [{ connectorId: 1, info: `${'I'.repeat(50)}${CUT}` }],
  }, 'CiString20 / 25 / 50: cut with the marker; a value at its maximum kept');

  const sessions = read(dataDir, (db) => new SessionRecords(db).list());
  t.match(sessions, [
    { connectorId: 2, idTag: 'B'.repeat(20), driverEmail: 'anyone@example.com' },
    { connectorId: 1, idTag: `ALICE-1${'x'.repeat(13)}${CUT}`, driverEmail: null },
  ], 'a badge at the CiString20Type maximum is looked up; a cut one names nobody');

  const counters = gateway.status().counters;
  t.equal(counters.sessionValuesTruncated, 5, 'vendor, serial, firmware, info, idTag');
  const published = gateway.status().recentEvents.map((event) => event.payload);
  t.match(published, [
    { event: 'connected' },
    { event: 'boot', vendor: `${'V'.repeat(20)}${CUT}`, serialNumber: `${'S'.repeat(25)}${CUT}` },
    { event: 'status' },
    { event: 'started', idTag: `ALICE-1${'x'.repeat(13)}${CUT}`, driver: null },
    { event: 'started', idTag: 'B'.repeat(20) },
  ], 'the events carry the bounded values');
});

t.test('OCPP 2.0.1: idToken at 36, ChargingStationType fields, an over-long transactionId is not recorded', async (t) => {
  const { gateway, dataDir, received } = await site(t);
  const station = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CS-201', protocols: ['ocpp2.0.1'], strictMode: false });
  t.teardown(() => station.close({ force: true }));
  await station.call('BootNotification', {
    reason: 'R'.repeat(60),
    chargingStation: { vendorName: 'V'.repeat(51), model: 'M'.repeat(21), serialNumber: 'S'.repeat(25), firmwareVersion: 'F'.repeat(50) },
  });
  const started = (transactionId: string, idToken: string) => ({
    eventType: 'Started',
    timestamp: '2025-05-01T09:00:00Z',
    triggerReason: 'Authorized',
    seqNo: 0,
    transactionInfo: { transactionId },
    idToken: { idToken, type: 'ISO14443' },
    evse: { id: 1, connectorId: 1 },
  });
  await station.call('TransactionEvent', started('tx-1', 'K'.repeat(37)));
  await station.call('TransactionEvent', started('tx-2', 'K'.repeat(36)));
  await station.call('TransactionEvent', started('T'.repeat(37), 'K'));
  t.equal(received.get('TransactionEvent')?.length, 3, 'every event reached the CPMS');

  const [details] = read(dataDir, (db) => new StationDetails(db).list());
  t.match(details, {
    vendor: `${'V'.repeat(50)}${CUT}`,
    model: `${'M'.repeat(20)}${CUT}`,
    serialNumber: 'S'.repeat(25),
    firmwareVersion: 'F'.repeat(50),
    bootReason: `${'R'.repeat(50)}${CUT}`,
  });
  const sessions = read(dataDir, (db) => new SessionRecords(db).list());
  t.same(
    sessions.map((session) => [session.transactionId, session.idTag, session.driverEmail]),
    [
      ['tx-2', 'K'.repeat(36), 'anyone@example.com'],
      ['tx-1', `${'K'.repeat(36)}${CUT}`, null],
    ],
    'identifierString[0..36]; the over-long transaction id is not a session',
  );
  const counters = gateway.status().counters;
  t.equal(counters.sessionValuesTruncated, 4, 'vendorName, model, reason, idToken');
  t.equal(counters.sessionPayloadsMalformed, 1, 'the over-long transactionId');
});

t.test('OCPP 2.1: IdTokenType.idToken is string[0..255]', async (t) => {
  const { gateway, dataDir } = await site(t);
  const station = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CS-21', protocols: ['ocpp2.1'], strictMode: false });
  t.teardown(() => station.close({ force: true }));
  t.equal(station.protocol, 'ocpp2.1');
  const started = (transactionId: string, idToken: string) => ({
    eventType: 'Started',
    timestamp: '2025-05-01T09:00:00Z',
    triggerReason: 'Authorized',
    seqNo: 0,
    transactionInfo: { transactionId },
    idToken: { idToken, type: 'Central' },
  });
  await station.call('TransactionEvent', started('tx-a', 'K'.repeat(255)));
  await station.call('TransactionEvent', started('tx-b', 'K'.repeat(256)));
  const sessions = read(dataDir, (db) => new SessionRecords(db).list());
  t.same(
    sessions.map((session) => [session.transactionId, session.idTag?.length, session.driverEmail]).sort(),
    [
      ['tx-a', 255, 'anyone@example.com'],
      ['tx-b', 256, null],
    ],
  );
  t.equal(gateway.status().counters.sessionValuesTruncated, 1);
});
