/**
 * Issue 10 targets 3-5, run after the main phases: the closed loop and the
 * memory figure again with a `wss://` CPMS requiring a client certificate
 * (what users run), the reconnect storm against that CPMS, and the idle RSS
 * of the gateway beside the peers' shape (ws-relay-process.ts), the bare
 * byte relay and nginx. Each phase starts the processes it needs and stops
 * them on every way out.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BenchChild } from './bench-child.js';
import type { BenchOptions } from './bench-options.js';
import { writeBenchCerts, type BenchCertFiles } from './bench-certs.js';
import type { Cleanup } from './cleanup.js';
import { NginxProxy } from './nginx-proxy.js';
import type { MemoryRun } from './bench-results.js';
import type { IdleRssRun, PeerResults, StormRun, TlsRun } from './peer-results.js';
import { gatewayMeter, measureMemory, measureThroughput, nginxMeter, type BenchPath, type ProxyReading } from './phases.js';
import { otherCores, otherProcessesCpu } from './proc-stat.js';
import { StationFleet } from './station-fleet.js';
import { reconnectStorm } from './storm-phase.js';

export interface PeerContext {
  readonly options: BenchOptions;
  readonly cleanup: Cleanup;
  readonly workDir: string;
  /** dist/scripts/bench: where the child modules are. */
  readonly benchDir: string;
  readonly nginx: boolean;
  /** The main phases' plain ws CPMS, for the idle RSS figures. */
  readonly cpmsUrl: string;
  readonly cpmsPort: number;
  readonly progress: (line: string) => void;
}

/** The gateway's default upstream.maxConcurrentHandshakes (CONFIG_DEFAULTS). */
const DEFAULT_HANDSHAKE_BOUND = 64;
/** A station's own handshake timeout in the storm; the gateway's upstream.connectTimeoutMs is 10 s within it. */
const STORM_STATION_TIMEOUT_MS = 30_000;
const QUICK_STORM_STATION_TIMEOUT_MS = 15_000;
const SETTLE_MS = 1_000;
const QUICK_SETTLE_MS = 300;

type Stop = () => Promise<void>;

export async function runPeerPhases(context: PeerContext): Promise<PeerResults> {
  const { options } = context;
  const certs = writeBenchCerts(join(context.workDir, 'certs'));
  const tls = options.tls ? await runTlsPhase(context, certs) : undefined;
  const storm = options.stormStations > 0 ? await runStormPhase(context, certs) : undefined;
  const idleRss = await runIdleRssPhase(context);
  return { ...(tls ? { tls } : {}), ...(storm ? { storm } : {}), idleRss };
}

async function withStops<T>(body: (stops: Stop[]) => Promise<T>): Promise<T> {
  const stops: Stop[] = [];
  try {
    return await body(stops);
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

function startGateway(context: PeerContext, upstreamUrl: string, name: string, extra: readonly string[]): Promise<BenchChild> {
  const dataDir = join(context.workDir, name);
  mkdirSync(dataDir, { recursive: true });
  return BenchChild.start({ name, modulePath: join(context.benchDir, 'gateway-process.js'), args: [upstreamUrl, dataDir, ...extra], execArgv: ['--expose-gc'] }, context.cleanup);
}

function startTlsCpms(context: PeerContext, certs: BenchCertFiles): Promise<BenchChild> {
  return BenchChild.start({ name: 'tls-cpms', modulePath: join(context.benchDir, 'tls-cpms-process.js'), args: [certs.dir] }, context.cleanup);
}

function nginxTls(certs: BenchCertFiles): { caPath: string; clientCertPath: string; clientKeyPath: string } {
  return { caPath: certs.caPath, clientCertPath: certs.clientCertPath, clientKeyPath: certs.clientKeyPath };
}

/** Cores other processes used from now until the returned function is called. */
function otherLoadMeter(): () => number {
  const before = otherProcessesCpu(process.pid);
  const startedAt = Date.now();
  return () => Math.round(otherCores(before, otherProcessesCpu(process.pid), (Date.now() - startedAt) / 1000) * 100) / 100;
}

/** Target 3: CPU per message and memory per station, gateway and nginx, both to a wss:// CPMS with mutual TLS. */
export async function runTlsPhase(context: PeerContext, certs: BenchCertFiles): Promise<TlsRun> {
  const { options } = context;
  return withStops(async (stops) => {
    const cpms = await startTlsCpms(context, certs);
    stops.push(() => cpms.stop());
    const wssUrl = `wss://127.0.0.1:${cpms.port}/ocpp`;
    const paths: BenchPath[] = [];
    let nginx: NginxProxy | undefined;
    if (context.nginx) {
      nginx = await NginxProxy.start(join(context.workDir, 'nginx-tls'), cpms.port, context.cleanup, nginxTls(certs));
      const started = nginx;
      stops.push(() => started.stop());
      paths.push({ name: 'nginx', url: `ws://127.0.0.1:${nginx.port}/ocpp`, proxy: nginxMeter(nginx) });
    }
    const gateway = await startGateway(context, wssUrl, 'gateway-tls', [`tls=${certs.dir}`]);
    stops.push(() => gateway.stop());
    paths.push({ name: 'gateway', url: `ws://127.0.0.1:${gateway.port}/ocpp`, proxy: gatewayMeter(gateway, true) });
    const load = otherLoadMeter();
    // --quick keeps it to one short round: the whole quick run stays under a minute.
    const rounds = options.quick ? 1 : options.rounds;
    const settings = { stations: options.stations, warmupMs: options.warmupSeconds * 1000, measureMs: (options.quick ? 1 : options.throughputSeconds) * 1000, rounds, idPrefix: 'tls-tput-' };
    const throughput = await measureThroughput(paths, settings, cpms, (round) =>
      context.progress(`TLS upstream, throughput round ${round + 1}/${rounds}: closed loop over ${options.stations} stations via ${paths.map((path) => path.name).join(', ')} to a wss:// CPMS`),
    );
    const cores = load();
    await gateway.stop();

    const memory: MemoryRun[] = [];
    // The memory figure needs many stations to mean anything; --quick leaves it to the full run.
    if (options.quick) return { throughput, memory, otherCores: cores };
    const fresh = await startGateway(context, wssUrl, 'gateway-tls-memory', [`tls=${certs.dir}`]);
    stops.push(() => fresh.stop());
    context.progress(`TLS upstream, memory via gateway: ${options.memoryStations} stations held open`);
    memory.push(await measureMemory({ name: 'gateway', url: `ws://127.0.0.1:${fresh.port}/ocpp`, proxy: gatewayMeter(fresh, true) }, options.memoryStations, 'tls-mem-gateway-'));
    await fresh.stop();
    if (nginx) {
      context.progress(`TLS upstream, memory via nginx: ${options.memoryStations} stations held open`);
      memory.push(await measureMemory({ name: 'nginx', url: `ws://127.0.0.1:${nginx.port}/ocpp`, proxy: nginxMeter(nginx) }, options.memoryStations, 'tls-mem-nginx-'));
    }
    return { throughput, memory, otherCores: cores };
  });
}

/** Target 4: every station at once through the gateway, then through nginx, each to a fresh wss:// CPMS. */
export async function runStormPhase(context: PeerContext, certs: BenchCertFiles): Promise<StormRun[]> {
  const { options } = context;
  const count = options.stormStations;
  const timeoutMs = options.quick ? QUICK_STORM_STATION_TIMEOUT_MS : STORM_STATION_TIMEOUT_MS;
  const bound = options.stormHandshakeBound ?? DEFAULT_HANDSHAKE_BOUND;
  const runs: StormRun[] = [];
  for (const pathName of context.nginx ? (['gateway', 'nginx'] as const) : (['gateway'] as const)) {
    runs.push(
      await withStops(async (stops) => {
        const cpms = await startTlsCpms(context, certs);
        stops.push(() => cpms.stop());
        let url: string;
        let read: () => Promise<ProxyReading>;
        if (pathName === 'gateway') {
          const gateway = await startGateway(context, `wss://127.0.0.1:${cpms.port}/ocpp`, 'gateway-storm', [`tls=${certs.dir}`, `handshakes=${bound}`]);
          stops.push(() => gateway.stop());
          url = `ws://127.0.0.1:${gateway.port}/ocpp`;
          read = () => gatewayMeter(gateway, false).read(false);
        } else {
          const nginx = await NginxProxy.start(join(context.workDir, 'nginx-storm'), cpms.port, context.cleanup, nginxTls(certs));
          stops.push(() => nginx.stop());
          url = `ws://127.0.0.1:${nginx.port}/ocpp`;
          read = () => Promise.resolve(nginx.sample());
        }
        context.progress(`reconnect storm via ${pathName}: ${count} stations at once to a wss:// CPMS${pathName === 'gateway' ? `, upstream.maxConcurrentHandshakes ${bound}` : ''}`);
        const load = otherLoadMeter();
        const before = await read();
        const figures = await reconnectStorm(url, count, `storm-${pathName}-`, timeoutMs);
        const after = await read();
        const { counters } = await cpms.usage(false);
        return {
          path: pathName,
          ...figures,
          ...(pathName === 'gateway' ? { handshakeBound: bound } : {}),
          cpmsPeakHandshakesInFlight: counters.peakHandshakesInFlight ?? Number.NaN,
          cpmsHandshakesDone: counters.handshakesDone ?? Number.NaN,
          cpmsTlsFailures: counters.tlsFailures ?? Number.NaN,
          cpmsSessionsReused: counters.sessionsReused ?? Number.NaN,
          proxyCpuSeconds: (after.cpuMicros - before.cpuMicros) / 1e6,
          otherCores: load(),
        };
      }),
    );
  }
  return runs;
}

/** Target 5: RSS after start with nothing connected, then with idle stations, for each relay and nginx. */
async function runIdleRssPhase(context: PeerContext): Promise<IdleRssRun[]> {
  const stations = context.options.stations;
  const settleMs = context.options.quick ? QUICK_SETTLE_MS : SETTLE_MS;
  const runs: IdleRssRun[] = [];
  // --quick: only the two the target compares, to stay under a minute.
  const kinds = context.options.quick ? (['gateway', 'ws-relay'] as const) : (['gateway', 'ws-relay', 'node-relay', ...(context.nginx ? (['nginx'] as const) : [])] as const);
  for (const kind of kinds) {
    context.progress(`idle RSS of ${kind}: after start, then with ${stations} idle stations`);
    runs.push(
      await withStops(async (stops) => {
        let url: string;
        let read: () => Promise<ProxyReading>;
        if (kind === 'nginx') {
          const nginx = await NginxProxy.start(join(context.workDir, 'nginx-idle'), context.cpmsPort, context.cleanup);
          stops.push(() => nginx.stop());
          url = `ws://127.0.0.1:${nginx.port}/ocpp`;
          read = () => Promise.resolve(nginx.sample());
        } else {
          const child =
            kind === 'gateway'
              ? await startGateway(context, context.cpmsUrl, 'gateway-idle', [])
              : await BenchChild.start({ name: kind, modulePath: join(context.benchDir, `${kind}-process.js`), args: [context.cpmsUrl] }, context.cleanup);
          stops.push(() => child.stop());
          url = `ws://127.0.0.1:${child.port}/ocpp`;
          read = () => gatewayMeter(child, false).read(false);
        }
        await sleep(settleMs);
        const started = await read();
        const fleet = await StationFleet.connect({ baseUrl: url, count: stations, idPrefix: `idle-${kind}-` });
        try {
          await fleet.callEach('BootNotification', { chargePointVendor: 'Pleevi', chargePointModel: 'Bench' });
          await sleep(settleMs);
          const loaded = await read();
          return {
            process: kind,
            startedRssBytes: started.rssBytes,
            stations,
            withStationsRssBytes: loaded.rssBytes,
            ...(started.heapBytes === undefined ? {} : { startedHeapUsedBytes: started.heapBytes }),
            ...(started.externalBytes === undefined ? {} : { startedExternalBytes: started.externalBytes }),
          };
        } finally {
          await fleet.close();
        }
      }),
    );
  }
  return runs;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
