import type { BenchOptions } from './bench-options.js';
import type { BenchResults, LatencyRun, PathName, TargetVerdict, ThroughputRun } from './bench-results.js';

/**
 * The first targets against nginx. Issue 10 retired the two ratios as
 * pass/fail (they show the distance to a C proxy, printed as n/a with the
 * figure); the memory target stands.
 */
const RETIRED = 'retired as pass/fail (issue 10): the distance to a C proxy, shown, not judged';

/** The targets for this 2-core machine. */
export const TARGETS = {
  throughputVsNginx: 0.8,
  addedP99VsNginx: 1.2,
  latencyRate: 1_000,
  latencyStations: 200,
  kbPerStation: 40,
  memoryStations: 2_000,
} as const;

type Figures = Pick<BenchResults, 'latency' | 'throughput' | 'memory'>;

function byPath<T extends { readonly path: PathName }>(runs: readonly T[], path: PathName): T | undefined {
  return runs.find((run) => run.path === path);
}

/** p99 of the path minus p99 of direct: what the proxy adds at the tail. */
export function addedP99Ms(latency: readonly LatencyRun[], path: PathName): number | undefined {
  const direct = byPath(latency, 'direct');
  const run = byPath(latency, path);
  if (!direct || !run) return undefined;
  return run.latency.p99Ms - direct.latency.p99Ms;
}

export function throughputRatio(throughput: readonly ThroughputRun[], path: PathName, against: PathName): number | undefined {
  const run = byPath(throughput, path);
  const base = byPath(throughput, against);
  if (!run || !base || base.callsPerSecond <= 0) return undefined;
  return run.callsPerSecond / base.callsPerSecond;
}

export function evaluateTargets(figures: Figures, options: BenchOptions): TargetVerdict[] {
  return [throughputVerdict(figures), latencyVerdict(figures, options), memoryVerdict(figures)];
}

function throughputVerdict({ throughput }: Figures): TargetVerdict {
  const target = `sustained throughput >= ${TARGETS.throughputVsNginx}x nginx`;
  const ratio = throughputRatio(throughput, 'gateway', 'nginx');
  if (ratio === undefined) return { target, measured: 'no nginx figure', pass: undefined, note: 'nginx not run' };
  return { target, measured: `${ratio.toFixed(2)}x nginx`, pass: undefined, note: RETIRED };
}

function latencyVerdict({ latency }: Figures, options: BenchOptions): TargetVerdict {
  const target = `added p99 <= ${TARGETS.addedP99VsNginx}x nginx's at ${TARGETS.latencyRate} calls/s over ${TARGETS.latencyStations} stations`;
  const gateway = addedP99Ms(latency, 'gateway');
  const nginx = addedP99Ms(latency, 'nginx');
  if (gateway === undefined || nginx === undefined) return { target, measured: 'no nginx figure', pass: undefined, note: 'nginx not run' };
  const offTarget = options.rate !== TARGETS.latencyRate || options.stations !== TARGETS.latencyStations;
  const note = offTarget ? `run at ${options.rate} calls/s over ${options.stations} stations; ${RETIRED}` : RETIRED;
  const ratio = nginx > 0 ? `${(gateway / nginx).toFixed(2)}x nginx` : 'nginx adds nothing measurable';
  const signed = (value: number): string => `${value < 0 ? '' : '+'}${value.toFixed(3)} ms`;
  const measured = `gateway ${signed(gateway)}, nginx ${signed(nginx)} (${ratio})`;
  return { target, measured, pass: undefined, note };
}

function memoryVerdict({ memory }: Figures): TargetVerdict {
  const target = `${TARGETS.memoryStations} stations at <= ${TARGETS.kbPerStation} KB each beyond the idle baseline`;
  const run = byPath(memory, 'gateway');
  if (!run) return { target, measured: 'not measured', pass: undefined };
  const measured = `${run.kbPerStation.toFixed(1)} KB/station over ${run.stations} stations`;
  if (run.stations < TARGETS.memoryStations) {
    return { target, measured, pass: undefined, note: `only ${run.stations} stations: indicative only` };
  }
  return { target, measured, pass: run.kbPerStation <= TARGETS.kbPerStation };
}
