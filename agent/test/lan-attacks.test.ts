/**
 * Regression tests for the defects an attack from the LAN found (issue 8,
 * items 1-9), each named after its bug. Real gateway, real sockets, raw
 * HTTP where no WebSocket client would send what an attacker sends.
 */
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { WebSocketServer } from 'ws';
import { hashPassword } from '../src/auth/password-hash.js';
import { InvalidStationIdError } from '../src/errors.js';
import { upstreamUrlFor } from '../src/proxy/upstream-dialer.js';
import { SessionRecords } from '../src/sessions/session-records.js';
import { openStore } from '../src/store/gateway-store.js';
import { connectStation, refusedStation, startCpms } from './helpers/ocpp-peers.js';
import { basicAuth, peerGone, rawUpgrade } from './helpers/raw-http.js';
import { connectRawStation, startRawCpms } from './helpers/raw-peers.js';
import { startTestGateway, stationEndpoint } from './helpers/test-gateway.js';
import { waitUntil } from './helpers/wait-until.js';

const PASSWORD = 'station-secret-0001';

/** Resolves once the gateway closed its side (FIN or reset) of a client socket. */
function closeOf(socket: import('node:net').Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed || socket.readableEnded) resolve();
    socket.once('close', () => resolve());
    socket.once('end', () => resolve());
    socket.resume();
  });
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, new Promise<T>((_resolve, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref())]);
}

/** A CPMS on plain ws that takes `acceptDelayMs` to accept each handshake and records every request path and the most handshakes in progress at once. */
async function startSlowCpms(acceptDelayMs: number) {
  let inProgress = 0;
  let peak = 0;
  const paths: string[] = [];
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    handleProtocols: (offered) => (offered.has('ocpp1.6') ? 'ocpp1.6' : false),
    verifyClient: (info: { req: IncomingMessage }, done: (ok: boolean) => void) => {
      paths.push(info.req.url ?? '');
      inProgress += 1;
      peak = Math.max(peak, inProgress);
      setTimeout(() => {
        inProgress -= 1;
        done(true);
      }, acceptDelayMs);
    },
  });
  server.on('connection', (socket) => {
    socket.on('message', (data) => {
      const id = /^\[2,"([^"]+)"/.exec(data.toString())?.[1];
      if (id) socket.send(`[3,"${id}",{}]`);
    });
  });
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/ocpp`,
    paths,
    peak: () => peak,
    openConnections: () => [...server.clients].filter((client) => client.readyState === client.OPEN).length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}

t.test('issue 8.1: a handshake the CPMS refuses does not disconnect the connected station', async (t) => {
  const cpms = await startCpms({
    auth: (handshake, accept, reject) => (handshake.password?.toString() === PASSWORD ? accept() : reject(401, 'Unauthorized')),
    onClient: (client) => client.handle('Heartbeat', () => ({ currentTime: new Date().toISOString() })),
  });
  t.teardown(() => cpms.close());
  // No local password: the CPMS is the only judge (the default).
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url });
  const endpoint = stationEndpoint(gateway);
  const station = await connectStation({ endpoint, identity: 'CP-VICTIM', password: PASSWORD });
  let stationClosed = false;
  station.on('close', () => {
    stationClosed = true;
  });
  t.teardown(() => station.close({ force: true }));

  for (let attempt = 0; attempt < 3; attempt += 1) {
    const attacker = await refusedStation({ endpoint, identity: 'CP-VICTIM', password: `not-the-password-${attempt}` });
    t.equal(attacker.code, 401, `attempt ${attempt}: the CPMS's 401 reaches the attacker`);
  }
  await station.call('Heartbeat', {});
  t.equal(stationClosed, false, 'the real station was never closed');
  t.equal(gateway.isConnected('CP-VICTIM'), true);
  t.equal(gateway.status().stations.length, 1);

  // The real station reconnecting with its credentials still replaces its old connection.
  const fresh = await connectStation({ endpoint, identity: 'CP-VICTIM', password: PASSWORD });
  t.teardown(() => fresh.close({ force: true }));
  await waitUntil(() => stationClosed, 'the old connection was replaced');
  await fresh.call('Heartbeat', {});
  t.equal(gateway.status().stations.length, 1, 'one live link');
});

t.test('issue 8.2: two simultaneous handshakes for one id leave one CPMS connection, the one the gateway knows', async (t) => {
  const cpms = await startSlowCpms(200);
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url });
  const url = `${stationEndpoint(gateway)}/CP-TWIN`;
  const [first, second] = await Promise.all([connectRawStation(url), connectRawStation(url)]);
  t.teardown(() => {
    first.socket.terminate();
    second.socket.terminate();
  });
  t.equal(cpms.peak(), 1, 'the CPMS never had two handshakes for the id at once');
  await waitUntil(() => cpms.openConnections() === 1, 'one CPMS connection left');
  const closedFirst = await first.closed;
  t.equal(closedFirst.code, 1008, 'the first was replaced by the second');
  t.equal(gateway.status().stations.length, 1);
  second.socket.send('[2,"t1","Heartbeat",{}]');
  t.equal((await second.waitFor(1))[0]?.data.toString(), '[3,"t1",{}]', 'the live one relays');
});

t.test('issue 8.3: parallel guesses against a passwordHash station meet the lock-out; other stations still get in', async (t) => {
  const cpms = await startCpms();
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, {
    upstreamUrl: cpms.url,
    stations: [{ id: 'CP-HASHED', passwordHash: await hashPassword(PASSWORD) }],
  });
  const guesses = Array.from({ length: 100 }, (_, i) => rawUpgrade(gateway.port, '/ocpp/CP-HASHED', { authorization: basicAuth('CP-HASHED', `guess-${i}-xxxxxxxxxx`) }));
  // The right password arrives in the middle of the burst: it must not get in either.
  const right = rawUpgrade(gateway.port, '/ocpp/CP-HASHED', { authorization: basicAuth('CP-HASHED', PASSWORD) });
  const neighbour = connectStation({ endpoint: stationEndpoint(gateway), identity: 'CP-NEIGHBOUR' });
  const answers = await Promise.all(guesses);
  for (const answer of answers) answer.socket.destroy();
  const statuses = answers.map((answer) => answer.status);
  const checked = statuses.filter((status) => status === 401).length;
  t.ok(checked <= 5, `at most 5 guesses were checked (${checked} got 401)`);
  t.ok(statuses.every((status) => status === 401 || status === 429 || status === 503), 'the rest were refused before hashing (429, or 503 while checks are saturated)');
  const rightAnswer = await right;
  rightAnswer.socket.destroy();
  t.not(rightAnswer.status, 101, 'the right password sent during the lock-out does not get in');
  const other = await neighbour;
  t.equal(other.protocol, 'ocpp1.6', 'a station without a password connected during the burst');
  await other.close({ force: true });
  t.equal(cpms.handshakes.filter((handshake) => handshake.identity === 'CP-HASHED').length, 0, 'no guess reached the CPMS');
});

t.test('issue 8.4: a refused handshake loses its socket even when the client keeps it open', async (t) => {
  const cpms = await startRawCpms();
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, allowUnknown: false });
  const answers = await Promise.all(Array.from({ length: 20 }, () => rawUpgrade(gateway.port, '/ocpp/CP-NOT-LISTED')));
  t.ok(answers.every((answer) => answer.status === 404), 'all refused with 404');
  await within(Promise.all(answers.map((answer) => peerGone(answer.socket))), 5000, 'the gateway closed every refused socket');
  t.pass('every refused socket was closed by the gateway, not left half-open');
});

t.test('issue 8.4: a client that never finishes its upgrade request is disconnected', async (t) => {
  const cpms = await startRawCpms();
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, handshakeTimeoutMs: 300 });
  const { connect } = await import('node:net');
  const slow = connect({ port: gateway.port, host: '127.0.0.1', allowHalfOpen: true });
  slow.on('error', () => undefined);
  await once(slow, 'connect');
  slow.write('GET /ocpp/CP-SLOW HTTP/1.1\r\nHost: 127.0.0.1\r\n');
  // Trickle one header line now and then, as a slow-header attack does.
  const trickle = setInterval(() => slow.writable && slow.write('X-Slow: 1\r\n'), 100);
  t.teardown(() => clearInterval(trickle));
  await within(closeOf(slow), 5000, 'the slow client was disconnected');
  t.equal(cpms.connections.length, 0, 'nothing reached the CPMS');
  const silent = connect({ port: gateway.port, host: '127.0.0.1', allowHalfOpen: true });
  silent.on('error', () => undefined);
  await within(closeOf(silent), 5000, 'a client that sends nothing at all is disconnected too');
});

t.test('issue 8.5: hostile station ids never leave their path segment of the CPMS URL', async (t) => {
  const cpms = await startSlowCpms(0);
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url });
  const hostile = ['.', '..', '%2E', '%2E%2E', '%2e%2E', '...', '%2F', 'a%2Fb', '%2F..%2F', '%00', 'a%00b', '%5C..', 'a%3Ab', 'CP%20one', '%C3%A9', 'x'.repeat(49), '%0D%0AX-Injected:%201', '%1B%5B2J'];
  for (const id of hostile) {
    const answer = await rawUpgrade(gateway.port, `/ocpp/${id}`);
    answer.socket.destroy();
    t.equal(answer.status, 400, `"${id}" is refused with 400`);
  }
  for (const path of ['/ocpp/', '/ocpp/a/b', '/ocpp/../admin', '/other/CP-1']) {
    const answer = await rawUpgrade(gateway.port, path);
    answer.socket.destroy();
    t.equal(answer.status, 404, `path ${path} is refused with 404`);
  }
  t.same(cpms.paths, [], 'the CPMS was never dialled for any of them');

  const real = ['CP-001', 'ABB_12345', 'EVB-P2047116.2', 'a*b|c@d=e+f', 'x'.repeat(48), 'cp.1.2'];
  for (const id of real) {
    const station = await connectRawStation(`${stationEndpoint(gateway)}/${encodeURIComponent(id)}`);
    station.socket.terminate();
  }
  t.same(
    cpms.paths,
    real.map((id) => `/ocpp/${encodeURIComponent(id)}`),
    'real station ids reach the CPMS at <upstream.url>/<id>',
  );
  t.throws(() => upstreamUrlFor('wss://cpms.example/ocpp', '..'), InvalidStationIdError, 'the dialer refuses a dot segment itself');
  t.equal(upstreamUrlFor('wss://cpms.example/ocpp/', 'CP-1'), 'wss://cpms.example/ocpp/CP-1');
});

t.test('issue 8.6: a station flooding calls to a silent CPMS is closed before memory grows', async (t) => {
  const cpms = await startRawCpms();
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, maxBufferedBytes: 256 * 1024 });
  const arriving = cpms.nextConnection();
  const station = await connectRawStation(`${stationEndpoint(gateway)}/CP-FLOOD`);
  const atCpms = await arriving;
  const sampled = Array.from({ length: 40 }, (_, i) => `{"value":"${i}","measurand":"Energy.Active.Import.Register","unit":"Wh"}`).join(',');
  for (let i = 0; i < 2000 && station.socket.readyState === station.socket.OPEN; i += 1) {
    station.socket.send(`[2,"mv${i}","MeterValues",{"connectorId":1,"transactionId":1,"meterValue":[{"timestamp":"2025-03-01T10:00:00Z","sampledValue":[${sampled}]}]}]`);
  }
  const closed = await station.closed;
  t.equal(closed.code, 1013, 'closed with 1013 (try again later)');
  t.equal(gateway.metrics.stationCallOverflows, 1, 'counted');
  t.equal(atCpms.received.length, 1, 'only the first call went to the CPMS: the rest waited for its answer');
});

t.test('issue 8.6: calls a station sends without waiting go one at a time, each once the previous is answered', async (t) => {
  const cpms = await startRawCpms();
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url });
  const arriving = cpms.nextConnection();
  const station = await connectRawStation(`${stationEndpoint(gateway)}/CP-PIPELINE`);
  t.teardown(() => station.socket.terminate());
  const atCpms = await arriving;
  for (let i = 0; i < 3; i += 1) station.socket.send(`[2,"s${i}","StatusNotification",{"connectorId":${i},"status":"Available","errorCode":"NoError"}]`);
  station.socket.send('[3,"cpms-1",{}]');
  await atCpms.waitFor(1);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(atCpms.received.length, 1, 'the second call waits for the first answer');
  atCpms.socket.send('[3,"s0",{}]');
  await atCpms.waitFor(2);
  atCpms.socket.send('[3,"s1",{}]');
  const upward = await atCpms.waitFor(4);
  t.same(
    upward.map((frame) => frame.data.toString()),
    [
      '[2,"s0","StatusNotification",{"connectorId":0,"status":"Available","errorCode":"NoError"}]',
      '[2,"s1","StatusNotification",{"connectorId":1,"status":"Available","errorCode":"NoError"}]',
      '[2,"s2","StatusNotification",{"connectorId":2,"status":"Available","errorCode":"NoError"}]',
      '[3,"cpms-1",{}]',
    ],
    'in the station\'s order, byte for byte',
  );
});

t.test('issue 8.7: upstream handshakes in flight stay within upstream.maxConcurrentHandshakes', async (t) => {
  const cpms = await startSlowCpms(100);
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, maxConcurrentHandshakes: 4, connectTimeoutMs: 10_000 });
  const stations = await Promise.all(Array.from({ length: 40 }, (_, i) => connectRawStation(`${stationEndpoint(gateway)}/CP-STORM-${i}`)));
  t.teardown(() => {
    for (const station of stations) station.socket.terminate();
  });
  t.equal(stations.length, 40, 'every station got in');
  t.ok(cpms.peak() <= 4, `at most 4 upstream handshakes at once (peak ${cpms.peak()})`);
  t.equal(gateway.status().stations.length, 40);
});

t.test('issue 8.8: a 5 MiB CPMS frame reaches a healthy station; the link stays open', async (t) => {
  const cpms = await startRawCpms();
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url });
  const arriving = cpms.nextConnection();
  const station = await connectRawStation(`${stationEndpoint(gateway)}/CP-BIGLIST`);
  t.teardown(() => station.socket.terminate());
  const atCpms = await arriving;
  const list = `[2,"sll","SendLocalList",{"listVersion":1,"updateType":"Full","localAuthorizationList":[${Array.from({ length: 80_000 }, (_, i) => `{"idTag":"TAG${String(i).padStart(12, '0')}","idTagInfo":{"status":"Accepted"}}`).join(',')}]}]`;
  t.ok(list.length > 4 * 1024 * 1024, 'the frame is over 4 MiB');
  atCpms.socket.send(list);
  const got = await station.waitFor(1);
  t.equal(got[0]?.data.length, Buffer.byteLength(list), 'it arrived whole');
  t.equal(gateway.metrics.slowPeerCloses, 0, 'nobody was judged slow');
  station.socket.send('[3,"sll",{"status":"Accepted"}]');
  t.equal((await atCpms.waitFor(1))[0]?.data.toString(), '[3,"sll",{"status":"Accepted"}]', 'the link still relays');
});

t.test('issue 8.9: two StartTransactions with one message id are each recorded with their own badge', async (t) => {
  const dataDir = t.testdir();
  const cpms = await startRawCpms();
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, dataDir });
  const arriving = cpms.nextConnection();
  const station = await connectRawStation(`${stationEndpoint(gateway)}/CP-DUPID`);
  t.teardown(() => station.socket.terminate());
  const atCpms = await arriving;
  let nextTransaction = 100;
  atCpms.socket.on('message', (data: Buffer) => {
    const id = /^\[2,"([^"]+)","StartTransaction"/.exec(data.toString())?.[1];
    if (id) atCpms.socket.send(`[3,"${id}",{"transactionId":${nextTransaction++},"idTagInfo":{"status":"Accepted"}}]`);
  });
  station.socket.send('[2,"dup","StartTransaction",{"connectorId":1,"idTag":"BADGE-ONE","meterStart":0,"timestamp":"2025-03-01T10:00:00Z"}]');
  station.socket.send('[2,"dup","StartTransaction",{"connectorId":2,"idTag":"BADGE-TWO","meterStart":0,"timestamp":"2025-03-01T10:00:01Z"}]');
  await station.waitFor(2);
  await waitUntil(() => gateway.sessions.counters.snapshot().sessionsStarted === 2, 'both sessions started');
  const db = openStore(dataDir);
  t.teardown(() => db.close());
  const sessions = new SessionRecords(db)
    .list()
    .map((session) => ({ transactionId: session.transactionId, connectorId: session.connectorId, idTag: session.idTag }))
    .sort((a, b) => a.transactionId.localeCompare(b.transactionId));
  t.same(sessions, [
    { transactionId: '100', connectorId: 1, idTag: 'BADGE-ONE' },
    { transactionId: '101', connectorId: 2, idTag: 'BADGE-TWO' },
  ]);
});

t.test('fuzz finding: a station that half-closes while its CPMS connection is dialled leaves no upstream behind', async (t) => {
  const cpms = await startSlowCpms(300);
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url });
  const { connect } = await import('node:net');
  const { upgradeRequest } = await import('./helpers/raw-http.js');
  const socket = connect({ port: gateway.port, host: '127.0.0.1', allowHalfOpen: true });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write(upgradeRequest('/ocpp/CP-HALF'));
  await waitUntil(() => cpms.paths.length === 1, 'the CPMS is being dialled');
  // FIN while the CPMS takes its time: a WebSocket can never be completed on this socket.
  socket.end();
  await waitUntil(() => cpms.openConnections() === 0 && cpms.paths.length === 1, 'no CPMS connection is left open');
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.equal(cpms.openConnections(), 0, 'the upstream opened for it was closed');
  t.equal(gateway.status().stations.length, 0, 'and no link was registered');
  socket.destroy();
});

t.test('fuzz finding: a Sec-WebSocket-Protocol header ws would refuse is refused before the CPMS is dialled', async (t) => {
  const cpms = await startSlowCpms(0);
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url });
  for (const protocols of ['ocpp1.6, ocpp1.6', 'ocpp1.6,,ocpp2.0.1', 'ocpp1.6,', 'ocpp1.6;x', 'ocpp1.6 ocpp2.0.1', '']) {
    const answer = await rawUpgrade(gateway.port, '/ocpp/CP-PROTO', { protocols });
    answer.socket.destroy();
    t.equal(answer.status, 400, `${JSON.stringify(protocols)}: 400`);
  }
  t.same(cpms.paths, [], 'the CPMS never saw any of them');
});

t.test('fuzz finding: made-up action names do not grow the memo of watched actions', async (t) => {
  const cpms = await startRawCpms({ echoCalls: true });
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url });
  const station = await connectRawStation(`${stationEndpoint(gateway)}/CP-ACTIONS`);
  t.teardown(() => station.socket.terminate());
  // 600 calls sent at once: more names than the memo keeps, fewer than the frames a station may have waiting.
  for (let i = 0; i < 600; i += 1) station.socket.send(`[2,"a${i}","MadeUp${i}${'x'.repeat(i % 200)}",{}]`);
  await station.waitFor(600);
  t.ok(gateway.pipeline.rememberedActionCount <= 512, `at most 512 action names remembered (${gateway.pipeline.rememberedActionCount})`);
});
