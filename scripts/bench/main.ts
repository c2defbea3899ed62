/**
 * `npm run bench`: the same OCPP load to a local CPMS straight, through nginx
 * and through the gateway, on 127.0.0.1 only, with every figure bounded in
 * time and count. The CPMS, the gateway and nginx each run in their own
 * process; the load generator runs here.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchChild } from './bench-child.js';
import { BenchUsageError, parseBenchOptions, USAGE, type BenchOptions } from './bench-options.js';
import type { BenchResults, MachineInfo, MemoryRun } from './bench-results.js';
import { Cleanup } from './cleanup.js';
import { newestProfile, summarizeProfile } from './cpu-profile-summary.js';
import { measureDriverLookup } from './driver-lookup-phase.js';
import { NGINX_PATH, NginxProxy, nginxVersion } from './nginx-proxy.js';
import { runObservedPhases } from './observed-phases.js';
import { gatewayMeter, measureLatency, measureMemory, measureThroughput, nginxMeter, type BenchPath, type PhaseSettings } from './phases.js';
import { machineBusy, openFileLimit, otherCores, otherProcessesCpu } from './proc-stat.js';
import { peerTargets } from './peer-report.js';
import { runPeerPhases } from './peer-phases.js';
import { formatReport } from './report.js';
import { evaluateTargets } from './targets.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** dist/scripts/bench -> the project folder. */
const PROJECT_ROOT = join(HERE, '..', '..', '..');
const RESULTS_DIR = join(PROJECT_ROOT, 'bench-results');
/** Sockets per station in the gateway process: the station's and its upstream's. */
const GATEWAY_FDS_PER_STATION = 2;
/** The idle check before the run: how long, and from what share of busy cores to warn. */
const IDLE_CHECK_MS = 1_000;
const BUSY_WARNING = 0.1;
/** Cores used by other processes during a phase above which its figures are flagged. */
const OTHER_LOAD_WARNING = 0.05;

function progress(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

function machineInfo(busy: number | undefined): MachineInfo {
  const cores = cpus();
  return {
    cpus: cores.length,
    cpuModel: cores[0]?.model ?? 'unknown',
    totalMemoryMb: Math.round(totalmem() / 1024 / 1024),
    node: process.version,
    nginx: nginxVersion(),
    openFileLimit: openFileLimit(),
    kernel: release(),
    busyBeforeStart: busy === undefined ? undefined : Math.round(busy * 100) / 100,
  };
}

/** The run's own deadline: generous for the flags given, so it always ends by itself. */
function timeLimitMs(options: BenchOptions): number {
  const paths = 3 + (options.nodeRelay ? 1 : 0) + (options.wsRelay ? 1 : 0);
  const perPath = options.waitIdleSeconds / paths + 2 * options.warmupSeconds + options.latencySeconds + options.throughputSeconds + options.rounds + 20;
  // The driver phase: about 2 s per 100,000 drivers here; allow ten times that.
  // Peer phases: the TLS closed loop and memory, two storms, four idle RSS readings.
  const peers = 60 + 2 * (options.throughputSeconds + options.rounds) + options.memoryStations / 50 + options.stormStations / 20;
  return (180 + paths * perPath + peers + options.drivers / 5_000 + options.siteDaySeconds + 2 * options.mixSeconds + 60) * 1000;
}

function fdNotes(options: BenchOptions, limit: number | undefined): string[] {
  const most = Math.max(options.stations, options.memoryStations);
  const needed = GATEWAY_FDS_PER_STATION * most + 64;
  const notes = [
    `file descriptors: ulimit -n is ${limit ?? 'unknown'}; the gateway process needs ${GATEWAY_FDS_PER_STATION} per station (station socket + upstream socket), about ${needed} for ${most} stations; nginx is given worker_rlimit_nofile 16384 and worker_connections 10000 for the same reason. A systemd unit should set LimitNOFILE accordingly.`,
  ];
  if (limit !== undefined && limit < needed) notes.push(`ulimit -n ${limit} is below the ${needed} needed: raise it (ulimit -n 20000) or the memory phase will fail to connect every station`);
  return notes;
}

/** The share of busy cores now, after waiting up to `seconds` for it to drop below the warning level. */
async function waitForQuiet(seconds: number): Promise<number | undefined> {
  const deadline = Date.now() + seconds * 1000;
  let busy = await machineBusy(IDLE_CHECK_MS);
  while (busy !== undefined && busy > BUSY_WARNING && Date.now() < deadline) {
    progress(`machine ${Math.round(busy * 100)}% busy; waiting for it to quieten (--wait-idle)`);
    busy = await machineBusy(IDLE_CHECK_MS * 2);
  }
  return busy;
}

function startGateway(cleanup: Cleanup, upstreamUrl: string, dataDir: string, profileDir?: string): Promise<BenchChild> {
  mkdirSync(dataDir, { recursive: true });
  const execArgv = ['--expose-gc', ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])];
  return BenchChild.start({ name: 'gateway', modulePath: join(HERE, 'gateway-process.js'), args: [upstreamUrl, dataDir], execArgv }, cleanup);
}

async function run(options: BenchOptions, cleanup: Cleanup): Promise<BenchResults> {
  const busyAtStart = await waitForQuiet(options.waitIdleSeconds);
  const startedAt = new Date();
  const machine = machineInfo(busyAtStart);
  const notes = fdNotes(options, machine.openFileLimit);
  const busy = machine.busyBeforeStart;
  if (busy !== undefined && busy > BUSY_WARNING) {
    notes.push(`the machine was ${Math.round(busy * 100)}% busy before the run began: other work skews latency tails and throughput`);
  }
  const workDir = mkdtempSync(join(tmpdir(), 'pleevi-bench-'));
  cleanup.trackDir(workDir);
  // --cpu-prof: one folder per profiled gateway of this run.
  const profileDir = options.cpuProfile ? join(RESULTS_DIR, 'profiles', startedAt.toISOString().replace(/[:.]/g, '-')) : undefined;
  const mixProfileDir = profileDir === undefined ? undefined : `${profileDir}-mix`;
  if (!options.phases.has('relay')) {
    // --only without the relay phases: only the observed ones (and drivers), nothing against nginx.
    const observed = await runObservedPhases(options, HERE, workDir, cleanup, progress, mixProfileDir);
    const figures = { latency: [], throughput: [], memory: [] };
    return {
      ...observed,
      startedAt: startedAt.toISOString(),
      durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
      machine,
      options: { ...options, phases: [...options.phases] },
      ...figures,
      otherLoad: { latencyCores: 0, throughputCores: 0 },
      targets: evaluateTargets(figures, options),
      notes,
    };
  }
  const stops: Array<() => Promise<void>> = [];
  try {
    const cpms = await BenchChild.start(
      { name: 'cpms', modulePath: join(HERE, 'cpms-process.js'), args: options.cpmsDeflate ? ['deflate'] : [] },
      cleanup,
    );
    stops.push(() => cpms.stop());
    const cpmsUrl = `ws://127.0.0.1:${cpms.port}/ocpp`;

    let nginx: NginxProxy | undefined;
    if (!options.nginx) notes.push('nginx skipped (--no-nginx): its columns and the targets measured against it are left out');
    else if (!existsSync(NGINX_PATH)) notes.push(`nginx not found at ${NGINX_PATH} (apt-get install -y --no-install-recommends nginx-light): its columns are skipped`);
    else {
      nginx = await NginxProxy.start(join(workDir, 'nginx'), cpms.port, cleanup);
      const started = nginx;
      stops.push(() => started.stop());
    }

    // One folder per run, so an earlier run's profile is never mistaken for this one's.
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    const gateway = await startGateway(cleanup, cpmsUrl, join(workDir, 'gateway-data'), profileDir);
    stops.push(() => gateway.stop());
    progress(`CPMS on port ${cpms.port}${nginx ? `, nginx on ${nginx.port}` : ''}, gateway on ${gateway.port} (pid ${gateway.pid})`);

    const paths: BenchPath[] = [
      { name: 'direct', url: cpmsUrl },
      ...(nginx ? [{ name: 'nginx' as const, url: `ws://127.0.0.1:${nginx.port}/ocpp`, proxy: nginxMeter(nginx) }] : []),
      { name: 'gateway', url: `ws://127.0.0.1:${gateway.port}/ocpp`, proxy: gatewayMeter(gateway, true) },
    ];
    if (options.nodeRelay) {
      const relay = await BenchChild.start({ name: 'node-relay', modulePath: join(HERE, 'node-relay-process.js'), args: [cpmsUrl], execArgv: ['--expose-gc'] }, cleanup);
      stops.push(() => relay.stop());
      // It reports frames and stations under the gateway's counter names, so the same meter reads it.
      paths.push({ name: 'node-relay', url: `ws://127.0.0.1:${relay.port}/ocpp`, proxy: gatewayMeter(relay, true) });
    }
    if (options.wsRelay) {
      const args = [cpmsUrl, ...(options.wsRelayParse ? ['parse'] : [])];
      const relay = await BenchChild.start({ name: 'ws-relay', modulePath: join(HERE, 'ws-relay-process.js'), args, execArgv: ['--expose-gc'] }, cleanup);
      stops.push(() => relay.stop());
      paths.push({ name: 'ws-relay', url: `ws://127.0.0.1:${relay.port}/ocpp`, proxy: gatewayMeter(relay, true) });
    }
    const settings = (phase: string, measureSeconds: number): PhaseSettings => ({
      stations: options.stations,
      warmupMs: options.warmupSeconds * 1000,
      measureMs: measureSeconds * 1000,
      rounds: options.rounds,
      idPrefix: `${phase}-`,
    });
    const names = paths.map((path) => path.name).join(', ');
    let other = otherProcessesCpu(process.pid);
    let phaseStart = Date.now();
    const otherSince = (): number => {
      const now = otherProcessesCpu(process.pid);
      const cores = otherCores(other, now, (Date.now() - phaseStart) / 1000);
      other = now;
      phaseStart = Date.now();
      return Math.round(cores * 100) / 100;
    };
    const latency = await measureLatency(paths, settings('lat', options.latencySeconds), options.rate, (round) =>
      progress(`latency round ${round + 1}/${options.rounds}: ${options.rate} calls/s over ${options.stations} stations via ${names}`),
    );
    const latencyOtherCores = otherSince();
    const throughput = await measureThroughput(paths, settings('tput', options.throughputSeconds), cpms, (round) =>
      progress(`throughput round ${round + 1}/${options.rounds}: closed loop over ${options.stations} stations via ${names}`),
    );
    const otherLoad = { latencyCores: latencyOtherCores, throughputCores: otherSince() };
    for (const [phase, cores] of [['latency', otherLoad.latencyCores], ['throughput', otherLoad.throughputCores]] as const) {
      if (cores > OTHER_LOAD_WARNING) notes.push(`other processes used ${cores} cores during the ${phase} phase: its figures are skewed; rerun on a quiet machine`);
    }
    await gateway.stop();

    let profile: BenchResults['profile'];
    if (profileDir) {
      const file = newestProfile(profileDir);
      if (file) profile = { file, ...summarizeProfile(file, PROJECT_ROOT) };
      else notes.push('--cpu-prof: the gateway wrote no profile');
    }

    const memory: MemoryRun[] = [];
    // A fresh gateway, so the baseline is not inflated by the load phases.
    const fresh = await startGateway(cleanup, cpmsUrl, join(workDir, 'gateway-memory-data'));
    stops.push(() => fresh.stop());
    progress(`memory via gateway: ${options.memoryStations} stations held open`);
    memory.push(await measureMemory({ name: 'gateway', url: `ws://127.0.0.1:${fresh.port}/ocpp`, proxy: gatewayMeter(fresh, true) }, options.memoryStations, 'mem-gateway-'));
    await fresh.stop();
    if (nginx) {
      progress(`memory via nginx: ${options.memoryStations} stations held open`);
      memory.push(await measureMemory({ name: 'nginx', url: `ws://127.0.0.1:${nginx.port}/ocpp`, proxy: nginxMeter(nginx) }, options.memoryStations, 'mem-nginx-'));
    }

    const peers = await runPeerPhases({ options, cleanup, workDir, benchDir: HERE, nginx: nginx !== undefined, cpmsUrl, cpmsPort: cpms.port, progress });

    let driverLookup: BenchResults['driverLookup'];
    if (options.drivers > 0) {
      // In this process, with every gateway stopped: CPU-bound, one core, no sockets.
      progress(`driver lookup: importing ${options.drivers} drivers, then timing lookups`);
      const before = otherProcessesCpu(process.pid);
      const startedMs = Date.now();
      const figures = measureDriverLookup(options.drivers, options.drivers);
      const cores = Math.round(otherCores(before, otherProcessesCpu(process.pid), (Date.now() - startedMs) / 1000) * 100) / 100;
      driverLookup = { ...figures, otherCores: cores };
      if (cores > OTHER_LOAD_WARNING) notes.push(`other processes used ${cores} cores during the driver list phase: its times and lookup tails are skewed`);
    }

    const observed = await runObservedPhases(options, HERE, workDir, cleanup, progress, mixProfileDir);

    notes.push(
      `one ${machine.cpus}-core machine runs the load generator, the CPMS and the proxy at once: in the throughput phase they compete for the cores, so "generator cores" and "cpms cores" show how much was left for the proxy`,
      'added p99 = p99 through the proxy minus p99 straight to the CPMS in the same run (tails cannot be paired call by call)',
    );
    if (options.cpmsDeflate) {
      notes.push(
        '--cpms-deflate: the CPMS accepted the permessage-deflate the gateway offers upstream (upstream.permessageDeflate, on by default); the stations offer none, so only the gateway path is compressed',
      );
    }
    if (options.nodeRelay) {
      notes.push(
        '--node-relay: a bare Node relay (node-relay-process.ts) that copies each read to the other socket and counts frames by header; no ws, no inspection, no pings. What it costs is the floor of Node plus the kernel; the gateway beyond it is its own work',
      );
    }
    if (options.cpuProfile) notes.push('--cpu-prof: the profiler ran in the gateway during latency and throughput, so its CPU and throughput figures are somewhat worse than without it');
    const figures = { latency, throughput, memory };
    return {
      ...observed,
      ...(driverLookup ? { driverLookup } : {}),
      startedAt: startedAt.toISOString(),
      durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
      machine,
      options: { ...options, phases: [...options.phases] },
      ...figures,
      otherLoad,
      targets: [...evaluateTargets(figures, options), ...peerTargets(peers, figures)],
      notes,
      peers,
      ...(profile ? { profile } : {}),
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchOptions(process.argv.slice(2));
  } catch (error: unknown) {
    if (!(error instanceof BenchUsageError)) throw error;
    process.stderr.write(`bench: ${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const cleanup = new Cleanup();
  cleanup.install();
  const limitMs = timeLimitMs(options);
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: still running after ${Math.round(limitMs / 1000)} s; stopping\n`);
    cleanup.runNow();
    process.exit(3);
  }, limitMs);
  watchdog.unref();
  try {
    const results = await run(options, cleanup);
    process.stdout.write(`\n${formatReport(results)}`);
    mkdirSync(RESULTS_DIR, { recursive: true });
    const file = join(RESULTS_DIR, 'latest.json');
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(`\nfigures written to ${file}\n`);
    return 0;
  } catch (error: unknown) {
    process.stderr.write(`bench: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  } finally {
    clearTimeout(watchdog);
    cleanup.runNow();
  }
}

process.exitCode = await main();
