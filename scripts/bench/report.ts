import { formatTable } from '../../agent/src/cli/format-table.js';
import type { BenchResults, ThroughputRun } from './bench-results.js';
import { formatObserved } from './observed-phases.js';
import { formatPeerReport } from './peer-report.js';
import { addedP99Ms, throughputRatio } from './targets.js';

function ms(value: number): string {
  return Number.isFinite(value) ? value.toFixed(3) : '-';
}

function signedMs(value: number): string {
  return `${value < 0 ? '' : '+'}${ms(value)}`;
}

function fixed(value: number | undefined, digits: number): string {
  return value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

/** The human-readable report; the same figures go to latest.json. */
export function formatReport(results: BenchResults): string {
  const out: string[] = [];
  const { machine } = results;
  out.push(
    `machine: ${machine.cpus} x ${machine.cpuModel}, ${machine.totalMemoryMb} MB, Linux ${machine.kernel}, Node ${machine.node}, ${machine.nginx ?? 'no nginx'}, ulimit -n ${machine.openFileLimit ?? '?'}, ${machine.busyBeforeStart === undefined ? '' : `${Math.round(machine.busyBeforeStart * 100)}% busy before the run`}`,
    `other processes during the run: ${results.otherLoad.latencyCores} cores (latency phase), ${results.otherLoad.throughputCores} cores (throughput phase)`,
  );

  const first = results.latency[0];
  if (first) {
    out.push('', `1. Round-trip latency, open loop at ${first.rate} calls/s over ${first.stations} stations, ${first.measuredSeconds.toFixed(1)} s per path in ${first.rounds} rounds (ms)`);
    out.push(
      formatTable(
        ['path', 'calls', 'lost', 'p50', 'p90', 'p99', 'p99.9', 'max', 'added p99'],
        results.latency.map((run) => {
          const added = run.path === 'direct' ? undefined : addedP99Ms(results.latency, run.path);
          const lat = run.latency;
          return [run.path, String(run.answered), String(run.lost), ms(lat.p50Ms), ms(lat.p90Ms), ms(lat.p99Ms), ms(lat.p999Ms), ms(lat.maxMs), added === undefined ? '' : signedMs(added)];
        }),
      ).trimEnd(),
    );
  }

  const firstThroughput = results.throughput[0];
  if (firstThroughput) {
    out.push('', `2. Highest sustained rate, closed loop, one call in flight per station, ${firstThroughput.stations} stations, ${firstThroughput.measuredSeconds.toFixed(1)} s per path in ${firstThroughput.rounds} rounds`);
    out.push(
      formatTable(
        ['path', 'calls/s', 'vs direct', 'p50 ms', 'p99 ms', 'proxy cores', 'proxy us/msg', 'of which kernel', 'generator cores', 'cpms cores'],
        results.throughput.map((run) => [
          run.path,
          run.callsPerSecond.toFixed(0),
          fixed(throughputRatio(results.throughput, run.path, 'direct'), 2),
          ms(run.latency.p50Ms),
          ms(run.latency.p99Ms),
          fixed(run.proxyCores, 2),
          fixed(run.proxyCpuMicrosPerMessage, 1),
          run.proxyKernelShare === undefined ? '-' : `${Math.round(run.proxyKernelShare * 100)}%`,
          run.generatorCores.toFixed(2),
          run.cpmsCores.toFixed(2),
        ]),
      ).trimEnd(),
    );
    const vsNginx = throughputRatio(results.throughput, 'gateway', 'nginx');
    const vsDirect = throughputRatio(results.throughput, 'gateway', 'direct');
    out.push(`   gateway throughput: ${fixed(vsNginx, 2)}x nginx, ${fixed(vsDirect, 2)}x direct`);
    const floor = results.throughput.find((run) => run.path === 'node-relay');
    if (floor) {
      const gateway = results.throughput.find((run) => run.path === 'gateway');
      const cpuRatio = gateway?.proxyCpuMicrosPerMessage !== undefined && floor.proxyCpuMicrosPerMessage ? gateway.proxyCpuMicrosPerMessage / floor.proxyCpuMicrosPerMessage : undefined;
      out.push(
        `   bare Node relay: ${fixed(throughputRatio(results.throughput, 'node-relay', 'nginx'), 2)}x nginx; the gateway reaches ${fixed(throughputRatio(results.throughput, 'gateway', 'node-relay'), 2)}x its rate at ${fixed(cpuRatio, 2)}x its CPU per message`,
      );
    }
  }

  if (results.memory.length > 0) {
    out.push('', '3. Memory per connected station (RSS beyond the idle baseline, after one BootNotification each)');
    out.push(
      formatTable(
        ['path', 'stations', 'idle RSS MB', 'loaded RSS MB', 'KB/station', 'heap KB/station', 'external KB/station', 'after GC'],
        results.memory.map((run) => [
          run.path,
          String(run.stations),
          mb(run.baselineRssBytes),
          mb(run.loadedRssBytes),
          run.kbPerStation.toFixed(1),
          fixed(run.heapKbPerStation, 1),
          fixed(run.externalKbPerStation, 1),
          run.afterGc ? 'yes' : 'no',
        ]),
      ).trimEnd(),
    );
  }

  const gatewayCpu = results.throughput.find((run) => run.path === 'gateway');
  if (gatewayCpu?.proxyCpuMicrosPerMessage !== undefined) {
    const split = (run: ThroughputRun): string => {
      const total = run.proxyCpuMicrosPerMessage ?? Number.NaN;
      const kernel = total * (run.proxyKernelShare ?? Number.NaN);
      return `${fixed(total, 1)} us (${fixed(total - kernel, 1)} us user, ${fixed(kernel, 1)} us kernel)`;
    };
    out.push('', `4. Gateway CPU per relayed message: ${split(gatewayCpu)}, ${gatewayCpu.messagesRelayed ?? 0} messages both ways in the throughput windows`);
    const nginx = results.throughput.find((run) => run.path === 'nginx');
    if (nginx?.proxyCpuMicrosPerMessage !== undefined) out.push(`   nginx worker, same load: ${split(nginx)}`);
  }

  const drivers = results.driverLookup;
  if (drivers) {
    const us = (value: number): string => (Number.isFinite(value) ? value.toFixed(2) : '-');
    out.push(
      '',
      `5. Driver list: ${drivers.drivers} drivers, CSV ${(drivers.csvBytes / 1024 / 1024).toFixed(1)} MB, SQLite file ${(drivers.databaseBytes / 1024 / 1024).toFixed(1)} MB${
        drivers.otherCores === undefined ? '' : `; other processes used ${drivers.otherCores} cores meanwhile`
      }`,
      `   CSV parse ${(drivers.csvParseMs / 1000).toFixed(2)} s + import ${(drivers.importMs / 1000).toFixed(2)} s = ${((drivers.csvParseMs + drivers.importMs) / 1000).toFixed(2)} s; the same list again ${(drivers.reimportMs / 1000).toFixed(2)} s (nothing rewritten)`,
      `   badge lookup, ${drivers.lookupsPerKind} random badges per row, each timed alone (timer overhead ${drivers.timerOverheadNs.toFixed(0)} ns subtracted), us:`,
    );
    const gatewayUs = gatewayCpu?.proxyCpuMicrosPerMessage;
    const row = (name: string, figures: typeof drivers.sqlite.known, base: typeof drivers.map.known): string[] => [
      name,
      us(figures.p50Us),
      us(figures.p90Us),
      us(figures.p99Us),
      us(figures.p999Us),
      us(figures.meanUs),
      base.meanUs > 0 ? `${(figures.meanUs / base.meanUs).toFixed(0)}x` : '-',
      gatewayUs === undefined || !Number.isFinite(gatewayUs) ? '-' : `${((figures.meanUs / gatewayUs) * 100).toFixed(0)}%`,
    ];
    out.push(
      formatTable(
        ['lookup', 'p50', 'p90', 'p99', 'p99.9', 'mean', 'vs Map.get', 'of gateway CPU per relayed message'],
        [
          row('SQLite, known badge', drivers.sqlite.known, drivers.map.known),
          row('SQLite, unknown badge', drivers.sqlite.unknown, drivers.map.unknown),
          row('Map.get, known', drivers.map.known, drivers.map.known),
          row('Map.get, unknown', drivers.map.unknown, drivers.map.unknown),
        ],
      ).trimEnd(),
      `   mixed known and unknown, loop timed once: SQLite ${us(drivers.sqlite.batchMeanUs)} us, Map.get ${us(drivers.map.batchMeanUs)} us per lookup (${(drivers.sqlite.batchMeanUs / drivers.map.batchMeanUs).toFixed(0)}x)${
        gatewayUs === undefined || !Number.isFinite(gatewayUs) ? '' : `; the gateway spent ${us(gatewayUs)} us CPU per relayed message in the throughput phase`
      }`,
    );
  }

  out.push(...formatObserved(results));
  const peers = formatPeerReport(results).trimEnd();
  if (peers) out.push(peers);

  out.push('', 'Targets');
  out.push(
    formatTable(
      ['', 'target', 'measured', 'note'],
      results.targets.map((verdict) => [verdict.pass === undefined ? 'n/a' : verdict.pass ? 'PASS' : 'MISS', verdict.target, verdict.measured, verdict.note ?? '']),
    ).trimEnd(),
  );

  if (results.profile) {
    out.push('', `Gateway CPU profile: ${results.profile.file}`, 'hottest functions (self time):');
    out.push(formatTable(['self %', 'function', 'where'], results.profile.hotspots.map((spot) => [spot.selfPercent.toFixed(1), spot.functionName, spot.location])).trimEnd());
    out.push('by file (self time):');
    out.push(formatTable(['self %', 'file'], results.profile.byFile.map((spot) => [spot.selfPercent.toFixed(1), spot.location])).trimEnd());
  }

  if (results.notes.length > 0) out.push('', 'Notes', ...results.notes.map((note) => `- ${note}`));
  return `${out.join('\n')}\n`;
}
