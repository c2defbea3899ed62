/**
 * Report lines and target verdicts of issue 10 targets 3-5 (peer-phases.ts
 * and the ws relay path of the main phases).
 */
import { formatTable } from '../../agent/src/cli/format-table.js';
import type { BenchResults, LatencyRun, PathName, TargetVerdict, ThroughputRun } from './bench-results.js';
import type { PeerResults } from './peer-results.js';

export const PEER_TARGETS = {
  stormVsNginx: 1.5,
  idleRssMb: 55,
} as const;

type Figures = Pick<BenchResults, 'latency' | 'throughput'>;

function fixed(value: number | undefined, digits: number): string {
  return value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

function mb(bytes: number | undefined): string {
  return bytes === undefined ? '-' : (bytes / 1024 / 1024).toFixed(1);
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? undefined : a / b;
}

function run<T extends { readonly path: PathName }>(runs: readonly T[], path: PathName): T | undefined {
  return runs.find((item) => item.path === path);
}

export function formatPeerReport(results: Pick<BenchResults, 'peers' | 'latency' | 'throughput'>): string {
  const peers = results.peers;
  if (!peers) return '';
  const out: string[] = [];
  if (peers.tls) {
    const { throughput, memory } = peers.tls;
    const first = throughput[0];
    out.push(
      '',
      `6. TLS upstream (wss://, the CPMS requires a client certificate; nginx with the same proxy_ssl_certificate, proxy_ssl_verify on): closed loop over ${first?.stations ?? '?'} stations, ${fixed(first?.measuredSeconds, 1)} s per path; other processes ${peers.tls.otherCores} cores`,
    );
    out.push(
      formatTable(
        ['path', 'calls/s', 'p99 ms', 'proxy cores', 'proxy us/msg', 'of which kernel', 'memory stations', 'idle RSS MB', 'KB/station'],
        throughput.map((item: ThroughputRun) => {
          const mem = memory.find((entry) => entry.path === item.path);
          return [
            item.path,
            item.callsPerSecond.toFixed(0),
            fixed(item.latency.p99Ms, 3),
            fixed(item.proxyCores, 2),
            fixed(item.proxyCpuMicrosPerMessage, 1),
            item.proxyKernelShare === undefined ? '-' : `${Math.round(item.proxyKernelShare * 100)}%`,
            String(mem?.stations ?? '-'),
            mb(mem?.baselineRssBytes),
            fixed(mem?.kbPerStation, 1),
          ];
        }),
      ).trimEnd(),
    );
    const gateway = run(throughput, 'gateway');
    const nginx = run(throughput, 'nginx');
    const plain = run(results.throughput, 'gateway');
    out.push(
      `   gateway with TLS: ${fixed(ratio(gateway?.callsPerSecond, nginx?.callsPerSecond), 2)}x nginx's rate at ${fixed(ratio(gateway?.proxyCpuMicrosPerMessage, nginx?.proxyCpuMicrosPerMessage), 2)}x its CPU per message; ${fixed(ratio(gateway?.proxyCpuMicrosPerMessage, plain?.proxyCpuMicrosPerMessage), 2)}x the gateway's own CPU per message without TLS (phase 2)`,
    );
  }
  if (peers.storm && peers.storm.length > 0) {
    out.push('', `7. Reconnect storm: every station connects in the same tick and sends its BootNotification; a fresh wss:// CPMS (mutual TLS) per path`);
    out.push(
      formatTable(
        ['path', 'stations', 'all answered s', 'p50 s', 'p99 s', 'answered', '503', 'other refusals', 'failed', 'still waiting', 'CPMS peak handshakes', 'bound', 'TLS resumed', 'proxy CPU s', 'other cores'],
        peers.storm.map((item) => [
          item.path,
          String(item.stations),
          item.allAnsweredMs === undefined ? 'not all' : (item.allAnsweredMs / 1000).toFixed(2),
          fixed(item.p50Ms / 1000, 2),
          fixed(item.p99Ms / 1000, 2),
          String(item.answered),
          String(item.refused503),
          Object.entries(item.refusedOther)
            .map(([status, count]) => `${status}: ${count}`)
            .join(', ') || '0',
          String(item.failed),
          String(item.waiting),
          String(item.cpmsPeakHandshakesInFlight),
          item.handshakeBound === undefined ? 'none' : String(item.handshakeBound),
          `${item.cpmsSessionsReused}/${item.cpmsHandshakesDone}`,
          item.proxyCpuSeconds.toFixed(2),
          item.otherCores.toFixed(2),
        ]),
      ).trimEnd(),
    );
    const gateway = peers.storm.find((item) => item.path === 'gateway');
    const nginx = peers.storm.find((item) => item.path === 'nginx');
    out.push(`   gateway / nginx, time until every BootNotification was answered: ${fixed(ratio(gateway?.allAnsweredMs, nginx?.allAnsweredMs), 2)}x`);
  }
  const wsRelay = run(results.throughput, 'ws-relay');
  if (wsRelay || peers.idleRss) out.push('', '8. The peers: a ws server and a ws client per station (ws-relay), beside the gateway with its full inspection');
  if (wsRelay) {
    const gateway = run(results.throughput, 'gateway');
    const gatewayLatency = run(results.latency, 'gateway');
    const relayLatency = run(results.latency, 'ws-relay');
    out.push(
      `   closed loop: gateway ${fixed(gateway?.callsPerSecond, 0)} calls/s, ws-relay ${wsRelay.callsPerSecond.toFixed(0)} (gateway ${fixed(ratio(gateway?.callsPerSecond, wsRelay.callsPerSecond), 2)}x); CPU per message ${fixed(gateway?.proxyCpuMicrosPerMessage, 1)} / ${fixed(wsRelay.proxyCpuMicrosPerMessage, 1)} us (${fixed(ratio(gateway?.proxyCpuMicrosPerMessage, wsRelay.proxyCpuMicrosPerMessage), 2)}x); p99 ${fixed(gateway?.latency.p99Ms, 3)} / ${fixed(wsRelay.latency.p99Ms, 3)} ms (${fixed(ratio(gateway?.latency.p99Ms, wsRelay.latency.p99Ms), 2)}x)`,
      `   open loop: p99 gateway ${fixed(gatewayLatency?.latency.p99Ms, 3)} ms, ws-relay ${fixed(relayLatency?.latency.p99Ms, 3)} ms (${fixed(ratio(gatewayLatency?.latency.p99Ms, relayLatency?.latency.p99Ms), 2)}x); p99.9 ${fixed(gatewayLatency?.latency.p999Ms, 3)} / ${fixed(relayLatency?.latency.p999Ms, 3)} ms`,
    );
  }
  if (peers.idleRss && peers.idleRss.length > 0) {
    out.push(
      formatTable(
        ['process', 'RSS after start MB', 'heap used MB', 'external MB', 'idle stations', 'RSS with them MB', 'KB/station'],
        peers.idleRss.map((item) => [
          item.process,
          mb(item.startedRssBytes),
          mb(item.startedHeapUsedBytes),
          mb(item.startedExternalBytes),
          String(item.stations),
          mb(item.withStationsRssBytes),
          ((item.withStationsRssBytes - item.startedRssBytes) / 1024 / item.stations).toFixed(1),
        ]),
      ).trimEnd(),
    );
    const gateway = peers.idleRss.find((item) => item.process === 'gateway');
    const relay = peers.idleRss.find((item) => item.process === 'ws-relay');
    out.push(`   idle RSS after start: gateway ${fixed(ratio(gateway?.startedRssBytes, relay?.startedRssBytes), 2)}x the ws relay`);
  }
  return `${out.join('\n')}\n`;
}

export function peerTargets(peers: PeerResults, figures: Figures): TargetVerdict[] {
  const verdicts: TargetVerdict[] = [];
  const gateway = peers.storm?.find((item) => item.path === 'gateway');
  const nginx = peers.storm?.find((item) => item.path === 'nginx');
  if (gateway) {
    const target = `reconnect storm: every BootNotification answered within ${PEER_TARGETS.stormVsNginx}x nginx's time`;
    const times = ratio(gateway.allAnsweredMs, nginx?.allAnsweredMs);
    const fmt = (ms: number | undefined): string => (ms === undefined ? 'not all answered' : `${(ms / 1000).toFixed(2)} s`);
    verdicts.push({
      target,
      measured: `gateway ${fmt(gateway.allAnsweredMs)}, nginx ${nginx ? fmt(nginx.allAnsweredMs) : 'not run'} (${fixed(times, 2)}x) over ${gateway.stations} stations`,
      pass: gateway.allAnsweredMs === undefined ? false : times === undefined ? undefined : times <= PEER_TARGETS.stormVsNginx,
      ...(gateway.stations < 2_000 ? { note: `only ${gateway.stations} stations: indicative only` } : {}),
    });
    const bound = gateway.handshakeBound ?? Number.NaN;
    verdicts.push({
      target: 'reconnect storm: upstream handshakes in flight at the CPMS stay within upstream.maxConcurrentHandshakes',
      measured: `peak ${gateway.cpmsPeakHandshakesInFlight} (bound ${bound}; nginx: ${nginx ? nginx.cpmsPeakHandshakesInFlight : '-'})`,
      pass: gateway.cpmsPeakHandshakesInFlight <= bound,
    });
    const refusals = gateway.refused503 + Object.values(gateway.refusedOther).reduce((sum, count) => sum + count, 0);
    verdicts.push({
      target: 'reconnect storm: no station refused or failed',
      measured: `${gateway.refused503} refused 503, ${refusals - gateway.refused503} other refusals, ${gateway.failed} failed, ${gateway.waiting} still waiting, of ${gateway.stations}`,
      pass: refusals === 0 && gateway.failed === 0 && gateway.waiting === 0,
    });
  }
  const relay = run(figures.throughput, 'ws-relay');
  const plain = run(figures.throughput, 'gateway');
  if (relay && plain) {
    const times = ratio(plain.callsPerSecond, relay.callsPerSecond) ?? Number.NaN;
    verdicts.push({ target: 'closed-loop throughput >= the ws relay (peers)', measured: `${times.toFixed(2)}x the ws relay`, pass: times >= 1 });
  }
  const relayLatency: LatencyRun | undefined = run(figures.latency, 'ws-relay');
  const plainLatency = run(figures.latency, 'gateway');
  if (relayLatency && plainLatency) {
    const times = ratio(plainLatency.latency.p99Ms, relayLatency.latency.p99Ms) ?? Number.NaN;
    verdicts.push({
      target: 'open-loop p99 <= the ws relay (peers)',
      measured: `gateway ${plainLatency.latency.p99Ms.toFixed(3)} ms, ws relay ${relayLatency.latency.p99Ms.toFixed(3)} ms (${times.toFixed(2)}x)`,
      pass: times <= 1,
    });
  }
  const idle = peers.idleRss?.find((item) => item.process === 'gateway');
  if (idle) {
    const megabytes = idle.startedRssBytes / 1024 / 1024;
    verdicts.push({ target: `idle RSS after start <= ${PEER_TARGETS.idleRssMb} MB`, measured: `${megabytes.toFixed(1)} MB`, pass: megabytes <= PEER_TARGETS.idleRssMb });
  }
  return verdicts;
}
