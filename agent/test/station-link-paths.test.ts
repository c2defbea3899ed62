/**
 * StationLink paths no other test executes (hardening issue 8): a late
 * station reply after a lost upstream, hold overflow during an outage, the
 * lane released after an unanswered CPMS call, an observer that throws, a
 * local answerer that throws. Real gateway, real sockets, raw peers so the
 * bytes can be compared.
 */
import t from 'tap';
import type { Gateway } from '../src/gateway.js';
import type { FrameEvent, FrameObserver } from '../src/ocpp/frame-observer.js';
import type { LocalAnswerer } from '../src/ocpp/local-answerer.js';
import { GATEWAY_ID_PREFIX } from '../src/proxy/call-lane.js';
import { createLogger, type Logger } from '../src/util/logger.js';
import { connectRawStation, startRawCpms, type RawCpms, type RawStation } from './helpers/raw-peers.js';
import { startTestGateway, stationEndpoint } from './helpers/test-gateway.js';
import { waitUntil } from './helpers/wait-until.js';

function stateOf(gateway: Gateway, stationId: string): string | undefined {
  return gateway.status().stations.find((station) => station.stationId === stationId)?.state;
}

/** A logger whose lines (warn and up) the test can read. */
function capturedLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger('warn', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

/** Track whether a raw station was closed, without awaiting it. */
function watchClose(station: RawStation): { readonly closed: boolean } {
  const watch = { closed: false };
  void station.closed.then(() => {
    watch.closed = true;
  });
  return watch;
}

/** Drop every CPMS socket abruptly (the gateway sees 1006, a transient loss) and wait until the link is reconnecting. */
async function loseUpstream(cpms: RawCpms, gateway: Gateway, stationIds: readonly string[]): Promise<void> {
  await cpms.close();
  await waitUntil(() => stationIds.every((id) => stateOf(gateway, id) === 'reconnecting'), 'the gateway noticed the outage');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

t.test('late station replies to CPMS calls lost with the upstream', async (t) => {
  t.test('answered during the outage or after the reconnect: swallowed and counted, never sent to the new upstream', async (t) => {
    let cpms = await startRawCpms();
    const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, outageGraceMs: 10_000 });
    const arriving = cpms.nextConnection();
    const station = await connectRawStation(`${stationEndpoint(gateway)}/CP-LATE`);
    t.teardown(() => station.socket.terminate());
    const first = await arriving;
    const watch = watchClose(station);
    // Two CPMS calls in flight toward the station (the lane does not hold CPMS calls from each other).
    first.socket.send('[2,"lost-1","ChangeAvailability",{"connectorId":0,"type":"Inoperative"}]');
    first.socket.send('[2,"lost-2","GetConfiguration",{}]');
    await station.waitFor(2);

    await loseUpstream(cpms, gateway, ['CP-LATE']);
    station.socket.send('[3,"lost-2",{"configurationKey":[]}]');
    await waitUntil(() => gateway.metrics.swallowedReplies === 1, 'the reply sent during the outage was swallowed');

    cpms = await startRawCpms({ port: cpms.port });
    t.teardown(() => cpms.close());
    const back = await cpms.nextConnection();
    await waitUntil(() => stateOf(gateway, 'CP-LATE') === 'open', 'the link is open again');
    station.socket.send('[3,"lost-1",{"status":"Accepted"}]');
    station.socket.send('[2,"after","Heartbeat",{}]');
    const got = await back.waitFor(1);
    // Frames keep their order on the socket: had a reply been relayed (or held), it would have come first.
    t.equal(got[0]?.data.toString(), '[2,"after","Heartbeat",{}]', 'the new upstream sees the next frame, not the late replies');
    t.equal(gateway.metrics.swallowedReplies, 2, 'both late replies counted as swallowed');
    t.equal(gateway.metrics.upstreamReconnects, 1);
    back.socket.send('[3,"after",{"currentTime":"2026-11-23T10:00:00Z"}]');
    t.equal((await station.waitFor(3))[2]?.data.toString(), '[3,"after",{"currentTime":"2026-11-23T10:00:00Z"}]', 'traffic flows over the new upstream');
    t.equal(back.received.length, 1, 'nothing else reached the new upstream');
    t.equal(watch.closed, false, 'the station stayed connected throughout');
  });

  t.test('a later CPMS call reusing the id of an unanswered lost call still gets its answer', async (t) => {
    // A restarted CPMS often restarts its message id counter, so "1" comes again.
    const callTimeoutMs = 200;
    let cpms = await startRawCpms();
    const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, outageGraceMs: 10_000, callTimeoutMs });
    const arriving = cpms.nextConnection();
    const station = await connectRawStation(`${stationEndpoint(gateway)}/CP-REUSE`);
    t.teardown(() => station.socket.terminate());
    const first = await arriving;
    first.socket.send('[2,"1","ChangeAvailability",{"connectorId":0,"type":"Inoperative"}]');
    await station.waitFor(1);

    await loseUpstream(cpms, gateway, ['CP-REUSE']);
    cpms = await startRawCpms({ port: cpms.port });
    t.teardown(() => cpms.close());
    const back = await cpms.nextConnection();
    await waitUntil(() => stateOf(gateway, 'CP-REUSE') === 'open', 'the link is open again');
    // The station never answered the lost call; well past any call timeout, the new CPMS sends its own "1".
    await sleep(callTimeoutMs * 2);
    back.socket.send('[2,"1","GetConfiguration",{"key":["HeartbeatInterval"]}]');
    await station.waitFor(2);
    station.socket.send('[3,"1",{"configurationKey":[]}]');
    station.socket.send('[2,"after","Heartbeat",{}]');
    const got = await back.waitFor(1);
    // Regression: the orphaned id was checked even when the live CPMS's call claimed the reply, and swallowed it.
    t.equal(got[0]?.data.toString(), '[3,"1",{"configurationKey":[]}]', 'the new CPMS gets the answer to its call');
  });
});

t.test('hold overflow during an outage: the station is closed with 1013 and a log line; other stations unaffected', async (t) => {
  const maxBufferedBytes = 2048;
  const { logger, lines } = capturedLogger();
  let cpms = await startRawCpms({ echoCalls: true });
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, outageGraceMs: 10_000, maxBufferedBytes, logger });
  const flood = await connectRawStation(`${stationEndpoint(gateway)}/CP-FLOOD`);
  t.teardown(() => flood.socket.terminate());
  const calm = await connectRawStation(`${stationEndpoint(gateway)}/CP-CALM`);
  t.teardown(() => calm.socket.terminate());
  await waitUntil(() => cpms.connections.length === 2, 'both upstreams are open');
  const calmWatch = watchClose(calm);
  const floodWatch = watchClose(flood);

  await loseUpstream(cpms, gateway, ['CP-FLOOD', 'CP-CALM']);
  const calmFrames = ['[2,"calm-1","Heartbeat",{}]', '[2,"calm-2","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Available"}]'];
  for (const frame of calmFrames) calm.socket.send(frame);
  // Five 640-byte frames: the fourth takes the held bytes past the 2048-byte limit.
  const bigFrames = Array.from({ length: 5 }, (_, i) => `[2,"big-${i}","DataTransfer",{"vendorId":"Pleevi","data":"${'x'.repeat(600)}"}]`);
  for (const frame of bigFrames) flood.socket.send(frame);

  await waitUntil(() => floodWatch.closed, 'the flooding station was closed');
  t.same(await flood.closed, { code: 1013, reason: 'CPMS unavailable' }, 'the flooding station is told to try again later');
  const line = lines.find((entry) => entry.msg === 'too much held during the CPMS outage; closing the station so it queues');
  t.ok(line, 'the overflow is logged');
  t.equal(line?.stationId, 'CP-FLOOD', 'for the flooding station');
  t.ok(typeof line?.heldBytes === 'number' && line.heldBytes > maxBufferedBytes, 'with the bytes held');
  t.equal(gateway.metrics.slowPeerCloses, 0, 'not mistaken for a slow peer');
  t.equal(gateway.metrics.outageHoldOverflows, 1, 'counted as a hold overflow');
  t.equal(gateway.isConnected('CP-FLOOD'), false);
  t.equal(gateway.isConnected('CP-CALM'), true, 'the other station is still connected');
  t.equal(stateOf(gateway, 'CP-CALM'), 'reconnecting', 'and still waiting for the CPMS');

  cpms = await startRawCpms({ port: cpms.port, echoCalls: true });
  t.teardown(() => cpms.close());
  const back = await cpms.nextConnection();
  t.equal(back.path, '/ocpp/CP-CALM', 'only the calm station is redialled');
  const got = await back.waitFor(calmFrames.length);
  t.same(got.map((frame) => frame.data.toString()), calmFrames, 'its held frames are delivered in order');
  const replies = await calm.waitFor(calmFrames.length);
  t.same(replies.map((frame) => frame.data.toString()), ['[3,"calm-1",{}]', '[3,"calm-2",{}]'], 'and answered');
  t.equal(calmWatch.closed, false, 'the calm station was never disconnected');
  t.notOk(cpms.connections.some((connection) => connection.path === '/ocpp/CP-FLOOD'), 'no upstream opened for the closed station');
});

t.test('a CPMS call the station never answers holds a gateway call until callTimeoutMs, then the gateway call goes out', async (t) => {
  const cpms = await startRawCpms();
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, callTimeoutMs: 300 });
  const arriving = cpms.nextConnection();
  const station = await connectRawStation(`${stationEndpoint(gateway)}/CP-MUTE`);
  t.teardown(() => station.socket.terminate());
  const atCpms = await arriving;
  atCpms.socket.send('[2,"unanswered","ChangeAvailability",{"connectorId":0,"type":"Inoperative"}]');
  await station.waitFor(1);

  // The gateway call's own timeout is long: only the lane's release can let it out.
  const call = gateway.callStation('CP-MUTE', 'GetConfiguration', { key: ['HeartbeatInterval'] }, 10_000);
  t.equal(gateway.status().stations[0]?.queuedGatewayCalls, 1, 'the gateway call is queued');
  // Relayed straight through: had the gateway call been written, it would arrive first.
  atCpms.socket.send('[3,"marker",{}]');
  t.equal((await station.waitFor(2))[1]?.data.toString(), '[3,"marker",{}]', 'the gateway call did not go out while the CPMS call held the lane');

  const frames = await station.waitFor(3);
  const sent: unknown = JSON.parse(frames[2]?.data.toString() ?? 'null');
  t.ok(Array.isArray(sent), 'the gateway call reaches the station once the lane is released');
  const [type, id, action, payload] = Array.isArray(sent) ? (sent as unknown[]) : [];
  t.equal(type, 2);
  t.ok(typeof id === 'string' && id.startsWith(GATEWAY_ID_PREFIX), 'with a gateway message id');
  t.equal(action, 'GetConfiguration');
  t.same(payload, { key: ['HeartbeatInterval'] });

  station.socket.send(`[3,"${String(id)}",{"configurationKey":[]}]`);
  t.same(await call, { kind: 'result', payload: { configurationKey: [] } }, 'the gateway gets the station\'s answer');
  // The CPMS's own call stays its business: a late answer is still relayed to it.
  station.socket.send('[3,"unanswered",{"status":"Accepted"}]');
  const up = await atCpms.waitFor(1);
  t.equal(up[0]?.data.toString(), '[3,"unanswered",{"status":"Accepted"}]', 'the late answer to the CPMS call reaches the CPMS');
  t.equal(atCpms.received.length, 1, 'neither the gateway call nor its answer reached the CPMS');
  t.equal(gateway.metrics.swallowedReplies, 1, 'the gateway\'s answer was the only reply kept from the CPMS');
});

t.test('an observer that throws on every frame: the relay, the other observers and the station carry on', async (t) => {
  let failures = 0;
  const thrower: FrameObserver = {
    name: 'thrower',
    onStationConnected: () => {
      failures += 1;
      throw new Error('observer bug on connect');
    },
    onFrame: () => {
      failures += 1;
      throw new Error('observer bug on a frame');
    },
  };
  const seen: FrameEvent[] = [];
  const recorder: FrameObserver = { name: 'recorder', onFrame: (event) => void seen.push(event) };
  const cpms = await startRawCpms({ echoCalls: true });
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, observers: [thrower, recorder] });
  const arriving = cpms.nextConnection();
  const station = await connectRawStation(`${stationEndpoint(gateway)}/CP-OBS`);
  t.teardown(() => station.socket.terminate());
  const atCpms = await arriving;

  const upward = [
    '[2 , "o-1" ,\t"DataTransfer" , {"vendorId":"Pleevi","data":"  spaced  "} ]',
    '[2,"o-2","DataTransfer",{"vendorId":"Pleevi","data":"Grüße aus Köln, 🚗⚡"}]',
    '[2,"o-3","Heartbeat",{}]',
  ];
  for (const frame of upward) station.socket.send(frame);
  const atUpstream = await atCpms.waitFor(upward.length);
  upward.forEach((frame, index) => t.ok(atUpstream[index]?.data.equals(Buffer.from(frame)), `station frame ${index} relayed byte for byte`));
  const echoed = await station.waitFor(upward.length);
  t.same(echoed.map((frame) => frame.data.toString()), ['[3,"o-1",{}]', '[3,"o-2",{}]', '[3,"o-3",{}]'], 'the CPMS answers relayed byte for byte');

  const down = '[2,"c-1","ChangeAvailability",{"connectorId":0,"type":"Operative"}]';
  atCpms.socket.send(down);
  t.ok((await station.waitFor(4))[3]?.data.equals(Buffer.from(down)), 'the CPMS call relayed byte for byte');
  const answer = '[3, "c-1", {"status":"Accepted"}]';
  station.socket.send(answer);
  t.ok((await atCpms.waitFor(4))[3]?.data.equals(Buffer.from(answer)), 'the station answer relayed byte for byte');

  await waitUntil(() => seen.length === 8, 'the recorder saw all eight frames');
  const keys = seen.map((event) => `${event.origin} ${event.frame.messageType} ${event.frame.id} ${event.answers?.action ?? '-'}`).sort();
  t.same(
    keys,
    [
      'cpms 2 c-1 -',
      'cpms 3 o-1 DataTransfer',
      'cpms 3 o-2 DataTransfer',
      'cpms 3 o-3 Heartbeat',
      'station 2 o-1 -',
      'station 2 o-2 -',
      'station 2 o-3 -',
      'station 3 c-1 ChangeAvailability',
    ],
    'the observer after the thrower saw every frame, replies matched to their calls',
  );
  t.equal(failures, 1 + seen.length, 'the thrower was called on connect and for every frame');
  t.equal(gateway.status().counters.observerFailures, failures, 'every failure counted');
  t.equal(gateway.isConnected('CP-OBS'), true, 'the station stays connected');
  t.equal(station.socket.readyState, station.socket.OPEN);
  t.equal(stateOf(gateway, 'CP-OBS'), 'open');
});

t.test('a local answerer that throws', async (t) => {
  const throwing = (asked: { count: number }): LocalAnswerer => ({
    name: 'broken',
    actions: new Set(['Authorize']),
    answer: () => {
      asked.count += 1;
      throw new Error('answerer bug');
    },
  });

  t.test('the call is relayed to the CPMS instead and the station gets the CPMS answer', async (t) => {
    const asked = { count: 0 };
    const cpms = await startRawCpms();
    t.teardown(() => cpms.close());
    const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, localAnswerers: [throwing(asked)] });
    const arriving = cpms.nextConnection();
    const station = await connectRawStation(`${stationEndpoint(gateway)}/CP-ANS`);
    t.teardown(() => station.socket.terminate());
    const atCpms = await arriving;

    const authorize = '[2,"auth-1","Authorize",{"idTag":"ABC123"}]';
    station.socket.send(authorize);
    t.ok((await atCpms.waitFor(1))[0]?.data.equals(Buffer.from(authorize)), 'the call reached the CPMS byte for byte');
    t.equal(asked.count, 1, 'the answerer was asked (and threw)');
    const cpmsAnswer = '[3,"auth-1",{"idTagInfo":{"status":"Blocked"}}]';
    atCpms.socket.send(cpmsAnswer);
    t.ok((await station.waitFor(1))[0]?.data.equals(Buffer.from(cpmsAnswer)), 'the station got the CPMS answer');
    t.equal(station.received.length, 1, 'and no answer from the gateway');
    t.equal(gateway.metrics.localAnswers, 0);
    t.equal(gateway.isConnected('CP-ANS'), true, 'the station stays connected');
  });

  t.test('a later answerer for the same action still answers', async (t) => {
    const asked = { count: 0 };
    const working: LocalAnswerer = { name: 'working', actions: new Set(['Authorize']), answer: () => ({ idTagInfo: { status: 'Accepted' } }) };
    const cpms = await startRawCpms();
    t.teardown(() => cpms.close());
    const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, localAnswerers: [throwing(asked), working] });
    const arriving = cpms.nextConnection();
    const station = await connectRawStation(`${stationEndpoint(gateway)}/CP-ANS2`);
    t.teardown(() => station.socket.terminate());
    const atCpms = await arriving;

    station.socket.send('[2,"auth-2","Authorize",{"idTag":"ABC123"}]');
    t.equal((await station.waitFor(1))[0]?.data.toString(), '[3,"auth-2",{"idTagInfo":{"status":"Accepted"}}]', 'answered by the working answerer');
    t.equal(asked.count, 1);
    station.socket.send('[2,"after","Heartbeat",{}]');
    t.equal((await atCpms.waitFor(1))[0]?.data.toString(), '[2,"after","Heartbeat",{}]', 'the answered call never reached the CPMS');
    t.equal(gateway.metrics.localAnswers, 1);
  });
});
