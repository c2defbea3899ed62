import { join } from 'node:path';
import { ChargePointScript, runCalls, type ScriptedCall } from './charge-point-script.js';
import type { Cleanup } from './cleanup.js';
import { BenchChild } from './bench-child.js';
import { startObservedSite, sleep } from './observed-site.js';
import { connectStations, type OcppStation } from './ocpp-station.js';
import { sampleProcess } from './proc-stat.js';

/**
 * "Mix" (issue 10, target 2): the gateway's CPU per relayed message for the
 * frames its session bookkeeping reads, next to Heartbeats, which it only
 * relays. The same gateway (cloud link on, database on disk) and stations
 * take turns: a window of Heartbeats, a window of the mix, round after round,
 * each closed loop, so both see the same machine.
 *
 * The mix is what stations send over a session: for 1.6 Authorize,
 * StatusNotification, StartTransaction, StatusNotification, N MeterValues,
 * StopTransaction and two StatusNotifications; for 2.0.1 Authorize,
 * StatusNotification, TransactionEvent Started, N TransactionEvent Updated
 * with meter values, Ended, StatusNotification. Half the stations speak each.
 * N is 60 by default: an hour of charging at one MeterValues a minute (the
 * site the issue describes); `--mix-meter-values 10` is the earlier, start-
 * and stop-heavy mix (a start and a stop every 9 calls).
 */
export const DEFAULT_METER_VALUES_PER_SESSION = 60;
const WARMUP_MS = 300;

export interface MixOptions {
  readonly stations: number;
  /** Measured seconds per kind, split over `rounds`. */
  readonly seconds: number;
  readonly rounds: number;
  /** MeterValues (or TransactionEvent Updated) per session. */
  readonly meterValuesPerSession: number;
  /** `--cpu-prof`: the mix gateway writes a V8 CPU profile here. */
  readonly profileDir?: string;
  /**
   * `--mix-ws-relay`: the stations go through the bench's bare ws relay
   * (ws-relay-process.ts, no inspection) to the same CPMS instead, and its
   * CPU is measured: what the same frames cost a relay that only relays.
   */
  readonly throughWsRelay?: boolean;
}

/** Where the stations connect and whose CPU and frame counters are read. */
interface MixTarget {
  readonly child: BenchChild;
  readonly pid: number;
  readonly stationUrl: string;
}

export interface MixKindFigures {
  readonly messages: number;
  readonly cpuMicros: number;
  readonly usPerMessage: number;
}

export interface MixRun {
  readonly stations: number;
  readonly rounds: number;
  readonly seconds: number;
  readonly meterValuesPerSession: number;
  readonly heartbeat: MixKindFigures;
  readonly mix: MixKindFigures;
  /** Mix CPU per message over Heartbeat CPU per message. */
  readonly ratio: number;
  readonly sessionsStarted: number;
  readonly sessionsEnded: number;
  readonly payloadsMalformed: number;
}

type Kind = 'heartbeat' | 'mix';

export async function measureMix(moduleDir: string, workDir: string, cleanup: Cleanup, options: MixOptions): Promise<MixRun> {
  const profiling = options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [];
  const site = await startObservedSite(moduleDir, join(workDir, 'mix-data'), cleanup, ['1'], options.throughWsRelay ? [] : profiling);
  let stations: OcppStation[] = [];
  let relay: BenchChild | undefined;
  try {
    let target: MixTarget = { child: site.gateway, pid: site.gatewayPid, stationUrl: site.stationUrl };
    if (options.throughWsRelay) {
      relay = await BenchChild.start({ name: 'ws-relay', modulePath: join(moduleDir, 'ws-relay-process.js'), args: [`ws://127.0.0.1:${site.cpms.port}/ocpp`], execArgv: [] }, cleanup);
      if (relay.pid === undefined) throw new Error('the ws relay has no pid');
      target = { child: relay, pid: relay.pid, stationUrl: `ws://127.0.0.1:${relay.port}/ocpp` };
    }
    stations = await connectStations(target.stationUrl, 'mix-', options.stations);
    const scripts = stations.map((station, index) => new ChargePointScript(station.protocol, index));
    await Promise.all(stations.map((station, index) => runCalls(station, (scripts[index] as ChargePointScript).boot(new Date()))));
    const queues: ScriptedCall[][] = stations.map(() => []);
    const nextMixCall = (index: number): ScriptedCall => {
      const queue = queues[index] as ScriptedCall[];
      if (queue.length === 0) {
        const script = scripts[index] as ChargePointScript;
        const at = new Date();
        queue.push(...script.start(at));
        for (let n = 0; n < options.meterValuesPerSession; n += 1) queue.push(script.meter(at));
        queue.push(...script.stop(at));
      }
      return queue.shift() as ScriptedCall;
    };
    const totals: Record<Kind, { messages: number; cpuMicros: number }> = { heartbeat: { messages: 0, cpuMicros: 0 }, mix: { messages: 0, cpuMicros: 0 } };
    const before = await target.child.usage(false);
    const windowMs = (options.seconds * 1000) / options.rounds;
    for (let round = 0; round < options.rounds; round += 1) {
      for (const kind of round % 2 === 0 ? (['heartbeat', 'mix'] as const) : (['mix', 'heartbeat'] as const)) {
        const figures = await window(target, stations, windowMs, (index) => (kind === 'heartbeat' ? (scripts[index] as ChargePointScript).heartbeat() : nextMixCall(index)));
        totals[kind].messages += figures.messages;
        totals[kind].cpuMicros += figures.cpuMicros;
      }
    }
    const after = await target.child.usage(false);
    const delta = (name: string): number => (after.counters[name] ?? 0) - (before.counters[name] ?? 0);
    const unexpected = stations.reduce((sum, station) => sum + station.unexpected, 0);
    if (unexpected > 0) throw new Error(`${unexpected} unexpected frames or closes in the mix phase`);
    const figuresOf = (kind: Kind): MixKindFigures => ({ ...totals[kind], usPerMessage: totals[kind].messages > 0 ? totals[kind].cpuMicros / totals[kind].messages : Number.NaN });
    const heartbeat = figuresOf('heartbeat');
    const mix = figuresOf('mix');
    return {
      stations: options.stations,
      rounds: options.rounds,
      seconds: options.seconds,
      meterValuesPerSession: options.meterValuesPerSession,
      heartbeat,
      mix,
      ratio: mix.usPerMessage / heartbeat.usPerMessage,
      sessionsStarted: delta('sessionsStarted'),
      sessionsEnded: delta('sessionsEnded'),
      payloadsMalformed: delta('sessionPayloadsMalformed') + delta('sessionUnknownTransactions'),
    };
  } finally {
    await Promise.all(stations.map((station) => station.close()));
    await relay?.stop();
    await site.stop();
  }
}

/**
 * Closed loop, one call in flight per station as OCPP-J allows (1.6 section
 * 4.1.1): each answer sends that station's next call, which saturates the
 * gateway as the relay bench's throughput phase does, so per-message costs
 * are the gateway's own, not its idle wake-ups'. The gateway's CPU
 * (/proc/<pid>/stat utime + stime) and relayed messages (its own counters)
 * are read at the edges of the measured part.
 */
async function window(target: MixTarget, stations: readonly OcppStation[], measureMs: number, nextCall: (index: number) => ScriptedCall): Promise<{ messages: number; cpuMicros: number }> {
  let running = true;
  const failures: unknown[] = [];
  const relayed = async (): Promise<number> => {
    const { counters } = await target.child.usage(false);
    return (counters.framesFromStations ?? 0) + (counters.framesFromCpms ?? 0);
  };
  const loop = async (index: number): Promise<void> => {
    const station = stations[index] as OcppStation;
    while (running) {
      const call = nextCall(index);
      try {
        // Not `call.onResult?.(await ...)`: an optional call skips evaluating its arguments.
        const result = await station.call(call.action, call.payload());
        call.onResult?.(result);
      } catch (error: unknown) {
        failures.push(error);
        return;
      }
    }
  };
  const loops = stations.map((_station, index) => loop(index));
  await sleep(WARMUP_MS);
  const cpuAtStart = sampleProcess(target.pid).cpuMicros;
  const messagesAtStart = await relayed();
  await sleep(measureMs);
  const cpuAtEnd = sampleProcess(target.pid).cpuMicros;
  const messagesAtEnd = await relayed();
  running = false;
  await Promise.all(loops);
  if (failures.length > 0) throw new Error(`${failures.length} calls failed in the mix phase; first: ${String(failures[0])}`);
  return { messages: messagesAtEnd - messagesAtStart, cpuMicros: cpuAtEnd - cpuAtStart };
}
