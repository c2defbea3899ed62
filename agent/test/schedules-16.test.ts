/**
 * Cloud schedules on OCPP 1.6 stations, end to end: a real gateway, an
 * independent CPMS and stations (ocpp-rpc in strict mode: a station rejects a
 * SetChargingProfile that breaks the official schema), a real SQLite file.
 * The command handlers are called directly, as the MQTT dispatcher would.
 */
import t, { type Test } from 'tap';
import { CommandError } from '../src/cloud/cloud-command.js';
import type { Gateway } from '../src/gateway.js';
import { GATEWAY_ID_PREFIX } from '../src/proxy/call-lane.js';
import { scheduleCommandHandlers } from '../src/schedules/schedule-commands.js';
import { ScheduleService } from '../src/schedules/schedule-service.js';
import type { ScheduleEvent } from '../src/events/gateway-events.js';
import { RecentEvents } from '../src/sessions/recent-events.js';
import { createLogger } from '../src/util/logger.js';
import { BOOT_1_6, connectStation, startCpms, type RpcPeer, type TestCpms } from './helpers/ocpp-peers.js';
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

/**
 * A gateway with the schedule service built against it, as the gateway will
 * build it: its store, itself as the StationCaller, an observer in its pipeline.
 */
async function startRig(t: Test, upstreamUrl: string, dataDir: string, settleMs = 150): Promise<Rig> {
  const events = new RecentEvents();
  const level = process.env.PLEEVI_TEST_LOG;
  const logger = createLogger(level === 'debug' || level === 'info' ? level : 'silent');
  const gateway = await startTestGateway(t, { upstreamUrl, dataDir, events, logger, scheduleSettleMs: settleMs, callTimeoutMs: 1000 });
  const built = gateway.schedules;
  const [setHandler, clearHandler] = scheduleCommandHandlers(built);
  return {
    gateway,
    service: built,
    endpoint: stationEndpoint(gateway),
    set: (body) => setHandler!.execute({ id: `cmd-${++commandIds}`, name: 'set-schedule', body: { id: `cmd-${commandIds}`, ...body } }),
    clear: (scheduleId) => clearHandler!.execute({ id: `cmd-${++commandIds}`, name: 'clear-schedule', body: { id: `cmd-${commandIds}`, scheduleId } }),
    scheduleEvents: () => events.list().flatMap((event) => (event.topic === 'schedule' ? [event.payload] : [])),
  };
}

interface CpmsRig {
  readonly cpms: TestCpms;
  /** Every frame the CPMS sent or received, per station. */
  readonly frames: Map<string, string[]>;
}

async function startAcceptingCpms(t: Test): Promise<CpmsRig> {
  const frames = new Map<string, string[]>();
  const cpms = await startCpms({
    protocols: ['ocpp1.6'],
    onClient: (client: RpcPeer) => {
      const seen: string[] = frames.get(client.identity ?? '') ?? [];
      frames.set(client.identity ?? '', seen);
      client.on('message', ({ message }) => void seen.push(String(message)));
      client.handle('BootNotification', () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 }));
      client.handle('StatusNotification', () => ({}));
    },
  });
  t.teardown(() => cpms.close());
  return { cpms, frames };
}

interface TestStation {
  readonly peer: RpcPeer;
  /** Calls the station received from "its CPMS" (the gateway's included), in order. */
  readonly calls: Array<{ readonly action: string; readonly params: Record<string, unknown> }>;
  readonly log: string[];
  /** Frames the station received, raw, in arrival order. */
  readonly received: string[];
}

interface StationBehaviour {
  setStatus?: () => unknown;
}

async function station(t: Test, endpoint: string, identity: string, behaviour: StationBehaviour = {}): Promise<TestStation> {
  const peer = await connectStation({ endpoint, identity, protocols: ['ocpp1.6'] });
  t.teardown(() => peer.close({ force: true }));
  const calls: TestStation['calls'] = [];
  const log: string[] = [];
  const received: string[] = [];
  peer.on('message', ({ message, outbound }) => {
    if (!outbound) received.push(String(message));
  });
  peer.handle('SetChargingProfile', ({ params }) => {
    calls.push({ action: 'SetChargingProfile', params: params as Record<string, unknown> });
    log.push('SetChargingProfile');
    return behaviour.setStatus ? behaviour.setStatus() : { status: 'Accepted' };
  });
  peer.handle('ClearChargingProfile', ({ params }) => {
    calls.push({ action: 'ClearChargingProfile', params: params as Record<string, unknown> });
    log.push('ClearChargingProfile');
    return { status: 'Accepted' };
  });
  return { peer, calls, log, received };
}

function setCount(station: TestStation): number {
  return station.calls.filter((call) => call.action === 'SetChargingProfile').length;
}

const MAX_16 = { scheduleId: 'site-cap', stationId: 'CP-16', connectorId: 0, purpose: 'max', unit: 'A', periods: [{ startOffsetS: 0, limit: 32 }, { startOffsetS: 3600, limit: 16.5, phases: 3 }] };

async function rejection(promise: Promise<unknown>): Promise<CommandError> {
  try {
    await promise;
  } catch (error: unknown) {
    if (error instanceof CommandError) return error;
    throw error;
  }
  throw new Error('the command was accepted');
}

t.test('applied on a connected 1.6 station with the gateway profile id and stack level; the CPMS never sees it', async (t) => {
  const { cpms, frames } = await startAcceptingCpms(t);
  const rig = await startRig(t, cpms.url, t.testdir());
  const cp = await station(t, rig.endpoint, 'CP-16');
  await cp.peer.call('BootNotification', BOOT_1_6);

  const ack = await rig.set(MAX_16);
  t.same(ack, { scheduleId: 'site-cap', stationId: 'CP-16', profileId: 900000, state: 'applied', status: 'Accepted' });
  t.equal(setCount(cp), 1);
  t.same(cp.calls[0]?.params, {
    connectorId: 0,
    csChargingProfiles: {
      chargingProfileId: 900000,
      stackLevel: 8,
      chargingProfileKind: 'Absolute',
      chargingProfilePurpose: 'ChargePointMaxProfile',
      chargingSchedule: {
        chargingRateUnit: 'A',
        chargingSchedulePeriod: [
          { startPeriod: 0, limit: 32 },
          { startPeriod: 3600, limit: 16.5, numberPhases: 3 },
        ],
        startSchedule: (cp.calls[0]?.params['csChargingProfiles'] as { chargingSchedule: { startSchedule: string } }).chargingSchedule.startSchedule,
      },
    },
  });

  // The same scheduleId again: same profile id, so the station overwrites it in place.
  const again = await rig.set({ ...MAX_16, periods: [{ startOffsetS: 0, limit: 20 }] });
  t.match(again, { profileId: 900000, state: 'applied' });
  // A second schedule gets the next id.
  const second = await rig.set({ scheduleId: 'evening', stationId: 'CP-16', connectorId: 1, purpose: 'default', unit: 'W', periods: [{ startOffsetS: 0, limit: 7400 }] });
  t.match(second, { profileId: 900001, state: 'applied' });
  t.match(cp.calls[2]?.params, { connectorId: 1, csChargingProfiles: { chargingProfileKind: 'Relative', chargingProfilePurpose: 'TxDefaultProfile' } });

  const cleared = await rig.clear('evening');
  t.same(cleared, { scheduleId: 'evening', stationId: 'CP-16', profileId: 900001, state: 'cleared', status: 'Accepted' });
  t.same(cp.calls[3], { action: 'ClearChargingProfile', params: { id: 900001 } }, 'cleared by the gateway id only');
  t.same(await rig.clear('evening'), { scheduleId: 'evening', stationId: 'CP-16', profileId: 900001, state: 'cleared' }, 'clearing twice sends nothing');
  t.equal(cp.calls.length, 4);
  // Reusing a cleared scheduleId keeps its id; a new one never gets a cleared one's id.
  t.match(await rig.set({ scheduleId: 'night', stationId: 'CP-16', connectorId: 1, purpose: 'default', unit: 'A', periods: [{ startOffsetS: 0, limit: 10 }] }), { profileId: 900002 });

  const upstream = (frames.get('CP-16') ?? []).join('\n');
  t.match(upstream, /BootNotification/, 'the CPMS saw the station traffic');
  t.notMatch(upstream, /ChargingProfile/, 'the CPMS saw neither the gateway calls nor the replies');
  t.notMatch(upstream, new RegExp(GATEWAY_ID_PREFIX));
  t.same(rig.scheduleEvents(), [], 'command outcomes go in the acks, not as events');
});

t.test('error codes: unknown station, unknown schedule, invalid arguments, Rejected, CALLERROR', async (t) => {
  const { cpms } = await startAcceptingCpms(t);
  const rig = await startRig(t, cpms.url, t.testdir());
  let answer: () => unknown = () => ({ status: 'Rejected' });
  const cp = await station(t, rig.endpoint, 'CP-16', { setStatus: () => answer() });

  t.match(await rejection(rig.set({ ...MAX_16, stationId: 'CP-NOBODY' })), { ackCode: 'unknown_station', message: /CP-NOBODY has never connected/ });
  t.match(await rejection(rig.clear('no-such')), { ackCode: 'unknown_schedule', message: /no-such/ });
  t.match(await rejection(rig.set({ ...MAX_16, periods: [{ startOffsetS: 0, limit: 16.25 }] })), { ackCode: 'invalid_argument', message: /one decimal/ });
  t.match(await rejection(rig.set({ ...MAX_16, connectorId: 2 })), { ackCode: 'invalid_argument', message: /connectorId must be 0/ });
  t.equal(cp.calls.length, 0, 'nothing invalid reached the station');

  t.same(await rig.set(MAX_16), { scheduleId: 'site-cap', stationId: 'CP-16', profileId: 900000, state: 'rejected', status: 'Rejected' }, 'a Rejected answer is an outcome, acked ok');
  t.match(await rejection(rig.set({ ...MAX_16, scheduleId: 'second-cap' })), { ackCode: 'invalid_argument', message: /already has schedule site-cap/ }, 'same purpose and connector would share the stack level');

  answer = () => {
    throw new Error('flash busy');
  };
  const failed = await rejection(rig.set(MAX_16));
  t.equal(failed.ackCode, 'station_error');
  t.match(failed.message, /CALLERROR GenericError: flash busy; the schedule is kept and sent again/);
  t.match(rig.service.list()[0], { scheduleId: 'site-cap', state: 'failed', lastResult: 'failed' });

  // Retried on the next trigger: the station reconnects and now accepts.
  answer = () => ({ status: 'Accepted' });
  await cp.peer.close({ force: true });
  await waitUntil(() => !rig.gateway.isConnected('CP-16'), 'the station is gone');
  const back = await station(t, rig.endpoint, 'CP-16');
  await waitUntil(() => rig.scheduleEvents().length > 0, 'a schedule event');
  t.same(rig.scheduleEvents(), [{ event: 'applied', scheduleId: 'site-cap', stationId: 'CP-16', connectorId: 0, profileId: 900000, status: 'Accepted', reason: 'station connected' }]);
  t.equal(setCount(back), 1);
});

t.test('pending while offline, applied on connect; re-applied after reboot, reconnect and a CPMS ClearChargingProfile', async (t) => {
  const { cpms } = await startAcceptingCpms(t);
  const rig = await startRig(t, cpms.url, t.testdir());
  const first = await connectStation({ endpoint: rig.endpoint, identity: 'CP-16' });
  await first.close();
  await waitUntil(() => !rig.gateway.isConnected('CP-16'), 'the station is gone');

  t.same(await rig.set(MAX_16), { scheduleId: 'site-cap', stationId: 'CP-16', profileId: 900000, state: 'pending' });

  // Connects without booting (a network reconnect): applied once the settle time passes.
  let cp = await station(t, rig.endpoint, 'CP-16');
  await waitUntil(() => setCount(cp) === 1, 'the pending schedule is applied');
  await waitUntil(() => rig.scheduleEvents().length === 1, 'the applied event');
  t.match(rig.scheduleEvents()[0], { event: 'applied', profileId: 900000, status: 'Accepted', reason: 'station connected' });

  // Reboot: BootNotification; the profile goes out after the CPMS's answer reached the station.
  const framesBefore = cp.received.length;
  await cp.peer.call('BootNotification', BOOT_1_6);
  await waitUntil(() => setCount(cp) === 2, 're-applied after the boot');
  const afterBoot = cp.received.slice(framesBefore).map((text) => JSON.parse(text) as unknown[]);
  t.match(afterBoot, [[3, String, { status: 'Accepted' }], [2, new RegExp(`^${GATEWAY_ID_PREFIX}`), 'SetChargingProfile']], 'the boot answer first, then the profile');
  await waitUntil(() => rig.scheduleEvents().length === 2, 'the reapplied event');
  t.match(rig.scheduleEvents()[1], { event: 'reapplied', status: 'Accepted', reason: /BootNotification accepted/ });

  // Reconnect.
  await cp.peer.close();
  await waitUntil(() => !rig.gateway.isConnected('CP-16'), 'the station is gone');
  cp = await station(t, rig.endpoint, 'CP-16');
  await waitUntil(() => setCount(cp) === 1, 're-applied after the reconnect');
  await waitUntil(() => rig.scheduleEvents().length === 3, 'the reapplied event');
  t.match(rig.scheduleEvents()[2], { event: 'reapplied', reason: 'station connected' });

  // The CPMS clears someone else's profile by id: nothing to do.
  const cpmsSide = cpms.clients.get('CP-16');
  if (!cpmsSide) throw new Error('the CPMS has no connection for CP-16');
  t.same(await cpmsSide.call('ClearChargingProfile', { id: 12 }), { status: 'Accepted' });
  // The CPMS clears every profile: the gateway puts its own back.
  t.same(await cpmsSide.call('ClearChargingProfile', {}), { status: 'Accepted' });
  await waitUntil(() => setCount(cp) === 2, 're-applied after the CPMS cleared all profiles');
  await waitUntil(() => rig.scheduleEvents().length === 4, 'the reapplied event');
  t.match(rig.scheduleEvents()[3], { event: 'reapplied', reason: 'the CPMS cleared charging profiles on the station' });
  await rig.service.idle();
  t.equal(setCount(cp), 2, 'the clear by another id caused no re-apply');
  t.same(
    cp.calls.filter((call) => call.action === 'ClearChargingProfile').map((call) => call.params),
    [{ id: 12 }, {}],
    'the CPMS calls reached the station untouched',
  );
});

t.test('lane rule: a CPMS call held by a slow station goes first, the schedule after it', async (t) => {
  const { cpms } = await startAcceptingCpms(t);
  const rig = await startRig(t, cpms.url, t.testdir());
  const cp = await station(t, rig.endpoint, 'CP-16');
  let release: () => void = () => undefined;
  cp.peer.handle('GetConfiguration', async () => {
    cp.log.push('GetConfiguration received');
    await new Promise<void>((resolve) => {
      release = resolve;
    });
    cp.log.push('GetConfiguration answered');
    return { configurationKey: [{ key: 'HeartbeatInterval', readonly: false, value: '300' }] };
  });
  await waitUntil(() => cpms.clients.has('CP-16'), 'the upstream is open');
  const cpmsCall = cpms.clients.get('CP-16')?.call('GetConfiguration', {});
  await waitUntil(() => cp.log.includes('GetConfiguration received'), 'the station holds the CPMS call');

  const ack = rig.set(MAX_16);
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.equal(setCount(cp), 0, 'the gateway waits while the CPMS call is outstanding');
  t.equal(rig.gateway.status().stations[0]?.queuedGatewayCalls, 1);
  release();
  t.match(await cpmsCall, { configurationKey: [{ key: 'HeartbeatInterval' }] }, 'the CPMS got its answer');
  t.match(await ack, { state: 'applied', status: 'Accepted' });
  t.same(cp.log, ['GetConfiguration received', 'GetConfiguration answered', 'SetChargingProfile']);
});

t.test('expiry: past validUntil the profile is cleared on the station and reported', async (t) => {
  const { cpms } = await startAcceptingCpms(t);
  const rig = await startRig(t, cpms.url, t.testdir());
  const cp = await station(t, rig.endpoint, 'CP-16');
  const validUntil = new Date(Date.now() + 1200).toISOString();
  t.match(await rig.set({ ...MAX_16, validUntil }), { state: 'applied' });
  t.match(cp.calls[0]?.params, { csChargingProfiles: { validTo: validUntil } }, 'the station also knows when it ends');

  await waitUntil(() => rig.scheduleEvents().length === 1, 'the expired event', 5000);
  t.same(rig.scheduleEvents()[0], { event: 'expired', scheduleId: 'site-cap', stationId: 'CP-16', connectorId: 0, profileId: 900000, status: 'Accepted', reason: `validUntil ${validUntil} passed` });
  t.same(cp.calls[1], { action: 'ClearChargingProfile', params: { id: 900000 } });
  t.same(rig.service.list(), [], 'nothing in force any more');
  t.match(await rig.clear('site-cap'), { state: 'expired' });
});

t.test('schedules survive a gateway restart and are re-applied when the station connects', async (t) => {
  const { cpms } = await startAcceptingCpms(t);
  const dataDir = t.testdir();
  const before = await startRig(t, cpms.url, dataDir);
  const cp = await station(t, before.endpoint, 'CP-16');
  t.match(await before.set(MAX_16), { state: 'applied' });
  await cp.peer.close({ force: true });
  before.service.close();
  await before.gateway.close();

  const after = await startRig(t, cpms.url, dataDir);
  t.match(after.service.list(), [{ scheduleId: 'site-cap', profileId: 900000, state: 'applied' }]);
  const again = await station(t, after.endpoint, 'CP-16');
  await waitUntil(() => setCount(again) === 1, 're-applied after the restart');
  t.match(again.calls[0]?.params, { csChargingProfiles: { chargingProfileId: 900000, stackLevel: 8 } });
  await waitUntil(() => after.scheduleEvents().length === 1, 'the reapplied event');
  t.match(after.scheduleEvents()[0], { event: 'reapplied', reason: 'station connected' });
  t.match(await after.set({ scheduleId: 'other', stationId: 'CP-16', connectorId: 1, purpose: 'default', unit: 'A', periods: [{ startOffsetS: 0, limit: 6 }] }), { profileId: 900001 }, 'ids continue after the restart');
});
