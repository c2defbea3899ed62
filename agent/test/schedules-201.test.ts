/**
 * Cloud schedules on OCPP 2.0.1 stations, end to end: a real gateway, an
 * independent CPMS and stations (ocpp-rpc in strict mode: a station rejects a
 * SetChargingProfile that breaks the official 2.0.1 schema), a real SQLite
 * file, an injected clock for expiry.
 */
import t, { type Test } from 'tap';
import type { Gateway } from '../src/gateway.js';
import { GATEWAY_ID_PREFIX } from '../src/proxy/call-lane.js';
import { scheduleCommandHandlers } from '../src/schedules/schedule-commands.js';
import { ScheduleService } from '../src/schedules/schedule-service.js';
import type { ScheduleEvent } from '../src/events/gateway-events.js';
import { RecentEvents } from '../src/sessions/recent-events.js';
import { createLogger } from '../src/util/logger.js';
import { BOOT_2_0_1, connectStation, startCpms, type RpcPeer, type TestCpms } from './helpers/ocpp-peers.js';
import { startTestGateway, stationEndpoint } from './helpers/test-gateway.js';
import { waitUntil } from './helpers/wait-until.js';

interface Rig {
  readonly gateway: Gateway;
  readonly service: ScheduleService;
  readonly endpoint: string;
  set(body: Record<string, unknown>): Promise<unknown>;
  clear(scheduleId: string): Promise<unknown>;
  scheduleEvents(): ScheduleEvent[];
}

let commandIds = 0;

/** The schedule service built against a real gateway: its store, itself as StationCaller, an observer in its pipeline. */
async function startRig(t: Test, upstreamUrl: string, now: () => Date = () => new Date()): Promise<Rig> {
  const events = new RecentEvents();
  const logger = createLogger(process.env.PLEEVI_TEST_LOG === 'debug' ? 'debug' : 'silent');
  const gateway = await startTestGateway(t, { upstreamUrl, events, logger, now, scheduleSettleMs: 150, callTimeoutMs: 1000 });
  const built = gateway.schedules;
  const [setHandler, clearHandler] = scheduleCommandHandlers(built, now);
  return {
    gateway,
    service: built,
    endpoint: stationEndpoint(gateway),
    set: (body) => setHandler!.execute({ id: `cmd-${++commandIds}`, name: 'set-schedule', body: { id: `cmd-${commandIds}`, ...body } }),
    clear: (scheduleId) => clearHandler!.execute({ id: `cmd-${++commandIds}`, name: 'clear-schedule', body: { id: `cmd-${commandIds}`, scheduleId } }),
    scheduleEvents: () => events.list().flatMap((event) => (event.topic === 'schedule' ? [event.payload] : [])),
  };
}

async function startAcceptingCpms(t: Test): Promise<{ cpms: TestCpms; frames: string[] }> {
  const frames: string[] = [];
  const cpms = await startCpms({
    protocols: ['ocpp2.0.1'],
    onClient: (client: RpcPeer) => {
      client.on('message', ({ message }) => void frames.push(String(message)));
      client.handle('BootNotification', () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 }));
    },
  });
  t.teardown(() => cpms.close());
  return { cpms, frames };
}

interface TestStation {
  readonly peer: RpcPeer;
  readonly calls: Array<{ readonly action: string; readonly params: Record<string, unknown> }>;
}

async function station(t: Test, endpoint: string, setAnswer: () => unknown = () => ({ status: 'Accepted' })): Promise<TestStation> {
  const peer = await connectStation({ endpoint, identity: 'CS-201', protocols: ['ocpp2.0.1'] });
  t.teardown(() => peer.close({ force: true }));
  const calls: TestStation['calls'] = [];
  peer.handle('SetChargingProfile', ({ params }) => {
    calls.push({ action: 'SetChargingProfile', params: params as Record<string, unknown> });
    return setAnswer();
  });
  peer.handle('ClearChargingProfile', ({ params }) => {
    calls.push({ action: 'ClearChargingProfile', params: params as Record<string, unknown> });
    return { status: 'Accepted' };
  });
  return { peer, calls };
}

function sets(station: TestStation): Array<Record<string, unknown>> {
  return station.calls.filter((call) => call.action === 'SetChargingProfile').map((call) => call.params);
}

const MAX = { scheduleId: 'site-cap', stationId: 'CS-201', connectorId: 0, purpose: 'max', unit: 'W', periods: [{ startOffsetS: 0, limit: 22000 }] };
const DEFAULT = { scheduleId: 'evse-1', stationId: 'CS-201', connectorId: 1, purpose: 'default', unit: 'A', periods: [{ startOffsetS: 0, limit: 32, phases: 3 }, { startOffsetS: 1800, limit: 16 }] };

t.test('applied on a 2.0.1 station in all three kinds, schema-valid; the CPMS never sees it', async (t) => {
  const { cpms, frames } = await startAcceptingCpms(t);
  const rig = await startRig(t, cpms.url);
  const cs = await station(t, rig.endpoint);
  await cs.peer.call('BootNotification', BOOT_2_0_1);

  t.same(await rig.set(MAX), { scheduleId: 'site-cap', stationId: 'CS-201', profileId: 900000, state: 'applied', status: 'Accepted' });
  t.match(sets(cs)[0], {
    evseId: 0,
    chargingProfile: {
      id: 900000,
      stackLevel: 8,
      chargingProfilePurpose: 'ChargingStationMaxProfile',
      chargingProfileKind: 'Absolute',
      chargingSchedule: [{ id: 900000, chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 22000 }], startSchedule: String }],
    },
  });

  t.match(await rig.set(DEFAULT), { profileId: 900001, state: 'applied' });
  const relative = sets(cs)[1] as { evseId: number; chargingProfile: { chargingProfileKind: string; chargingProfilePurpose: string; chargingSchedule: Array<Record<string, unknown>> } };
  t.equal(relative.evseId, 1);
  t.equal(relative.chargingProfile.chargingProfilePurpose, 'TxDefaultProfile');
  t.equal(relative.chargingProfile.chargingProfileKind, 'Relative');
  t.notOk('startSchedule' in (relative.chargingProfile.chargingSchedule[0] ?? {}), 'K01.FR.41: no startSchedule on a Relative profile');

  const nightly = { scheduleId: 'evse-2-nightly', stationId: 'CS-201', connectorId: 2, purpose: 'default', unit: 'A', startsAt: '2025-03-01T22:00:00Z', recurrency: 'daily', periods: [{ startOffsetS: 0, limit: 32 }, { startOffsetS: 28800, limit: 10 }] };
  t.match(await rig.set(nightly), { profileId: 900002, state: 'applied' });
  t.match(sets(cs)[2], { evseId: 2, chargingProfile: { chargingProfileKind: 'Recurring', recurrencyKind: 'Daily', chargingSchedule: [{ startSchedule: '2025-03-01T22:00:00.000Z' }] } });

  t.same(await rig.clear('evse-2-nightly'), { scheduleId: 'evse-2-nightly', stationId: 'CS-201', profileId: 900002, state: 'cleared', status: 'Accepted' });
  t.same(cs.calls.at(-1), { action: 'ClearChargingProfile', params: { chargingProfileId: 900002 } });

  const upstream = frames.join('\n');
  t.match(upstream, /BootNotification/);
  t.notMatch(upstream, /ChargingProfile/, 'no gateway call or reply went upstream');
  t.notMatch(upstream, new RegExp(GATEWAY_ID_PREFIX));
});

t.test('a Rejected answer with its reason code is acked as rejected', async (t) => {
  const { cpms } = await startAcceptingCpms(t);
  const rig = await startRig(t, cpms.url);
  await station(t, rig.endpoint, () => ({ status: 'Rejected', statusInfo: { reasonCode: 'UnsupportedRateUnit' } }));
  t.same(await rig.set(MAX), { scheduleId: 'site-cap', stationId: 'CS-201', profileId: 900000, state: 'rejected', status: 'Rejected' });
  t.match(rig.service.list(), [{ state: 'rejected', lastStatus: 'Rejected', lastReason: 'UnsupportedRateUnit' }]);
});

t.test('pending while offline; applied on boot; a CPMS ClearChargingProfile re-applies only what it hit', async (t) => {
  const { cpms } = await startAcceptingCpms(t);
  const rig = await startRig(t, cpms.url);
  const once = await connectStation({ endpoint: rig.endpoint, identity: 'CS-201', protocols: ['ocpp2.0.1'] });
  await once.close();
  await waitUntil(() => !rig.gateway.isConnected('CS-201'), 'the station is gone');

  t.match(await rig.set(MAX), { state: 'pending' });
  t.match(await rig.set(DEFAULT), { state: 'pending' });

  // Connects and boots at once: the profiles wait for the accepted boot, then go out once.
  const cs = await station(t, rig.endpoint);
  await cs.peer.call('BootNotification', BOOT_2_0_1);
  await waitUntil(() => rig.scheduleEvents().length === 2, 'both applied');
  t.match(rig.scheduleEvents(), [
    { event: 'applied', scheduleId: 'site-cap', profileId: 900000, status: 'Accepted', reason: /BootNotification accepted/ },
    { event: 'applied', scheduleId: 'evse-1', profileId: 900001, status: 'Accepted', reason: /BootNotification accepted/ },
  ]);
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.equal(sets(cs).length, 2, 'the connect did not send them a second time');

  // The CPMS clears the TxDefaultProfiles on EVSE 1: only the gateway's default there comes back.
  const cpmsSide = cpms.clients.get('CS-201');
  if (!cpmsSide) throw new Error('no CPMS connection for CS-201');
  t.same(await cpmsSide.call('ClearChargingProfile', { chargingProfileCriteria: { evseId: 1, chargingProfilePurpose: 'TxDefaultProfile' } }), { status: 'Accepted' });
  await waitUntil(() => rig.scheduleEvents().length === 3, 'one reapplied');
  t.match(rig.scheduleEvents()[2], { event: 'reapplied', scheduleId: 'evse-1', reason: 'the CPMS cleared charging profiles on the station' });
  await rig.service.idle();
  t.equal(sets(cs).length, 3);
  t.match(sets(cs)[2], { evseId: 1, chargingProfile: { id: 900001 } });
});

t.test('expiry on the injected clock: cleared by id and reported', async (t) => {
  const { cpms } = await startAcceptingCpms(t);
  let clock = Date.parse('2025-03-01T12:00:00Z');
  const rig = await startRig(t, cpms.url, () => new Date(clock));
  const cs = await station(t, rig.endpoint);
  t.match(await rig.set({ ...DEFAULT, validUntil: '2025-03-01T13:00:00Z' }), { state: 'applied' });
  t.match(sets(cs)[0], { chargingProfile: { validTo: '2025-03-01T13:00:00.000Z' } });

  await rig.service.expireDue();
  t.same(rig.scheduleEvents(), [], 'not yet');
  clock = Date.parse('2025-03-01T13:00:01Z');
  await rig.service.expireDue();
  t.same(rig.scheduleEvents(), [
    { event: 'expired', scheduleId: 'evse-1', stationId: 'CS-201', connectorId: 1, profileId: 900000, status: 'Accepted', reason: 'validUntil 2025-03-01T13:00:00.000Z passed' },
  ]);
  t.same(cs.calls.at(-1), { action: 'ClearChargingProfile', params: { chargingProfileId: 900000 } });
  t.same(rig.service.list(), []);
});
