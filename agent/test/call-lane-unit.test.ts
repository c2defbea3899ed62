/**
 * CallLane on its own, with an injected clock: the lane's `now` option for the
 * late-reply memory, and Node's mock timers (node:test) for its setTimeout
 * timers, so timeouts are stepped exactly instead of waited for.
 */
import t, { type Test } from 'tap';
import { mock } from 'node:test';
import { CallTimeoutError, StationGoneError } from '../src/errors.js';
import type { GatewayCallOutcome } from '../src/ocpp/gateway-call-outcome.js';
import type { CallFrame } from '../src/ocpp/ocpp-frame.js';
import { CallLane, GATEWAY_ID_PREFIX } from '../src/proxy/call-lane.js';

const CALL_TIMEOUT_MS = 1000;

/** A CPMS call as the link hands it to the lane (header only: action and id). */
function cpmsCallFrame(id: string): CallFrame {
  return { messageType: 2, id, action: 'TriggerMessage', payload: undefined };
}
const LATE_REPLY_MEMORY_MS = 10 * 60_000;

interface Tracked {
  state: 'pending' | 'resolved' | 'rejected';
  outcome?: GatewayCallOutcome;
  error?: unknown;
}

/** Record how a gateway call settles (a handler is attached at once, so a rejection is never unhandled). */
function track(promise: Promise<GatewayCallOutcome>): Tracked {
  const tracked: Tracked = { state: 'pending' };
  promise.then(
    (outcome) => {
      tracked.state = 'resolved';
      tracked.outcome = outcome;
    },
    (error: unknown) => {
      tracked.state = 'rejected';
      tracked.error = error;
    },
  );
  return tracked;
}

/** Let promise callbacks run (setImmediate is not mocked). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface LaneHarness {
  readonly lane: CallLane;
  /** Everything written to the station, in order: CPMS calls by id, gateway calls as their frame. */
  readonly toStation: string[];
  readonly gatewayCalls: Array<{ readonly call: CallFrame; readonly text: string }>;
  /** A CPMS call's `send`: records its id on the way to the station. */
  cpms(id: string): () => void;
  /** Move the clock and the timers forward together. */
  advance(ms: number): Promise<void>;
}

function harness(t: Test): LaneHarness {
  mock.timers.enable({ apis: ['setTimeout'] });
  t.teardown(() => mock.timers.reset());
  let clock = 1_000_000;
  const toStation: string[] = [];
  const gatewayCalls: Array<{ call: CallFrame; text: string }> = [];
  const lane = new CallLane({
    stationId: 'CP-UNIT',
    callTimeoutMs: CALL_TIMEOUT_MS,
    sendToStation: (call, text) => {
      toStation.push(`gateway:${call.action}`);
      gatewayCalls.push({ call, text });
    },
    now: () => clock,
  });
  return {
    lane,
    toStation,
    gatewayCalls,
    cpms: (id) => () => {
      toStation.push(`cpms:${id}`);
    },
    advance: async (ms) => {
      clock += ms;
      mock.timers.tick(ms);
      await settle();
    },
  };
}

function result(id: string, payload: unknown = {}): { messageType: 3; id: string; payload: unknown } {
  return { messageType: 3, id, payload };
}

t.test('a CPMS call is sent at once when the lane is idle', async (t) => {
  const { lane, toStation, cpms } = harness(t);
  lane.submitCpmsCall(cpmsCallFrame('c1'), cpms('c1'));
  t.same(toStation, ['cpms:c1'], 'written synchronously');
  t.equal(lane.heldCpmsCallCount, 0);
  t.same(lane.takeStationReply(result('c1')), { owner: 'cpms', call: cpmsCallFrame('c1') }, 'its reply belongs to the CPMS');
  t.equal(lane.takeStationReply(result('c1')), undefined, 'and is taken only once');
});

t.test('a gateway call waits while a CPMS call is outstanding', async (t) => {
  const { lane, toStation, gatewayCalls, cpms } = harness(t);
  lane.submitCpmsCall(cpmsCallFrame('c1'), cpms('c1'));
  const call = track(lane.call('GetConfiguration', { key: ['HeartbeatInterval'] }));
  t.same(toStation, ['cpms:c1'], 'gateway call not sent');
  t.equal(lane.queuedGatewayCallCount, 1);

  t.same(lane.takeStationReply(result('c1')), { owner: 'cpms', call: cpmsCallFrame('c1') });
  t.same(toStation, ['cpms:c1', 'gateway:GetConfiguration'], 'sent as soon as the CPMS call is answered');
  const sent = gatewayCalls[0];
  t.ok(sent);
  if (!sent) return;
  t.same(JSON.parse(sent.text), [2, sent.call.id, 'GetConfiguration', { key: ['HeartbeatInterval'] }], 'serialized as an OCPP-J CALL');

  t.equal(lane.ownsReply(sent.call.id), true);
  const owner = lane.takeStationReply(result(sent.call.id, { configurationKey: [] }));
  t.same(owner, { owner: 'gateway', call: sent.call });
  await settle();
  t.equal(call.state, 'resolved');
  t.same(call.outcome, { kind: 'result', payload: { configurationKey: [] } });
  t.equal(lane.queuedGatewayCallCount, 0);
});

t.test('a CALLERROR answers a gateway call with an error outcome', async (t) => {
  const { lane, gatewayCalls } = harness(t);
  const call = track(lane.call('Reset', { type: 'Soft' }));
  const id = gatewayCalls[0]?.call.id ?? '';
  lane.takeStationReply({ messageType: 4, id, errorCode: 'NotImplemented', errorDescription: 'no', errorDetails: {} });
  await settle();
  t.same(call.outcome, { kind: 'error', errorCode: 'NotImplemented', errorDescription: 'no', errorDetails: {} });
});

t.test('CPMS calls are held, in order, while a gateway call is outstanding', async (t) => {
  const { lane, toStation, gatewayCalls, cpms } = harness(t);
  const call = track(lane.call('GetConfiguration', {}));
  t.same(toStation, ['gateway:GetConfiguration']);
  for (const id of ['c1', 'c2', 'c3']) lane.submitCpmsCall(cpmsCallFrame(id), cpms(id));
  t.same(toStation, ['gateway:GetConfiguration'], 'no CPMS call goes out while the gateway call is outstanding');
  t.equal(lane.heldCpmsCallCount, 3);

  lane.takeStationReply(result(gatewayCalls[0]?.call.id ?? ''));
  await settle();
  t.equal(call.state, 'resolved');
  t.same(toStation, ['gateway:GetConfiguration', 'cpms:c1'], 'the first held call goes out');
  lane.submitCpmsCall(cpmsCallFrame('c4'), cpms('c4'));
  t.same(toStation, ['gateway:GetConfiguration', 'cpms:c1'], 'a new CPMS call queues behind the held ones');
  for (const [answered, next] of [['c1', 'c2'], ['c2', 'c3'], ['c3', 'c4']] as const) {
    t.same(lane.takeStationReply(result(answered)), { owner: 'cpms', call: cpmsCallFrame(answered) });
    t.equal(toStation.at(-1), `cpms:${next}`, `${next} follows the answer to ${answered}`);
  }
  t.same(toStation, ['gateway:GetConfiguration', 'cpms:c1', 'cpms:c2', 'cpms:c3', 'cpms:c4'], 'the CPMS order is kept');
  t.equal(lane.heldCpmsCallCount, 0);
});

t.test('CPMS first: held CPMS calls go before queued gateway calls', async (t) => {
  const { lane, toStation, gatewayCalls, cpms } = harness(t);
  const first = track(lane.call('GetConfiguration', {}));
  const second = track(lane.call('ClearChargingProfile', {}));
  lane.submitCpmsCall(cpmsCallFrame('c1'), cpms('c1'));
  t.same(toStation, ['gateway:GetConfiguration']);
  t.equal(lane.queuedGatewayCallCount, 2);

  lane.takeStationReply(result(gatewayCalls[0]?.call.id ?? ''));
  t.same(toStation, ['gateway:GetConfiguration', 'cpms:c1'], 'the held CPMS call goes before the queued gateway call');
  lane.takeStationReply(result('c1'));
  t.same(toStation, ['gateway:GetConfiguration', 'cpms:c1', 'gateway:ClearChargingProfile'], 'then the gateway call');
  lane.takeStationReply(result(gatewayCalls[1]?.call.id ?? ''));
  await settle();
  t.equal(first.state, 'resolved');
  t.equal(second.state, 'resolved');
});

t.test('a gateway call that times out frees the lane; its late reply is swallowed once', async (t) => {
  const { lane, toStation, gatewayCalls, cpms, advance } = harness(t);
  const call = track(lane.call('GetConfiguration', { key: [] }));
  const sent = gatewayCalls[0]?.call;
  t.ok(sent);
  if (!sent) return;
  lane.submitCpmsCall(cpmsCallFrame('c1'), cpms('c1'));

  await advance(CALL_TIMEOUT_MS - 1);
  t.equal(call.state, 'pending', 'still waiting 1 ms before the timeout');
  t.same(toStation, ['gateway:GetConfiguration'], 'the CPMS call is still held');
  await advance(1);
  t.equal(call.state, 'rejected');
  t.type(call.error, CallTimeoutError);
  t.same(toStation, ['gateway:GetConfiguration', 'cpms:c1'], 'the timeout releases the held CPMS call');

  t.equal(lane.ownsReply(sent.id), true, 'the timed-out id is still recognised');
  t.same(lane.takeStationReply(result(sent.id)), { owner: 'late-gateway', call: sent }, 'the late reply is the gateway\'s');
  t.equal(lane.ownsReply(sent.id), false, 'and is consumed');
  t.equal(lane.takeStationReply(result(sent.id)), undefined, 'a second reply with that id is no longer the gateway\'s');
  t.same(lane.takeStationReply(result('c1')), { owner: 'cpms', call: cpmsCallFrame('c1') }, 'the CPMS call is still tracked as the CPMS\'s');
});

t.test('a per-call timeout overrides callTimeoutMs', async (t) => {
  const { lane, advance } = harness(t);
  const call = track(lane.call('GetConfiguration', {}, 50));
  await advance(49);
  t.equal(call.state, 'pending');
  await advance(1);
  t.type(call.error, CallTimeoutError);
});

t.test('a timed-out gateway call is forgotten after the late-reply memory (10 min)', async (t) => {
  const { lane, gatewayCalls, advance } = harness(t);
  // Timed out at T.
  track(lane.call('GetConfiguration', {}));
  await advance(CALL_TIMEOUT_MS);
  const old = gatewayCalls[0]?.call.id ?? '';
  t.equal(lane.ownsReply(old), true);

  // Another call times out 1 ms before the memory ends: the old id is kept.
  await advance(LATE_REPLY_MEMORY_MS - 1 - CALL_TIMEOUT_MS);
  track(lane.call('GetConfiguration', {}));
  await advance(CALL_TIMEOUT_MS);
  const middle = gatewayCalls[1]?.call.id ?? '';
  t.equal(lane.ownsReply(old), true, 'still remembered 1 ms before the memory ends');

  // A third times out exactly when the memory ends: the old id is dropped, the recent one kept.
  track(lane.call('GetConfiguration', {}, 1));
  await advance(1);
  t.equal(gatewayCalls.length, 3);
  t.equal(lane.ownsReply(old), false, 'forgotten once the memory has passed');
  t.equal(lane.takeStationReply(result(old)), undefined, 'a reply with the old id is no longer the gateway\'s');
  t.equal(lane.ownsReply(middle), true, 'a recent timed-out call is still remembered');
});

t.test('a CPMS call the station never answers releases the lane after callTimeoutMs', async (t) => {
  const { lane, toStation, cpms, advance } = harness(t);
  lane.submitCpmsCall(cpmsCallFrame('c1'), cpms('c1'));
  const call = track(lane.call('GetConfiguration', {}));
  await advance(CALL_TIMEOUT_MS - 1);
  t.same(toStation, ['cpms:c1'], 'the gateway call still waits 1 ms before the timeout');
  await advance(1);
  t.same(toStation, ['cpms:c1', 'gateway:GetConfiguration'], 'the lane is released and the gateway call goes out');
  t.equal(call.state, 'pending', 'the gateway call itself only now starts its own timeout');
  t.equal(lane.takeStationReply(result('c1')), undefined, 'a late answer to the CPMS call is no longer the lane\'s (the link relays it)');
});

t.test('forgetCpmsCalls returns outstanding and held ids and releases the lane', async (t) => {
  const { lane, toStation, gatewayCalls, cpms, advance } = harness(t);
  lane.submitCpmsCall(cpmsCallFrame('c1'), cpms('c1'));
  lane.submitCpmsCall(cpmsCallFrame('c2'), cpms('c2'));
  track(lane.call('GetConfiguration', {}));
  t.same(toStation, ['cpms:c1', 'cpms:c2']);
  t.same(lane.forgetCpmsCalls().sort(), ['c1', 'c2'], 'the outstanding ids');
  t.same(toStation, ['cpms:c1', 'cpms:c2', 'gateway:GetConfiguration'], 'the waiting gateway call goes out at once');
  t.equal(lane.takeStationReply(result('c1')), undefined, 'the forgotten calls are no longer the lane\'s');

  // Held calls (behind that gateway call) are forgotten too, and never sent.
  lane.submitCpmsCall(cpmsCallFrame('c3'), cpms('c3'));
  lane.submitCpmsCall(cpmsCallFrame('c4'), cpms('c4'));
  t.equal(lane.heldCpmsCallCount, 2);
  t.same(lane.forgetCpmsCalls(), ['c3', 'c4'], 'the held ids, in order');
  t.equal(lane.heldCpmsCallCount, 0);
  lane.takeStationReply(result(gatewayCalls[0]?.call.id ?? ''));
  await advance(10 * CALL_TIMEOUT_MS);
  t.same(toStation, ['cpms:c1', 'cpms:c2', 'gateway:GetConfiguration'], 'forgotten held calls are never sent');
  t.same(lane.forgetCpmsCalls(), [], 'nothing left');
});

t.test('close() rejects every waiting gateway call with StationGoneError', async (t) => {
  const { lane, toStation, cpms, advance } = harness(t);
  const outstanding = track(lane.call('GetConfiguration', {}));
  const queued = [track(lane.call('ClearChargingProfile', {})), track(lane.call('SetChargingProfile', {}))];
  lane.submitCpmsCall(cpmsCallFrame('c1'), cpms('c1'));
  lane.close();
  await settle();
  for (const call of [outstanding, ...queued]) {
    t.equal(call.state, 'rejected');
    t.type(call.error, StationGoneError);
  }
  t.equal(lane.queuedGatewayCallCount, 0);
  t.equal(lane.heldCpmsCallCount, 0);

  const after = track(lane.call('GetConfiguration', {}));
  lane.submitCpmsCall(cpmsCallFrame('c2'), cpms('c2'));
  await advance(10 * CALL_TIMEOUT_MS);
  t.type(after.error, StationGoneError, 'a call after close fails at once');
  t.same(toStation, ['gateway:GetConfiguration'], 'nothing is sent after close, the held CPMS call included');
  lane.close();
  t.pass('closing twice is harmless');
});

t.test('gateway message ids: the prefix plus 96 random bits, never a CPMS id', async (t) => {
  const { lane, gatewayCalls, cpms } = harness(t);
  const cpmsIds = new Set<string>();
  for (let i = 0; i < 100; i += 1) {
    // A CPMS call answered in between each gateway call, even one imitating the prefix.
    const cpmsId = i % 2 === 0 ? `cpms-${i}` : `${GATEWAY_ID_PREFIX}${i}`;
    cpmsIds.add(cpmsId);
    lane.submitCpmsCall(cpmsCallFrame(cpmsId), cpms(cpmsId));
    track(lane.call('GetConfiguration', {}));
    t.same(lane.takeStationReply(result(cpmsId)), { owner: 'cpms', call: cpmsCallFrame(cpmsId) }, `CPMS id ${cpmsId} stays the CPMS's`);
    lane.takeStationReply(result(gatewayCalls.at(-1)?.call.id ?? ''));
  }
  const ids = gatewayCalls.map((sent) => sent.call.id);
  t.equal(ids.length, 100);
  t.equal(new Set(ids).size, 100, 'all distinct');
  t.ok(
    ids.every((id) => /^pgw-[A-Za-z0-9_-]{16}$/.test(id)),
    'pgw- and 16 base64url characters (12 random bytes), within the 36-character limit',
  );
  t.ok(
    ids.every((id) => !cpmsIds.has(id)),
    'no gateway id equals a CPMS id',
  );
});
