import type { LatencySummary } from './latency-samples.js';
import type { ObservedFigures } from './observed-phases.js';
import type { PeerResults } from './peer-results.js';

/** The shape of bench-results/latest.json. */
export type PathName = 'direct' | 'nginx' | 'gateway' | 'node-relay' | 'ws-relay';

export interface LatencyRun {
  readonly path: PathName;
  readonly stations: number;
  readonly rate: number;
  /** The measured time was split in rounds, the paths taking turns, so drift in the machine hits all alike. */
  readonly rounds: number;
  readonly measuredSeconds: number;
  readonly sent: number;
  readonly answered: number;
  readonly lost: number;
  readonly overlapped: number;
  readonly latency: LatencySummary;
}

export interface ThroughputRun {
  readonly path: PathName;
  readonly stations: number;
  readonly rounds: number;
  readonly measuredSeconds: number;
  readonly answered: number;
  readonly callsPerSecond: number;
  readonly latency: LatencySummary;
  /** CPU time of the proxy process in the windows (nginx: its one worker). */
  readonly proxyCpuSeconds?: number;
  /** WebSocket messages the proxy relayed in the windows, both directions (one call = 2). */
  readonly messagesRelayed?: number;
  readonly proxyCpuMicrosPerMessage?: number;
  /** Share of that CPU time spent in the kernel (system time): the socket reads and writes. */
  readonly proxyKernelShare?: number;
  /** CPU time over the windows in cores (1.0 = one core busy): the proxy, the load generator, the CPMS. */
  readonly proxyCores?: number;
  readonly generatorCores: number;
  readonly cpmsCores: number;
}

export interface MemoryRun {
  readonly path: 'nginx' | 'gateway';
  readonly stations: number;
  readonly baselineRssBytes: number;
  readonly loadedRssBytes: number;
  readonly kbPerStation: number;
  /** Node only: where the bytes went (V8 heap; Buffers and other memory outside it). */
  readonly heapKbPerStation?: number;
  readonly externalKbPerStation?: number;
  /** Collected garbage before each reading (the gateway is started with --expose-gc). */
  readonly afterGc: boolean;
}

/** Microseconds per call, each call timed alone (the timer's own cost subtracted). */
export interface MicrosSummary {
  readonly count: number;
  /** Calls that found something. */
  readonly hits: number;
  readonly meanUs: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
}

export interface LookupFigures {
  readonly known: MicrosSummary;
  readonly unknown: MicrosSummary;
  /** Known and unknown badges mixed, the whole loop timed once (no timer per call). */
  readonly batchMeanUs: number;
}

/** Issue 3: the driver list import and the frame-path badge lookup. */
export interface DriverLookupRun {
  readonly drivers: number;
  readonly csvBytes: number;
  /** The SQLite file after the import (WAL checkpointed). */
  readonly databaseBytes: number;
  /** parseDriverCsv of the whole file (validation included). */
  readonly csvParseMs: number;
  /** importDrivers into an empty list: one transaction. */
  readonly importMs: number;
  /** The same list again: compared, nothing rewritten. */
  readonly reimportMs: number;
  readonly lookupsPerKind: number;
  readonly timerOverheadNs: number;
  /** SqliteDriverDirectory.lookup: one prepared primary-key probe. */
  readonly sqlite: LookupFigures;
  /** Baseline in the same run: Map.get(normalizeBadge(badge)) over the same badges. */
  readonly map: LookupFigures;
  /** Cores used by other processes during the phase; above ~0.05 its figures are skewed. */
  readonly otherCores?: number;
}

export interface TargetVerdict {
  readonly target: string;
  readonly measured: string;
  /** undefined when the run could not decide (nginx absent, or flags off the target's conditions). */
  readonly pass: boolean | undefined;
  readonly note?: string;
}

export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly totalMemoryMb: number;
  readonly node: string;
  readonly nginx: string | undefined;
  readonly openFileLimit: number | undefined;
  readonly kernel: string;
  /** Share of all cores busy in the second before the run (0..1): other work on the machine skews every figure. */
  readonly busyBeforeStart: number | undefined;
}

export interface ProfileHotspot {
  readonly selfPercent: number;
  readonly functionName: string;
  readonly location: string;
}

export interface BenchResults extends ObservedFigures {
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly machine: MachineInfo;
  readonly options: Readonly<Record<string, unknown>>;
  readonly latency: readonly LatencyRun[];
  readonly throughput: readonly ThroughputRun[];
  readonly memory: readonly MemoryRun[];
  /** Absent with --drivers 0. */
  readonly driverLookup?: DriverLookupRun;
  /** Cores used by processes outside the bench during each load phase (a lower bound); above ~0.05 the figures are skewed. */
  readonly otherLoad: { readonly latencyCores: number; readonly throughputCores: number };
  readonly targets: readonly TargetVerdict[];
  readonly notes: readonly string[];
  /** Issue 10 targets 3-5 (peer-phases.ts). */
  readonly peers?: PeerResults;
  readonly profile?: { readonly file: string; readonly hotspots: readonly ProfileHotspot[]; readonly byFile: readonly ProfileHotspot[] };
}
