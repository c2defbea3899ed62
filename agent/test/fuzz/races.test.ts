/**
 * Fuzz: the handshake races and floods of the LAN attack, each drawn from
 * the seed (how many attackers, which ids, which passwords, in what order):
 * - a newcomer with a stolen id must not cost the connected station its link
 *   before the CPMS accepted the newcomer;
 * - parallel handshakes for one id must leave one live upstream;
 * - parallel password guesses must hit the same lockout as sequential ones;
 * - a dial storm toward a CPMS that never answers must be bounded, and every
 *   timed-out or refused handshake must give its socket back;
 * - a station that trickles its headers must be dropped in bounded time.
 */
import { WebSocket } from 'ws';
import t from 'tap';
import { hashPassword } from '../../src/auth/password-hash.js';
import { startTestGateway, stationEndpoint } from '../helpers/test-gateway.js';
import { canaryAwareHandler, checkCanary, connectCanary } from './lib/canary.js';
import { defaultAnswer, startFuzzCpms } from './lib/fuzz-cpms.js';
import { fuzzBudget, FUZZ_LONG } from './lib/fuzz-options.js';
import { serializeRequest, upgradeHeaders } from './lib/generators.js';
import type { Rng } from './lib/prng.js';
import { eventually, fdCount, rawExchange, socketsOnLocalPort, type RawExchange } from './lib/probes.js';

const ID_CHARS = 'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789';
/** A station that has not sent its whole request line and headers within this long should be dropped. */
const HEADER_LIMIT_MS = Number(process.env.FUZZ_HEADER_LIMIT_MS ?? 10_000);
/** Concurrent upstream dials the gateway may hold open toward a CPMS that never answers. */
const MAX_CONCURRENT_DIALS = Number(process.env.FUZZ_MAX_DIALS ?? 128);

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** A ws client handshake; resolves with the socket when admitted, or the HTTP status when refused. */
function handshake(url: string, authorization?: string): Promise<WebSocket | number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, ['ocpp1.6'], authorization ? { headers: { authorization } } : {});
    socket.on('error', () => resolve(0));
    socket.on('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      response.resume();
      socket.terminate();
    });
    socket.on('open', () => resolve(socket));
  });
}

function randomId(rng: Rng, prefix: string): string {
  return `${prefix}-${rng.string(rng.range(4, 12), ID_CHARS)}`;
}

// The slow-header attackers mostly wait: they run alongside the other tests.
t.jobs = 2;

t.test('slow headers (slowloris) are dropped in bounded time', async (t) => {
  const budget = fuzzBudget(t, import.meta.url, 'slowloris', 3, 20);
  const { rng } = budget;
  const cpms = await startFuzzCpms();
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url });
  const attackers = Array.from({ length: budget.iterations }, () => {
    const bytes = serializeRequest({ target: `/ocpp/${randomId(rng, 'SLOW')}`, headers: upgradeHeaders(rng, gateway.port) });
    // The request without its final blank line, cut in two, then one more header line a second: it never completes.
    const start = bytes.subarray(0, bytes.length - 2);
    const cut = rng.range(1, start.length - 1);
    const lines = Array.from({ length: Math.ceil(HEADER_LIMIT_MS / 1000) + 4 }, (_, i) => Buffer.from(`X-Slow-${i}: ${rng.string(8, ID_CHARS)}\r\n`));
    return rawExchange(gateway.port, [start.subarray(0, cut), start.subarray(cut), ...lines], 1000, 'hold', HEADER_LIMIT_MS + 2000);
  });
  const results = await Promise.all(attackers);
  const open = results.filter((result) => !result.serverClosed).length;
  t.equal(open, 0, `all ${results.length} slow-header attackers were dropped within ${HEADER_LIMIT_MS + 2000} ms`);
  for (const result of results) result.socket.destroy();
});

t.test('a stolen id does not cost the connected station its link', async (t) => {
  const budget = fuzzBudget(t, import.meta.url, 'hijack', 12, 200);
  const { rng } = budget;
  const id = randomId(rng, 'CANARY');
  const path = `/ocpp/${id}`;
  const auth = basic(id, 'canary-secret-1');
  const cpms = await startFuzzCpms({
    decide: (request) => (request.url === path && request.headers.authorization !== auth ? { refuse: 401 } : { accept: true }),
    onFrame: canaryAwareHandler(path, defaultAnswer),
    recordPaths: new Set([path]),
  });
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url });
  const canary = await connectCanary(stationEndpoint(gateway), id, auth);
  t.teardown(() => canary.socket.terminate());
  t.equal(await checkCanary(canary, cpms), undefined, 'the canary works before the attack');
  const statuses: Array<WebSocket | number> = [];
  for (let i = 0; i < budget.iterations && budget.more(); i += 1) {
    const guesses = rng.pick([undefined, basic(id, rng.string(rng.range(1, 20), ID_CHARS)), basic('someone-else', 'x')]);
    const parallel = rng.range(1, 3);
    statuses.push(...(await Promise.all(Array.from({ length: parallel }, () => handshake(`${stationEndpoint(gateway)}/${id}`, guesses)))));
    if (canary.closed) break;
  }
  for (const status of statuses) if (status instanceof WebSocket) status.terminate();
  t.notOk(statuses.some((status) => status instanceof WebSocket), 'no attacker with a wrong password was admitted (the CPMS refused them)');
  t.equal(await checkCanary(canary, cpms), undefined, 'the canary is still connected and relayed byte for byte after the CPMS refused the newcomers');
});

t.test('simultaneous handshakes for one id leave one live upstream', async (t) => {
  const budget = fuzzBudget(t, import.meta.url, 'duplicate handshakes', 6, 100);
  const { rng } = budget;
  const cpms = await startFuzzCpms();
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url });
  const doubled: string[] = [];
  for (let round = 0; round < budget.iterations && budget.more(); round += 1) {
    const id = randomId(rng, 'TWIN');
    const count = rng.range(2, 6);
    const results = await Promise.all(Array.from({ length: count }, () => handshake(`${stationEndpoint(gateway)}/${id}`)));
    const sockets = results.filter((result): result is WebSocket => result instanceof WebSocket);
    await eventually(() => cpms.openConnections(`/ocpp/${id}`).length <= 1 && sockets.filter((s) => s.readyState === s.OPEN).length <= 1, 500);
    const upstreams = cpms.openConnections(`/ocpp/${id}`).length;
    const stations = sockets.filter((socket) => socket.readyState === socket.OPEN).length;
    if (upstreams > 1 || stations > 1) doubled.push(`${id}: ${count} at once left ${upstreams} upstreams and ${stations} open stations`);
    for (const socket of sockets) socket.terminate();
    await eventually(() => cpms.openConnections().length === 0, 2000);
  }
  t.same(doubled, [], 'at most one live upstream (and one live station link) per id');
  t.equal(cpms.openConnections().length, 0, 'every upstream closed once the stations left');
});

t.test('parallel password guesses hit the lockout', async (t) => {
  const budget = fuzzBudget(t, import.meta.url, 'parallel guesses', 1, 10);
  const { rng } = budget;
  const cpms = await startFuzzCpms();
  t.teardown(() => cpms.close());
  const stations = Array.from({ length: budget.iterations }, (_, i) => ({ id: `GUESSED-${i}`, password: `right-${rng.string(16, ID_CHARS)}` }));
  const gateway = await startTestGateway(t, {
    upstreamUrl: cpms.url,
    stations: await Promise.all(stations.map(async (station) => ({ id: station.id, passwordHash: await hashPassword(station.password) }))),
  });
  for (const station of stations) {
    const guesses = rng.range(10, 24);
    const statuses = await Promise.all(Array.from({ length: guesses }, () => handshake(`${stationEndpoint(gateway)}/${station.id}`, basic(station.id, rng.string(rng.range(1, 30), ID_CHARS)))));
    const failures = statuses.filter((status) => status === 401).length;
    const admitted = statuses.filter((status) => status instanceof WebSocket).length;
    t.equal(admitted, 0, `${station.id}: no wrong guess admitted`);
    t.ok(failures <= 5, `${station.id}: at most 5 of ${guesses} parallel guesses were checked (401), the rest 429; got ${failures} x 401`);
    const right = await handshake(`${stationEndpoint(gateway)}/${station.id}`, basic(station.id, station.password));
    if (right instanceof WebSocket) right.terminate();
    t.equal(right instanceof WebSocket ? 101 : right, 429, `${station.id}: even the right password waits out the lock`);
  }
  t.equal(cpms.requests.length, 0, 'no guess reached the CPMS');
});

t.test('a dial storm toward a CPMS that never answers', async (t) => {
  const budget = fuzzBudget(t, import.meta.url, 'dial storm', FUZZ_LONG ? 1000 : 300, 1000);
  const { rng } = budget;
  const canaryId = randomId(rng, 'CANARY');
  const canaryPath = `/ocpp/${canaryId}`;
  const cpms = await startFuzzCpms({
    decide: (request) => (request.url === canaryPath ? { accept: true } : { blackhole: true }),
    onFrame: canaryAwareHandler(canaryPath, defaultAnswer),
    recordPaths: new Set([canaryPath]),
  });
  t.teardown(() => cpms.close());
  const connectTimeoutMs = 600;
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, connectTimeoutMs });
  const canary = await connectCanary(stationEndpoint(gateway), canaryId);
  t.teardown(() => canary.socket.terminate());
  t.equal(await checkCanary(canary, cpms), undefined, 'the canary works before the storm');
  const baselineFds = fdCount();
  const baselineSockets = socketsOnLocalPort(gateway.port).length;
  cpms.resetPeak();

  const attackers: Array<Promise<RawExchange>> = [];
  for (let i = 0; i < budget.iterations; i += 1) {
    const bytes = serializeRequest({ target: `/ocpp/${randomId(rng, 'STORM')}`, headers: upgradeHeaders(rng, gateway.port) });
    attackers.push(rawExchange(gateway.port, [bytes], 0, 'hold', connectTimeoutMs + 2500));
  }
  const exchanges = await Promise.all(attackers);
  const statuses = new Map<string, number>();
  for (const exchange of exchanges) statuses.set(String(exchange.status), (statuses.get(String(exchange.status)) ?? 0) + 1);
  t.comment(`answers: ${JSON.stringify(Object.fromEntries(statuses))}; CPMS saw at most ${cpms.tcp.peak} connections at once`);
  t.ok(cpms.tcp.peak <= MAX_CONCURRENT_DIALS + 1, `at most ${MAX_CONCURRENT_DIALS} upstream dials at once (saw ${cpms.tcp.peak} for ${budget.iterations} stations)`);
  t.ok(exchanges.every((exchange) => exchange.status !== undefined && [429, 502, 503, 504].includes(exchange.status)), 'every stormer was answered 429/502/503/504');
  t.ok(
    await eventually(() => socketsOnLocalPort(gateway.port).length <= baselineSockets, 1500),
    `the gateway closed its side of the timed-out handshakes while the stormers hold theirs (${socketsOnLocalPort(gateway.port).length - baselineSockets} left)`,
  );
  for (const exchange of exchanges) exchange.socket.destroy();
  t.ok(await eventually(() => cpms.tcp.open === 1, 3000), `no dial is left toward the CPMS once the stormers left (${cpms.tcp.open - 1} left)`);
  t.ok(await eventually(() => fdCount() <= baselineFds + 4, 3000), `file descriptors back near the baseline (${fdCount()} vs ${baselineFds})`);
  t.equal(await checkCanary(canary, cpms), undefined, 'the canary is connected and relayed byte for byte after the storm');
});
