/**
 * Fuzz: hostile WebSocket upgrades from the LAN, written byte by byte on raw
 * TCP sockets: random and hostile station ids, Basic Auth headers (malformed,
 * huge, non-UTF-8), broken HTTP (bad versions, missing keys, garbage,
 * pipelining, trickled chunks), some ending their side, some holding it open.
 *
 * Invariants after every batch, against a real gateway and a recording CPMS:
 * - the gateway still admits a new well-behaved station;
 * - the canary, connected before the attack, is still connected and relayed byte for byte;
 * - the CPMS never saw a URL other than `/ocpp/<one canonical encoded segment>`;
 * - no attacker the gateway refused has an upstream connection left;
 * - a station with a password is never admitted without it;
 * - the gateway answers no attacker with 500 (an unexpected exception);
 * - the gateway's side of every refused connection closes while the attacker holds its own open;
 * - file descriptors come back to the baseline once the attackers let go;
 * - `stations --json` stays valid JSON, and the text listing carries no control characters.
 */
import t from 'tap';
import { connectCanary, canaryAwareHandler, checkCanary } from './lib/canary.js';
import { cli, controlCharacters, jsonProblem, writeCliConfig } from './lib/cli-in-process.js';
import { defaultAnswer, pathViolation, startFuzzCpms } from './lib/fuzz-cpms.js';
import { fuzzBudget } from './lib/fuzz-options.js';
import { genBasicAuth, genRawRequest, isPathEscapeId, serializeRequest, upgradeHeaders, type RawRequest } from './lib/generators.js';
import { eventually, fdCount, rawExchange, socketsOnLocalPort, type RawExchange } from './lib/probes.js';
import { maskedFrame } from './lib/ws-frames.js';
import { startTestGateway, stationEndpoint } from '../helpers/test-gateway.js';

const CANARY = 'CANARY-1';
const CANARY_AUTH = `Basic ${Buffer.from(`${CANARY}:canary-secret-1`).toString('base64')}`;
const LOCKED = 'CP-LOCKED';
const LOCKED_PASSWORD = 'locked-secret-0001';
const BATCH = 48;
/** Attempts in flight at once (attempts whose id may escape the path run alone, so each upstream URL is attributed). */
const PARALLEL = 8;
const ANSWER_WAIT_MS = 400;

interface Attempt {
  readonly request: RawRequest;
  readonly exchange: RawExchange;
  /** Upstream requests the CPMS saw while this attempt ran (exact when it ran alone). */
  readonly upstreamSeqs: readonly number[];
  readonly alone: boolean;
  readonly locked: { readonly authKind: string } | undefined;
}

t.test('hostile handshakes against a live gateway', async (t) => {
  const budget = fuzzBudget(t, import.meta.url, 'handshakes', 96, 3000);
  const { rng } = budget;
  const canaryPath = `/ocpp/${CANARY}`;
  const cpms = await startFuzzCpms({
    // The CPMS checks the canary's password itself (it is not configured on the gateway).
    decide: (request) => (request.url === canaryPath && request.headers.authorization !== CANARY_AUTH ? { refuse: 401 } : { accept: true }),
    onFrame: canaryAwareHandler(canaryPath, defaultAnswer),
    recordPaths: new Set([canaryPath]),
  });
  t.teardown(() => cpms.close());
  const dataDir = t.testdir();
  const gateway = await startTestGateway(t, {
    upstreamUrl: cpms.url,
    dataDir: `${dataDir}/data`,
    stations: [{ id: LOCKED, password: LOCKED_PASSWORD }],
    connectTimeoutMs: 1000,
  });
  const endpoint = stationEndpoint(gateway);
  const canary = await connectCanary(endpoint, CANARY, CANARY_AUTH);
  t.teardown(() => canary.socket.terminate());
  t.equal(await checkCanary(canary, cpms), undefined, 'the canary works before the attack');
  const baselineFds = fdCount();
  const baselineSockets = socketsOnLocalPort(gateway.port).length;

  const pathProblems = { known: [] as string[], unknown: [] as string[] };
  const unexpected: string[] = [];
  const lockedAdmitted: string[] = [];
  let attempts = 0;
  let batch = 0;
  while (attempts < budget.iterations && budget.more()) {
    batch += 1;
    const done: Attempt[] = [];
    const pending: RawRequest[] = [];
    const lockedKinds = new Map<RawRequest, string>();
    for (let i = 0; i < BATCH && attempts < budget.iterations; i += 1, attempts += 1) {
      if (rng.bool(0.15)) {
        const auth = genBasicAuth(rng, LOCKED, LOCKED_PASSWORD);
        const headers = upgradeHeaders(rng, gateway.port);
        if (auth.value) headers.push(['Authorization', auth.value]);
        const request: RawRequest = { chunks: [serializeRequest({ target: `/ocpp/${LOCKED}`, headers })], pauseMs: 0, then: 'hold', kind: `locked station, ${auth.kind}`, id: undefined };
        lockedKinds.set(request, auth.kind);
        pending.push(request);
      } else {
        pending.push(genRawRequest(rng, gateway.port, '/ocpp'));
      }
    }
    // Attempts whose id may leave the path segment run alone; the others in groups.
    const run = async (group: RawRequest[], alone: boolean): Promise<void> => {
      const before = cpms.requests.length;
      const exchanges = await Promise.all(group.map((request) => rawExchange(gateway.port, request.chunks, request.pauseMs, request.then, ANSWER_WAIT_MS)));
      const seqs = cpms.requests.slice(before).map((request) => request.seq);
      group.forEach((request, index) => {
        const exchange = exchanges[index] as RawExchange;
        const kind = lockedKinds.get(request);
        done.push({ request, exchange, upstreamSeqs: seqs, alone, locked: kind === undefined ? undefined : { authKind: kind } });
      });
    };
    const grouped: RawRequest[] = [];
    for (const request of pending) {
      if (isPathEscapeId(request.id?.decoded)) await run([request], true);
      else grouped.push(request);
      if (grouped.length >= PARALLEL) await run(grouped.splice(0), false);
    }
    if (grouped.length > 0) await run(grouped.splice(0), false);

    for (const attempt of done) {
      const label = `${attempt.request.kind} (id ${JSON.stringify(attempt.request.id?.segment ?? LOCKED)})`;
      if (attempt.exchange.status === 500) unexpected.push(`500 for ${label}`);
      if (attempt.locked && attempt.exchange.status === 101 && attempt.locked.authKind !== 'right credentials') lockedAdmitted.push(label);
      for (const seq of attempt.upstreamSeqs) {
        const upstream = cpms.requests.find((request) => request.seq === seq);
        const problem = upstream ? pathViolation(upstream.url, '/ocpp') : undefined;
        if (problem === undefined) continue;
        if (attempt.alone && isPathEscapeId(attempt.request.id?.decoded)) {
          if (!pathProblems.known.includes(problem)) pathProblems.known.push(`${problem} from ${label}`);
        } else if (!pathProblems.unknown.some((p) => p.startsWith(problem))) {
          pathProblems.unknown.push(`${problem} from a group holding ${label}`);
        }
      }
    }

    // Accepted attackers say who they are (hostile ids reach the stations table), then go.
    const accepted = done.filter((attempt) => attempt.exchange.status === 101);
    for (const attempt of accepted) {
      if (!attempt.exchange.socket.destroyed) attempt.exchange.socket.write(maskedFrame(Buffer.from('[2,"boot","BootNotification",{"chargePointVendor":"Fuzz\\u001b[31m","chargePointModel":"X"}]')));
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (const attempt of accepted) attempt.exchange.socket.destroy();

    // Refused or answered attackers that hold their socket open: the gateway's side must close anyway.
    const holding = done.filter((attempt) => attempt.exchange.status !== 101 && !attempt.exchange.socket.destroyed);
    const stillWaitingForHeaders = holding.filter((attempt) => attempt.exchange.status === undefined && !attempt.exchange.serverClosed).length;
    const answeredHolding = holding.filter((attempt) => attempt.exchange.status !== undefined).length;
    if (answeredHolding > 0) {
      const closedServerSide = await eventually(() => socketsOnLocalPort(gateway.port).length <= baselineSockets + stillWaitingForHeaders, 1000);
      t.ok(closedServerSide, `batch ${batch}: the gateway closed its side of ${answeredHolding} answered connections the attackers hold open (${socketsOnLocalPort(gateway.port).length - baselineSockets - stillWaitingForHeaders} left)`);
    }
    for (const attempt of holding) attempt.exchange.socket.destroy();

    // Every attacker is gone: only the canary's upstream may be left. A leftover
    // from an attacker that was not admitted is the orphaned-dial defect found
    // by this suite; one from an admitted attacker (its link should have closed
    // it) or from nobody is unknown.
    await eventually(() => cpms.openConnections().every((connection) => connection.path === canaryPath), 1000);
    const leftovers = cpms.openConnections().filter((connection) => connection.path !== canaryPath);
    const ownersOf = (connection: { seq: number; path: string }): Attempt[] => {
      const group = done.filter((attempt) => attempt.upstreamSeqs.includes(connection.seq));
      const byUrl = group.filter((attempt) => attempt.request.id?.decoded !== undefined && `/ocpp/${encodeURIComponent(attempt.request.id.decoded)}` === connection.path);
      return byUrl.length > 0 ? byUrl : group;
    };
    const orphaned = leftovers.filter((connection) => {
      const owners = ownersOf(connection);
      return owners.length > 0 && owners.every((attempt) => attempt.exchange.status !== 101);
    });
    const unexplained = leftovers.filter((connection) => !orphaned.includes(connection));
    const describe = (connection: { seq: number; path: string }): string =>
      `${connection.path} after ${ownersOf(connection).map((attempt) => `${attempt.request.kind}/${attempt.request.then}/${String(attempt.exchange.status)}`).join(' | ')}`;
    t.same(unexplained.map(describe), [], `batch ${batch}: no upstream connection is left but the canary's`);
    t.same(orphaned.map(describe), [], `batch ${batch}: attackers that were not admitted left no upstream connection`);
    // Clean up what leaked so the checks below see only new leaks.
    for (const connection of leftovers) connection.socket.terminate();
    await eventually(() => cpms.openConnections().length === 1, 1000);
    t.equal(await checkCanary(canary, cpms), undefined, `batch ${batch}: the canary is connected and relayed byte for byte`);
    const probe = await connectCanary(endpoint, `PROBE-${batch}`).then(
      (station) => {
        station.socket.close();
        return 'ok';
      },
      (error: unknown) => String(error),
    );
    t.equal(probe, 'ok', `batch ${batch}: a new well-behaved station is admitted`);
    t.ok(await eventually(() => fdCount() <= baselineFds + 4, 1500), `batch ${batch}: file descriptors back near the baseline (${fdCount()} vs ${baselineFds})`);
  }
  t.comment(`${attempts} hostile handshakes in ${batch} batches`);

  t.same(unexpected, [], 'no attacker was answered 500 (an unexpected exception)');
  t.same(lockedAdmitted, [], 'a station with a password was never admitted without it');
  t.same(pathProblems.unknown, [], 'the CPMS saw only /ocpp/<one encoded segment> (inputs other than the known escapes)');
  t.same(pathProblems.known, [], 'the CPMS saw only /ocpp/<one encoded segment> for ids ".", "..", "/", NUL and other control characters');

  const config = writeCliConfig(dataDir, `${dataDir}/data`);
  const json = await cli(['stations', '--json', '--config', config]);
  t.equal(json.code, 0, `stations --json exits 0 ${json.stderr}`);
  t.equal(jsonProblem(json.stdout), undefined, 'stations --json is valid JSON after hostile ids');
  const text = await cli(['stations', '--config', config]);
  t.equal(text.code, 0, 'stations exits 0');
  t.same(controlCharacters(text.stdout), [], 'the stations listing carries no control characters from hostile ids or boot fields');
});
