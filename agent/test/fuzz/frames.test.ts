/**
 * Fuzz: OCPP-J frames, hostile and sloppy, through a live gateway in both
 * directions: valid 1.6 / 2.0.1 CALL, CALLRESULT and CALLERROR with random
 * payloads, truncated JSON, deep nesting, huge strings, duplicate message
 * ids, wrong types, binary frames, invalid UTF-8, oversize frames.
 *
 * Invariants:
 * - every frame a station sent arrives at the CPMS unchanged and in order, and
 *   every frame the CPMS sent at the station, until the gateway closes that
 *   one station (oversize: 1009, invalid UTF-8: 1007);
 * - the canary is connected and relayed byte for byte after each batch;
 * - no upstream connection is left once the stations are gone, file
 *   descriptors and the heap come back near the baseline;
 * - calls the CPMS never answers do not grow memory without bound (item 6);
 * - a CPMS frame of 1 to 16 MiB reaches a healthy station (item 8);
 * - duplicate message ids never record a session against the wrong badge (item 9).
 */
import t from 'tap';
import { importDrivers } from '../../src/drivers/driver-list-store.js';
import { SessionRecords } from '../../src/sessions/session-records.js';
import { startTestGateway, stationEndpoint } from '../helpers/test-gateway.js';
import { canaryAwareHandler, checkCanary, connectCanary } from './lib/canary.js';
import { startFuzzCpms, type CpmsConnection, type FuzzCpms } from './lib/fuzz-cpms.js';
import { connectFuzzStation, prefixProblem, type FuzzStation } from './lib/fuzz-station.js';
import { fuzzBudget } from './lib/fuzz-options.js';
import { scanFrameHeader } from '../../src/ocpp/frame-header.js';
import { parseFrame } from '../../src/ocpp/parse-frame.js';
import { genFrame } from './lib/generators.js';
import { eventually, fdCount, heapAfterGc } from './lib/probes.js';

const MAX_FRAME_BYTES = 65536;
const MiB = 1024 * 1024;
/** Heap one station may make the gateway keep, after a full GC (a generous multiple of the 40 KB per-station target). */
const STATION_HEAP_BOUND = 8 * MiB;
/** Without a GC to call, heap figures are noisy: allow this much instead. */
const IMPRECISE_HEAP_BOUND = 64 * MiB;
const BATCH = 100;

/** The message id of a station CALL, decided the way the gateway's relay decides it (header scan, else a full parse); undefined for anything else. */
function callIdAsTheGatewayReadsIt(data: Buffer): string | undefined {
  const scanned = scanFrameHeader(data);
  if (scanned) return scanned.ok && scanned.header.messageType === 2 ? scanned.header.id : undefined;
  const parsed = parseFrame(data.toString('utf8'));
  return parsed.ok && parsed.frame.messageType === 2 ? parsed.frame.id : undefined;
}

t.test('random frames both ways through a live gateway', async (t) => {
  const budget = fuzzBudget(t, import.meta.url, 'frames', 400, 10_000);
  const { rng } = budget;
  const canaryPath = '/ocpp/CANARY-F';
  const cpmsSent = new Map<CpmsConnection, Buffer[]>();
  const send = (connection: CpmsConnection, data: string | Buffer, binary: boolean): void => {
    if (connection.socket.readyState !== connection.socket.OPEN) return;
    const buffer = Buffer.isBuffer(data) ? data : Buffer.from(data);
    cpmsSent.get(connection)?.push(buffer) ?? cpmsSent.set(connection, [buffer]);
    connection.socket.send(buffer, { binary });
  };
  const recordPaths = new Set<string>([canaryPath]);
  const cpms = await startFuzzCpms({
    recordPaths,
    onFrame: canaryAwareHandler(canaryPath, (connection, data, isBinary) => {
      // Answer every CALL the gateway takes for one, as the gateway reads it: it
      // paces a station to one call in flight, so an unanswered call would hold
      // the station's later frames (that case has its own test below). Answers
      // are CALLRESULTs or CALLERRORs; now and then a random frame follows.
      if (isBinary) return;
      const id = callIdAsTheGatewayReadsIt(data);
      if (id !== undefined) send(connection, rng.bool(0.8) ? `[3,${JSON.stringify(id)},{"status":"Accepted"}]` : `[4,${JSON.stringify(id)},"InternalError","fuzz",{}]`, false);
    }),
  });
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, maxFrameBytes: MAX_FRAME_BYTES });
  const endpoint = stationEndpoint(gateway);
  const canary = await connectCanary(endpoint, 'CANARY-F');
  t.teardown(() => canary.socket.terminate());
  t.equal(await checkCanary(canary, cpms), undefined, 'the canary works before the attack');
  const baselineFds = fdCount();
  const baselineHeap = await heapAfterGc();

  let frames = 0;
  let stationCount = 0;
  let batch = 0;
  const kinds = new Map<string, number>();
  while (frames < budget.iterations && budget.more()) {
    batch += 1;
    const stations: FuzzStation[] = [];
    const usedIds = new Map<FuzzStation, string[]>();
    const open = async (): Promise<FuzzStation> => {
      stationCount += 1;
      const id = `FZ-${stationCount}`;
      recordPaths.add(`/ocpp/${id}`);
      const protocol = rng.pick(['ocpp1.6', 'ocpp2.0.1'] as const);
      const station = await connectFuzzStation(endpoint, id, protocol);
      stations.push(station);
      usedIds.set(station, []);
      return station;
    };
    for (let i = 0; i < 4; i += 1) await open();
    for (let i = 0; i < BATCH && frames < budget.iterations; i += 1, frames += 1) {
      let station = rng.pick(stations);
      if (station.closedWith !== undefined || station.socket.readyState !== station.socket.OPEN) station = await open();
      const protocol = station.socket.protocol === 'ocpp2.0.1' ? 'ocpp2.0.1' : 'ocpp1.6';
      const ids = usedIds.get(station) ?? [];
      if (rng.bool(0.25)) {
        const connection = cpms.openConnections(station.path)[0];
        if (connection) {
          const frame = genFrame(rng, { protocol, maxFrameBytes: MAX_FRAME_BYTES, usedIds: ids });
          // Frames from the CPMS stay below the station limit here (the large ones have their own test), and
          // are valid UTF-8: invalid text from the CPMS is a CPMS failure the gateway rides out by redialing.
          if (frame.data.length <= MAX_FRAME_BYTES && frame.kind !== 'invalid UTF-8 text') send(connection, frame.data, frame.binary);
        }
      } else {
        const frame = genFrame(rng, { protocol, maxFrameBytes: MAX_FRAME_BYTES, usedIds: ids });
        kinds.set(frame.kind, (kinds.get(frame.kind) ?? 0) + 1);
        station.send(frame.data, frame.binary);
      }
      if (rng.bool(0.1)) await new Promise((resolve) => setTimeout(resolve, rng.range(0, 5)));
    }
    // Let everything arrive, then compare both directions per station.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const problems: string[] = [];
    for (const station of stations) {
      const connections = cpms.connections.filter((connection) => connection.path === station.path);
      const connection = connections[0];
      if (connections.length !== 1 || !connection) {
        problems.push(`${station.id}: ${connections.length} upstream connections`);
        continue;
      }
      const stillOpen = station.closedWith === undefined;
      await eventually(() => !stillOpen || connection.frames.length >= station.sent.length, 2000);
      const up = prefixProblem(connection.frames, station.sent);
      if (up) problems.push(`${station.id} -> CPMS: ${up}`);
      else if (stillOpen && connection.frames.length !== station.sent.length) problems.push(`${station.id} -> CPMS: ${connection.frames.length} of ${station.sent.length} frames arrived on an open link`);
      const down = cpmsSent.get(connection) ?? [];
      await eventually(() => !stillOpen || station.received.length >= down.length, 2000);
      const downProblem = prefixProblem(station.received, down);
      if (downProblem) problems.push(`CPMS -> ${station.id}: ${downProblem}`);
      else if (stillOpen && station.received.length !== down.length) problems.push(`CPMS -> ${station.id}: ${station.received.length} of ${down.length} frames arrived on an open link`);
      if (!stillOpen && station.closedWith !== 1009 && station.closedWith !== 1007) {
        problems.push(`${station.id} was closed with ${station.closedWith} (only 1009 oversize / 1007 invalid UTF-8 expected)`);
      }
    }
    t.same(problems, [], `batch ${batch}: every frame relayed unchanged and in order, both ways`);
    for (const station of stations) station.socket.close();
    t.ok(await eventually(() => cpms.openConnections().every((connection) => connection.path === canaryPath), 2000), `batch ${batch}: no upstream left but the canary's`);
    t.equal(await checkCanary(canary, cpms), undefined, `batch ${batch}: the canary is connected and relayed byte for byte`);
    // Forget what this batch recorded, so the heap check sees the gateway, not the test.
    for (const station of stations) recordPaths.delete(station.path);
    for (const connection of cpms.connections) if (connection.path !== canaryPath) connection.frames.length = 0;
    cpmsSent.clear();
  }
  t.comment(`${frames} frames over ${stationCount} stations in ${batch} batches: ${JSON.stringify(Object.fromEntries(kinds))}`);
  cpms.connections.splice(0, cpms.connections.length, ...cpms.connections.filter((connection) => connection.open));
  t.ok(await eventually(() => fdCount() <= baselineFds + 4, 3000), `file descriptors back near the baseline (${fdCount()} vs ${baselineFds})`);
  const heap = await heapAfterGc();
  const bound = heap.precise ? STATION_HEAP_BOUND : IMPRECISE_HEAP_BOUND;
  t.ok(heap.bytes - baselineHeap.bytes < bound, `heap back near the baseline after the stations left (${((heap.bytes - baselineHeap.bytes) / MiB).toFixed(1)} MiB more, bound ${bound / MiB} MiB, gc ${heap.precise ? 'available' : 'not available'})`);
});

/** Calls of up to the frame limit, with fresh ids, paced to the CPMS (a faster flood is closed with 1013 on purpose). */
async function flood(station: FuzzStation, cpms: FuzzCpms, count: number, action: (i: number) => string, more: () => boolean): Promise<number> {
  let sent = 0;
  for (let i = 0; i < count && more() && station.closedWith === undefined; i += 1) {
    if (i % 50 === 0) await eventually(() => cpms.connections.reduce((sum, c) => sum + c.framesSeen, 0) >= sent - 25, 5000, 5);
    station.send(`[2,"${i.toString(36)}-${station.id}","${action(i)}",{}]`, false);
    sent += 1;
  }
  await eventually(() => cpms.connections.reduce((sum, c) => sum + c.framesSeen, 0) >= sent || station.closedWith !== undefined, 10_000);
  return sent;
}

const ACTION_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';

t.test('calls the CPMS never answers do not grow memory without bound', async (t) => {
  const budget = fuzzBudget(t, import.meta.url, 'unanswered calls', 400, 10_000);
  const { rng } = budget;
  const cpms = await startFuzzCpms({ onFrame: () => undefined });
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, maxFrameBytes: MAX_FRAME_BYTES });
  // A few long vendor actions, reused: the gateway's per-action cache stays small, only the calls in flight grow.
  const actions = Array.from({ length: 8 }, () => `Vendor${rng.string(12, ACTION_CHARS)}${'v'.repeat(rng.range(MAX_FRAME_BYTES / 2, MAX_FRAME_BYTES - 200))}`);
  const baseline = await heapAfterGc();
  const station = await connectFuzzStation(stationEndpoint(gateway), 'SILENCED', 'ocpp1.6', false);
  const sent = await flood(station, cpms, budget.iterations, () => rng.pick(actions), budget.more);
  const during = await heapAfterGc();
  const bound = during.precise ? STATION_HEAP_BOUND : IMPRECISE_HEAP_BOUND;
  const grew = during.bytes - baseline.bytes;
  t.comment(`${sent} unanswered calls; the CPMS got ${cpms.connections[0]?.framesSeen ?? 0}; station ${station.closedWith === undefined ? 'still connected' : `closed with ${station.closedWith}`}`);
  t.ok(grew < bound, `one station with ${sent} unanswered calls keeps ${(grew / MiB).toFixed(1)} MiB (bound ${bound / MiB} MiB)`);
  station.socket.close();
  await eventually(() => cpms.openConnections().length === 0, 2000);
  const after = await heapAfterGc();
  t.ok(after.bytes - baseline.bytes < bound, `the memory is given back once the station left (${((after.bytes - baseline.bytes) / MiB).toFixed(1)} MiB more)`);
});

t.test('unique action names do not grow memory after the station left', async (t) => {
  const budget = fuzzBudget(t, import.meta.url, 'unique actions', 400, 10_000);
  const { rng } = budget;
  const cpms = await startFuzzCpms();
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, maxFrameBytes: MAX_FRAME_BYTES });
  const baseline = await heapAfterGc();
  const station = await connectFuzzStation(stationEndpoint(gateway), 'NAMER', 'ocpp1.6', false);
  const sent = await flood(station, cpms, budget.iterations, (i) => `V${i}${rng.string(12, ACTION_CHARS)}${'v'.repeat(rng.range(MAX_FRAME_BYTES / 2, MAX_FRAME_BYTES - 200))}`, budget.more);
  station.socket.close();
  await eventually(() => cpms.openConnections().length === 0, 2000);
  const after = await heapAfterGc();
  const bound = after.precise ? STATION_HEAP_BOUND : IMPRECISE_HEAP_BOUND;
  t.ok(after.bytes - baseline.bytes < bound, `after ${sent} answered calls with unique action names and a disconnect, the gateway keeps ${((after.bytes - baseline.bytes) / MiB).toFixed(1)} MiB (bound ${bound / MiB} MiB)`);
});

t.test('a CPMS frame of 1 to 16 MiB reaches a healthy station', async (t) => {
  const budget = fuzzBudget(t, import.meta.url, 'large CPMS frames', 2, 20);
  const { rng } = budget;
  const cpms = await startFuzzCpms({ recordPaths: new Set(['/ocpp/BIG-1']) });
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, maxFrameBytes: MAX_FRAME_BYTES });
  const station = await connectFuzzStation(stationEndpoint(gateway), 'BIG-1', 'ocpp1.6');
  const connection = cpms.openConnections('/ocpp/BIG-1')[0];
  if (!connection) throw new Error('no upstream connection for BIG-1');
  const problems: string[] = [];
  for (let i = 0; i < budget.iterations && station.closedWith === undefined; i += 1) {
    const size = rng.range(MiB + 1, 16 * MiB - 1024);
    const frame = Buffer.from(`[2,"big-${i}","SendLocalList",{"listVersion":${i},"updateType":"Full","localAuthorizationList":[{"idTag":"${'T'.repeat(size - 120)}"}]}]`);
    const before = station.received.length;
    connection.socket.send(frame);
    const arrived = await eventually(() => station.received.length > before || station.closedWith !== undefined, 10_000);
    const got = station.received[before];
    if (!arrived || !got?.equals(frame)) problems.push(`${frame.length} bytes: ${station.closedWith === undefined ? 'not delivered' : `station closed with ${station.closedWith}`}`);
  }
  t.same(problems, [], `every large CPMS frame reached the station unchanged and the station stayed connected`);
  station.socket.close();
});

t.test('duplicate message ids never record a session against the wrong badge', async (t) => {
  const budget = fuzzBudget(t, import.meta.url, 'duplicate ids', 60, 2000);
  const { rng } = budget;
  // The CPMS gives each StartTransaction its own transaction id and remembers the badge it was for.
  const issued = new Map<number, string>();
  let nextTransaction = 1000;
  const cpms = await startFuzzCpms({
    onFrame: (connection, data) => {
      const call = JSON.parse(data.toString('utf8')) as [number, string, string, { idTag?: string }];
      if (call[0] !== 2) return;
      const answer =
        call[2] === 'StartTransaction'
          ? (() => {
              nextTransaction += 1;
              issued.set(nextTransaction, call[3].idTag ?? '');
              return { transactionId: nextTransaction, idTagInfo: { status: 'Accepted' } };
            })()
          : {};
      // Answers come a little later, so calls with the same id are in flight together.
      setTimeout(() => {
        if (connection.socket.readyState === connection.socket.OPEN) connection.socket.send(JSON.stringify([3, call[1], answer]));
      }, rng.range(1, 15));
    },
  });
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url });
  const badges = Array.from({ length: 6 }, (_, i) => `BADGE${i}`);
  importDrivers(gateway.store, badges.map((badge, i) => ({ email: `driver${i}@example.com`, line: i + 2, badges: [{ id: badge, line: i + 2 }] })), { mode: 'replace', source: 'fuzz' });
  const station = await connectFuzzStation(stationEndpoint(gateway), 'DUP-1', 'ocpp1.6');
  const messageIds = ['m1', 'm2', 'm3'];
  let connector = 0;
  for (let i = 0; i < budget.iterations && budget.more() && station.closedWith === undefined; i += 1) {
    const burst = rng.range(1, 3);
    for (let b = 0; b < burst; b += 1) {
      connector += 1;
      station.send(JSON.stringify([2, rng.pick(messageIds), 'StartTransaction', { connectorId: connector, idTag: rng.pick(badges), meterStart: 0, timestamp: new Date(Date.UTC(2025, 0, 1, 0, 0, connector)).toISOString() }]), false);
    }
    await new Promise((resolve) => setTimeout(resolve, rng.range(0, 20)));
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  const sessions = new SessionRecords(gateway.store).list();
  const wrong = sessions
    .filter((session) => issued.get(Number(session.transactionId)) !== session.idTag)
    .map((session) => `transaction ${session.transactionId} was issued for ${issued.get(Number(session.transactionId)) ?? 'nothing'} but recorded for ${session.idTag} (${session.driverEmail})`);
  t.comment(`${issued.size} transactions issued, ${sessions.length} sessions recorded`);
  t.same(wrong.slice(0, 5), [], `no session recorded against the wrong badge (${wrong.length} wrong)`);
  station.socket.close();
});
