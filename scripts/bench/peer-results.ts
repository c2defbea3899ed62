import type { MemoryRun, ThroughputRun } from './bench-results.js';

/** Issue 10 targets 3-5: TLS upstream, the reconnect storm, the peers' idle RSS (part of bench-results/latest.json). */
export interface PeerResults {
  readonly tls?: TlsRun;
  readonly storm?: readonly StormRun[];
  readonly idleRss?: readonly IdleRssRun[];
}

/** The closed loop and the memory phase again, nginx and the gateway both to a `wss://` CPMS with mutual TLS. */
export interface TlsRun {
  readonly throughput: readonly ThroughputRun[];
  readonly memory: readonly MemoryRun[];
  /** Cores used by other processes meanwhile. */
  readonly otherCores: number;
}

/** Every station connecting at the same instant, then one BootNotification each (after a power cut). */
export interface StormRun {
  readonly path: 'gateway' | 'nginx';
  readonly stations: number;
  /** upstream.maxConcurrentHandshakes of the gateway (none for nginx). */
  readonly handshakeBound?: number;
  /** Time from the first connect until the last BootNotification was answered (or the phase gave up). */
  readonly allAnsweredMs: number | undefined;
  readonly answered: number;
  readonly refused503: number;
  /** Other HTTP answers instead of 101, by status. */
  readonly refusedOther: Readonly<Record<string, number>>;
  /** Connection errors (the station's own handshake timeout among them) and closes before the answer. */
  readonly failed: number;
  /** Stations neither answered nor failed at the deadline (the station timeout + 1 s). */
  readonly waiting: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The CPMS's own count of TCP accepts whose WebSocket was not open yet, at its highest. */
  readonly cpmsPeakHandshakesInFlight: number;
  readonly cpmsHandshakesDone: number;
  readonly cpmsTlsFailures: number;
  /** Of the CPMS's completed handshakes, those that resumed a TLS session. */
  readonly cpmsSessionsReused: number;
  readonly proxyCpuSeconds: number;
  readonly otherCores: number;
}

export interface IdleRssRun {
  readonly process: 'gateway' | 'ws-relay' | 'node-relay' | 'nginx';
  /** After start, nothing connected yet. */
  readonly startedRssBytes: number;
  readonly stations: number;
  /** With `stations` connected and idle, after one BootNotification each. */
  readonly withStationsRssBytes: number;
  /** Node processes: process.memoryUsage() after start. */
  readonly startedHeapUsedBytes?: number;
  readonly startedExternalBytes?: number;
}
