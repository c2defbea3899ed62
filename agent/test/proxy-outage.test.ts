import t from 'tap';
import { connectRawStation, startRawCpms, type RawCpms } from './helpers/raw-peers.js';
import { startTestGateway, stationEndpoint } from './helpers/test-gateway.js';
import { waitUntil } from './helpers/wait-until.js';

/** Kill the CPMS abruptly (its sockets vanish: the gateway sees 1006) and bring one up on the same port. */
async function restartCpms(cpms: RawCpms, downMs: number): Promise<RawCpms> {
  await cpms.close();
  await new Promise((resolve) => setTimeout(resolve, downMs));
  return startRawCpms({ port: cpms.port, echoCalls: true });
}

t.test('a CPMS restart inside the grace: the station stays up, nothing lost or reordered', async (t) => {
  let cpms = await startRawCpms({ echoCalls: true });
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, outageGraceMs: 5000 });
  const arriving = cpms.nextConnection();
  const station = await connectRawStation(`${stationEndpoint(gateway)}/CP-OUTAGE`);
  t.teardown(() => station.socket.terminate());
  await arriving;
  station.socket.send('[2,"before","Heartbeat",{}]');
  await station.waitFor(1);

  let stationClosed = false;
  void station.closed.then(() => {
    stationClosed = true;
  });
  await cpms.close();
  await waitUntil(() => gateway.status().stations[0]?.state === 'reconnecting', 'the gateway noticed the outage');
  // The station keeps talking while the CPMS is away; the gateway holds these in order.
  const during = Array.from({ length: 10 }, (_, i) => `[2,"held-${i}","MeterValues",{"connectorId":1,"meterValue":[]}]`);
  for (const frame of during) station.socket.send(frame);
  await new Promise((resolve) => setTimeout(resolve, 300));
  cpms = await startRawCpms({ port: cpms.port, echoCalls: true });
  t.teardown(() => cpms.close());
  const back = await cpms.nextConnection();
  const got = await back.waitFor(during.length);
  t.same(got.map((frame) => frame.data.toString()), during, 'held frames delivered to the new upstream in order');
  const replies = await station.waitFor(1 + during.length);
  t.equal(replies.length, 1 + during.length, 'every held call answered');
  t.equal(stationClosed, false, 'the station was never disconnected');
  t.equal(gateway.metrics.upstreamReconnects, 1);
  t.equal(back.protocol, 'ocpp1.6', 'the redial offered the negotiated subprotocol');
});

t.test('a CPMS that stays away beyond the grace: the station is closed so it queues', async (t) => {
  const cpms = await startRawCpms({ echoCalls: true });
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, outageGraceMs: 600 });
  const arriving = cpms.nextConnection();
  const station = await connectRawStation(`${stationEndpoint(gateway)}/CP-GONE`);
  await arriving;
  await cpms.close();
  await waitUntil(() => gateway.status().stations[0]?.state === 'reconnecting', 'the gateway noticed the outage');
  station.socket.send('[2,"lost-cause","Heartbeat",{}]');
  const closed = await station.closed;
  t.equal(closed.code, 1001, 'station closed with 1001 (going away)');
  t.equal(closed.reason, 'CPMS unavailable');
  t.equal(gateway.metrics.upstreamOutagesBeyondGrace, 1);
  t.equal(gateway.isConnected('CP-GONE'), false);
});

t.test('a station call in flight when the CPMS drops: the station is closed at once, never left waiting', async (t) => {
  const cpms = await startRawCpms();
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, outageGraceMs: 10_000 });
  const arriving = cpms.nextConnection();
  const station = await connectRawStation(`${stationEndpoint(gateway)}/CP-INFLIGHT`);
  const atCpms = await arriving;
  station.socket.send('[2,"start-1","StartTransaction",{"connectorId":1,"idTag":"ABC","meterStart":0,"timestamp":"2026-11-23T10:00:00Z"}]');
  await atCpms.waitFor(1);
  const restarted = restartCpms(cpms, 0);
  const closed = await station.closed;
  t.equal(closed.code, 1012, 'closed with 1012 (service restart) so the station resends');
  (await restarted).close();
});

t.test('a deliberate CPMS close is mirrored at once, without reconnecting', async (t) => {
  const cpms = await startRawCpms();
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, outageGraceMs: 10_000 });
  const arriving = cpms.nextConnection();
  const station = await connectRawStation(`${stationEndpoint(gateway)}/CP-KICKED`);
  const atCpms = await arriving;
  atCpms.socket.close(1008, 'account suspended');
  t.same(await station.closed, { code: 1008, reason: 'account suspended' });
  t.equal(gateway.metrics.upstreamReconnects, 0);
  t.equal(cpms.connections.length, 1, 'no redial');
});

t.test('a station that stops answering pings is dropped, and its upstream closed', async (t) => {
  const cpms = await startRawCpms();
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, pingIntervalMs: 100 });
  const arriving = cpms.nextConnection();
  const station = await connectRawStation(`${stationEndpoint(gateway)}/CP-DEAD`);
  const atCpms = await arriving;
  // Stop reading from the socket: pings go unanswered, as with a station whose link died.
  const raw = (station.socket as unknown as { _socket: import('node:net').Socket })._socket;
  raw.pause();
  station.socket.pong = () => undefined;
  const upstreamClosed = new Promise<number>((resolve) => atCpms.socket.once('close', (code) => resolve(code)));
  t.equal(await upstreamClosed, 1006, 'the upstream is closed the way the station vanished (abruptly)');
  t.equal(gateway.isConnected('CP-DEAD'), false);
  station.socket.terminate();
});

t.test('a CPMS that stops answering pings is treated as lost and redialled', async (t) => {
  const cpms = await startRawCpms({ echoCalls: true });
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, pingIntervalMs: 100, outageGraceMs: 5000 });
  const arriving = cpms.nextConnection();
  const station = await connectRawStation(`${stationEndpoint(gateway)}/CP-PINGLESS`);
  t.teardown(() => station.socket.terminate());
  const first = await arriving;
  const second = cpms.nextConnection();
  // The CPMS side hangs: it stops reading, so it never answers a ping.
  (first.socket as unknown as { _socket: import('node:net').Socket })._socket.pause();
  const fresh = await second;
  t.equal(fresh.path, '/ocpp/CP-PINGLESS', 'the gateway dropped the silent upstream and dialled a new one');
  await waitUntil(() => gateway.status().stations[0]?.state === 'open', 'the link is open again');
  station.socket.send('[2,"after","Heartbeat",{}]');
  t.equal((await station.waitFor(1))[0]?.data.toString(), '[3,"after",{}]', 'traffic flows over the new upstream');
  t.equal(gateway.metrics.upstreamReconnects, 1);
});
