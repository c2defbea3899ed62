import type { BenchChild } from './bench-child.js';
import type { LatencyRun, MemoryRun, PathName, ThroughputRun } from './bench-results.js';
import type { NginxProxy } from './nginx-proxy.js';
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
  readonly warmupMs: number;
  readonly measureMs: number;
  /** Unique per run, so station ids never repeat on a path. */
  readonly idPrefix: string;
}

export async function measureLatency(path: BenchPath, settings: PhaseSettings, rate: number): Promise<LatencyRun> {
  const fleet = await StationFleet.connect({ baseUrl: path.url, count: settings.stations, idPrefix: settings.idPrefix });
  try {
    const result = await fleet.runOpenLoop(rate, settings.warmupMs, settings.measureMs);
    checkFleet(fleet, path.name);
    return { path: path.name, stations: settings.stations, result };
  } finally {
    await fleet.close();
  }
}

export async function measureThroughput(path: BenchPath, settings: PhaseSettings, cpms: BenchChild): Promise<ThroughputRun> {
  const fleet = await StationFleet.connect({ baseUrl: path.url, count: settings.stations, idPrefix: settings.idPrefix });
  try {
    let atStart: Promise<Readings> | undefined;
    let atEnd: Promise<Readings> | undefined;
    const read = async (): Promise<Readings> => {
      const [proxy, cpmsReport] = await Promise.all([path.proxy?.read(false), cpms.usage(false)]);
      const ownCpu = process.cpuUsage();
      return { proxy, cpmsCpuMicros: cpmsReport.usage.cpuUserMicros + cpmsReport.usage.cpuSystemMicros, generatorCpuMicros: ownCpu.user + ownCpu.system };
    };
    const result = await fleet.runClosedLoop(settings.warmupMs, settings.measureMs, {
      onStart: () => {
        atStart = read();
      },
      onEnd: () => {
        atEnd = read();
      },
    });
    checkFleet(fleet, path.name);
    if (!atStart || !atEnd) throw new Error('throughput window did not run');
    const [start, end] = await Promise.all([atStart, atEnd]);
    const seconds = result.windowSeconds;
    const run: ThroughputRun = {
      path: path.name,
      stations: settings.stations,
      result,
      generatorCores: (end.generatorCpuMicros - start.generatorCpuMicros) / 1e6 / seconds,
      cpmsCores: (end.cpmsCpuMicros - start.cpmsCpuMicros) / 1e6 / seconds,
    };
    if (!start.proxy || !end.proxy) return run;
    const cpuMicros = end.proxy.cpuMicros - start.proxy.cpuMicros;
    const counted = end.proxy.messagesRelayed !== undefined && start.proxy.messagesRelayed !== undefined;
    const messages = counted ? (end.proxy.messagesRelayed ?? 0) - (start.proxy.messagesRelayed ?? 0) : 2 * result.answered;
    return {
      ...run,
      proxyCpuSeconds: cpuMicros / 1e6,
      proxyCores: cpuMicros / 1e6 / seconds,
      messagesRelayed: messages,
      proxyCpuMicrosPerMessage: messages > 0 ? cpuMicros / messages : Number.NaN,
    };
  } finally {
    await fleet.close();
  }
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
