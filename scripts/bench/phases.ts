import type { BenchChild } from './bench-child.js';
import type { LatencyRun, MemoryRun, PathName, ThroughputRun } from './bench-results.js';
import type { NginxProxy } from './nginx-proxy.js';
import { LatencySamples } from './latency-samples.js';
import { StationFleet } from './station-fleet.js';

/** One way from the stations to the CPMS, and how to read the proxy on it (none for direct). */
export interface BenchPath {
  readonly name: PathName;
  /** Base URL the station id is appended to. */
  readonly url: string;
  readonly proxy?: ProxyMeter;
}

export interface ProxyReading {
  readonly cpuMicros: number;
  readonly systemMicros: number;
  readonly rssBytes: number;
  /** Messages relayed so far, both ways, when the proxy counts them itself (the gateway does). */
  readonly messagesRelayed?: number;
  readonly heapBytes?: number;
  readonly externalBytes?: number;
  readonly stationsConnected?: number;
}

export interface ProxyMeter {
  read(gc: boolean): Promise<ProxyReading>;
  readonly collectsGarbage: boolean;
}

export function gatewayMeter(gateway: BenchChild, exposesGc: boolean): ProxyMeter {
  return {
    collectsGarbage: exposesGc,
    async read(gc) {
      const { usage, counters } = await gateway.usage(gc);
      return {
        cpuMicros: usage.cpuUserMicros + usage.cpuSystemMicros,
        systemMicros: usage.cpuSystemMicros,
        rssBytes: usage.rssBytes,
        messagesRelayed: (counters.framesFromStations ?? 0) + (counters.framesFromCpms ?? 0),
        heapBytes: usage.heapUsedBytes,
        externalBytes: usage.externalBytes,
        stationsConnected: counters.stationsConnected ?? 0,
      };
    },
  };
}

export function nginxMeter(nginx: NginxProxy): ProxyMeter {
  return {
    collectsGarbage: false,
    read: () => Promise.resolve(nginx.sample()),
  };
}

export interface PhaseSettings {
  readonly stations: number;
  /** Unmeasured load before the first round; later rounds get a short one. */
  readonly warmupMs: number;
  /** Measured time per path, split evenly over the rounds. */
  readonly measureMs: number;
  readonly rounds: number;
  /** Unique per phase, so station ids never repeat on a path. */
  readonly idPrefix: string;
}

/** Between rounds the fleets stay connected and warm: a short ramp is enough. */
const ROUND_WARMUP_MS = 250;

function roundWarmupMs(settings: PhaseSettings, round: number): number {
  return round === 0 ? settings.warmupMs : Math.min(settings.warmupMs, ROUND_WARMUP_MS);
}

/** The paths in turn, starting one further each round. */
function rotation<T>(items: readonly T[], round: number): T[] {
  const shift = round % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

async function connectFleets(paths: readonly BenchPath[], settings: PhaseSettings): Promise<Map<PathName, StationFleet>> {
  const fleets = new Map<PathName, StationFleet>();
  try {
    for (const path of paths) {
      fleets.set(path.name, await StationFleet.connect({ baseUrl: path.url, count: settings.stations, idPrefix: `${settings.idPrefix}${path.name}-` }));
    }
  } catch (error: unknown) {
    await closeFleets(fleets);
    throw error;
  }
  return fleets;
}

async function closeFleets(fleets: ReadonlyMap<PathName, StationFleet>): Promise<void> {
  await Promise.all([...fleets.values()].map((fleet) => fleet.close()));
}

function fleetOf(fleets: ReadonlyMap<PathName, StationFleet>, path: PathName): StationFleet {
  const fleet = fleets.get(path);
  if (!fleet) throw new Error(`no fleet for ${path}`);
  return fleet;
}

/**
 * Every round, each path in turn on its own fleet of stations, starting one
 * path further each round so drift in the machine hits all paths alike;
 * `turn` measures one window and adds it to that path's totals.
 */
async function takeTurns<T>(
  paths: readonly BenchPath[],
  settings: PhaseSettings,
  newTotals: () => T,
  onRound: (round: number) => void,
  turn: (path: BenchPath, fleet: StationFleet, totals: T, round: number) => Promise<void>,
): Promise<Array<{ readonly path: BenchPath; readonly totals: T }>> {
  const fleets = await connectFleets(paths, settings);
  try {
    const totals = new Map(paths.map((path) => [path.name, newTotals()]));
    for (let round = 0; round < settings.rounds; round += 1) {
      onRound(round);
      for (const path of rotation(paths, round)) {
        const pathTotals = totals.get(path.name);
        if (pathTotals === undefined) continue;
        const fleet = fleetOf(fleets, path.name);
        await turn(path, fleet, pathTotals, round);
        checkFleet(fleet, path.name);
      }
    }
    return paths.map((path) => {
      const pathTotals = totals.get(path.name);
      if (pathTotals === undefined) throw new Error(`no totals for ${path.name}`);
      return { path, totals: pathTotals };
    });
  } finally {
    await closeFleets(fleets);
  }
}

/** Open loop at `rate` calls/s on each path in turn, round after round. */
export async function measureLatency(paths: readonly BenchPath[], settings: PhaseSettings, rate: number, onRound: (round: number) => void): Promise<LatencyRun[]> {
  const runs = await takeTurns(
    paths,
    settings,
    () => ({ samples: new LatencySamples(), seconds: 0, sent: 0, answered: 0, lost: 0, overlapped: 0 }),
    onRound,
    async (_path, fleet, total, round) => {
      const counts = await fleet.runOpenLoop(rate, roundWarmupMs(settings, round), settings.measureMs / settings.rounds, total.samples);
      total.seconds += counts.windowSeconds;
      total.sent += counts.sent;
      total.answered += counts.answered;
      total.lost += counts.lost;
      total.overlapped += counts.overlapped;
    },
  );
  return runs.map(({ path, totals: { samples, seconds, ...counts } }) => ({
    path: path.name,
    stations: settings.stations,
    rate,
    rounds: settings.rounds,
    measuredSeconds: seconds,
    ...counts,
    latency: samples.summary(),
  }));
}

/**
 * Closed loop on each path in turn, round after round, reading the proxy's
 * CPU time and relayed-message count at the edges of every measured window.
 */
export async function measureThroughput(paths: readonly BenchPath[], settings: PhaseSettings, cpms: BenchChild, onRound: (round: number) => void): Promise<ThroughputRun[]> {
  const runs = await takeTurns(
    paths,
    settings,
    () => ({ samples: new LatencySamples(), seconds: 0, answered: 0, proxyCpuMicros: 0, proxySystemMicros: 0, messages: 0, generatorCpuMicros: 0, cpmsCpuMicros: 0 }),
    onRound,
    async (path, fleet, total, round) => {
      let atStart: Promise<Readings> | undefined;
      let atEnd: Promise<Readings> | undefined;
      const counts = await fleet.runClosedLoop(roundWarmupMs(settings, round), settings.measureMs / settings.rounds, total.samples, {
        onStart: () => {
          atStart = readAll(path, cpms);
        },
        onEnd: () => {
          atEnd = readAll(path, cpms);
        },
      });
      if (!atStart || !atEnd) throw new Error('throughput window did not run');
      const [start, end] = await Promise.all([atStart, atEnd]);
      total.seconds += counts.windowSeconds;
      total.answered += counts.answered;
      total.generatorCpuMicros += end.generatorCpuMicros - start.generatorCpuMicros;
      total.cpmsCpuMicros += end.cpmsCpuMicros - start.cpmsCpuMicros;
      if (start.proxy && end.proxy) {
        total.proxyCpuMicros += end.proxy.cpuMicros - start.proxy.cpuMicros;
        total.proxySystemMicros += end.proxy.systemMicros - start.proxy.systemMicros;
        // nginx does not count messages; each answered call is two (the CALL and its CALLRESULT).
        const counted = end.proxy.messagesRelayed !== undefined && start.proxy.messagesRelayed !== undefined;
        total.messages += counted ? (end.proxy.messagesRelayed ?? 0) - (start.proxy.messagesRelayed ?? 0) : 2 * counts.answered;
      }
    },
  );
  return runs.map(({ path, totals: total }) => {
    const seconds = total.seconds;
    const run: ThroughputRun = {
      path: path.name,
      stations: settings.stations,
      rounds: settings.rounds,
      measuredSeconds: seconds,
      answered: total.answered,
      callsPerSecond: total.answered / seconds,
      latency: total.samples.summary(),
      generatorCores: total.generatorCpuMicros / 1e6 / seconds,
      cpmsCores: total.cpmsCpuMicros / 1e6 / seconds,
    };
    if (!path.proxy) return run;
    return {
      ...run,
      proxyCpuSeconds: total.proxyCpuMicros / 1e6,
      proxyCores: total.proxyCpuMicros / 1e6 / seconds,
      messagesRelayed: total.messages,
      proxyCpuMicrosPerMessage: total.messages > 0 ? total.proxyCpuMicros / total.messages : Number.NaN,
      proxyKernelShare: total.proxyCpuMicros > 0 ? total.proxySystemMicros / total.proxyCpuMicros : Number.NaN,
    };
  });
}

async function readAll(path: BenchPath, cpms: BenchChild): Promise<Readings> {
  const [proxy, cpmsReport] = await Promise.all([path.proxy?.read(false), cpms.usage(false)]);
  const ownCpu = process.cpuUsage();
  return { proxy, cpmsCpuMicros: cpmsReport.usage.cpuUserMicros + cpmsReport.usage.cpuSystemMicros, generatorCpuMicros: ownCpu.user + ownCpu.system };
}

interface Readings {
  readonly proxy: ProxyReading | undefined;
  readonly cpmsCpuMicros: number;
  readonly generatorCpuMicros: number;
}

/** Stations connected and booted only to warm the code paths before the idle baseline. */
const MEMORY_WARMUP_STATIONS = 20;
const SETTLE_MS = 1_000;

/**
 * Memory per connected station: the proxy's RSS once it has served a few
 * stations and is idle again (its baseline), then with `stations` connected,
 * each after one BootNotification round trip as a real station makes first.
 */
export async function measureMemory(path: BenchPath & { readonly name: 'nginx' | 'gateway'; readonly proxy: ProxyMeter }, stations: number, idPrefix: string): Promise<MemoryRun> {
  const meter = path.proxy;
  const gc = meter.collectsGarbage;
  const boot = { chargePointVendor: 'Pleevi', chargePointModel: 'Bench' };
  const warm = await StationFleet.connect({ baseUrl: path.url, count: Math.min(MEMORY_WARMUP_STATIONS, stations), idPrefix: `${idPrefix}warm-` });
  await warm.callEach('BootNotification', boot);
  await warm.close();
  await sleep(SETTLE_MS);
  const baseline = await meter.read(gc);

  const fleet = await StationFleet.connect({ baseUrl: path.url, count: stations, idPrefix });
  try {
    await fleet.callEach('BootNotification', boot);
    await sleep(SETTLE_MS);
    const loaded = await meter.read(gc);
    checkFleet(fleet, path.name);
    if (loaded.stationsConnected !== undefined && loaded.stationsConnected !== stations) {
      throw new Error(`${path.name} reports ${loaded.stationsConnected} stations connected, expected ${stations}`);
    }
    const perStationKb = (after: number | undefined, before: number | undefined): number | undefined =>
      after === undefined || before === undefined ? undefined : (after - before) / 1024 / stations;
    const run: MemoryRun = {
      path: path.name,
      stations,
      baselineRssBytes: baseline.rssBytes,
      loadedRssBytes: loaded.rssBytes,
      kbPerStation: (loaded.rssBytes - baseline.rssBytes) / 1024 / stations,
      afterGc: gc,
    };
    const heap = perStationKb(loaded.heapBytes, baseline.heapBytes);
    const external = perStationKb(loaded.externalBytes, baseline.externalBytes);
    return { ...run, ...(heap === undefined ? {} : { heapKbPerStation: heap }), ...(external === undefined ? {} : { externalKbPerStation: external }) };
  } finally {
    await fleet.close();
  }
}

function checkFleet(fleet: StationFleet, path: PathName): void {
  if (fleet.unexpectedCloses > 0) throw new Error(`${fleet.unexpectedCloses} station connections closed during the ${path} run`);
  if (fleet.unexpectedFrames > 0) throw new Error(`${fleet.unexpectedFrames} unexpected frames during the ${path} run`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
