import { closeSync, existsSync, fsyncSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { DATABASE_FILE } from '../../agent/src/store/gateway-store.js';
import { ChargePointScript, runCalls, type ScriptedCall } from './charge-point-script.js';
import type { Cleanup } from './cleanup.js';
import { fileSystemOf, sleep, startObservedSite, waitFor, writeBytesOf } from './observed-site.js';
import { connectStations, type OcppStation } from './ocpp-station.js';

/**
 * "Site day" (issue 10, target 1): what the gateway writes to its storage
 * for a real site. Stations replay a time-compressed day against the
 * gateway with its cloud link on and its database on disk, and the gateway
 * process's `write_bytes` (/proc/<pid>/io) is read before and after.
 *
 * The day of one station: 10 sessions (a 144-minute cycle: 120 minutes
 * charging with one MeterValues a minute, then 24 idle), a Heartbeat every
 * 5 minutes, StatusNotifications around each session; even stations speak
 * OCPP 1.6, odd ones 2.0.1 (TransactionEvent). Stations start at different
 * points of their cycle, so starts and stops are spread over the window.
 */
export const SITE_STATIONS = 200;
const MINUTES_PER_DAY = 1_440;
const CYCLE_MINUTES = 144;
const CHARGING_MINUTES = 120;
const HEARTBEAT_MINUTES = 5;
/** MeterValues a day for the site the target names: 200 stations, one a minute while charging. */
export const SITE_METER_VALUES_PER_DAY = (SITE_STATIONS * MINUTES_PER_DAY * CHARGING_MINUTES) / CYCLE_MINUTES;
/** Linux writes back dirty pages about 30 s after they were dirtied (vm.dirty_expire_centisecs 3000). */
const DIRTY_EXPIRE_MS = 30_000;
/** 2026-01-15T00:00Z: the station clocks of the replayed day. */
const DAY_START_MS = Date.UTC(2026, 0, 15);

export interface SiteDayOptions {
  readonly stations: number;
  /** Real seconds the replayed part of the day takes. */
  readonly seconds: number;
  /** Simulated seconds per real second. */
  readonly compression: number;
}

export interface SiteDayRun {
  readonly stations: number;
  readonly compression: number;
  readonly simulatedMinutes: number;
  readonly realSeconds: number;
  /** `stat -f` of the data folder: tmpfs would count nothing. */
  readonly fileSystem: string;
  readonly writeBytes: number;
  readonly meterValues: number;
  readonly calls: number;
  readonly messagesRelayed: number;
  readonly bytesPerMeterValue: number;
  /** The replayed window scaled to 24 h and to 200 stations, MB = 10^6 bytes. */
  readonly projectedMbPerDay: number;
  readonly sessionsStarted: number;
  readonly sessionsEnded: number;
  readonly sessionsUpdated: number;
  readonly payloadsMalformed: number;
  readonly outboxDepthAtEnd: number;
  /** The slowest station was this far behind its simulated clock (s of real time). */
  readonly maxLagSeconds: number;
}

export async function measureSiteDay(moduleDir: string, workDir: string, cleanup: Cleanup, options: SiteDayOptions): Promise<SiteDayRun> {
  const dataDir = join(workDir, 'site-day-data');
  const site = await startObservedSite(moduleDir, dataDir, cleanup, [String(options.compression)]);
  let stations: OcppStation[] = [];
  try {
    stations = await connectStations(site.stationUrl, 'site-', options.stations);
    const scripts = stations.map((station, index) => new ChargePointScript(station.protocol, index));
    const cycleOffset = (index: number): number => (index * 97) % CYCLE_MINUTES;
    const secondOffset = (index: number): number => (index * 7_919) % 60;
    const stationTime = (simulatedMs: number): Date => new Date(DAY_START_MS + simulatedMs);

    // Before the window: every station boots, and those in the charging part of their cycle have a session under way.
    await Promise.all(
      stations.map(async (station, index) => {
        const script = scripts[index] as ChargePointScript;
        await runCalls(station, script.boot(stationTime(-3_600_000)));
        const position = cycleOffset(index);
        if (position > 0 && position <= CHARGING_MINUTES) await runCalls(station, script.start(stationTime(-position * 60_000)));
      }),
    );
    const cloudReady = await waitFor(async () => {
      const { counters } = await site.gateway.usage(false);
      return counters.cloudConnected === 1 && counters.outboxDepth === 0;
    }, 10_000);
    if (!cloudReady) throw new Error('the gateway did not connect to the broker, or did not empty its outbox, within 10 s');

    const simulatedMinutes = Math.max(1, Math.floor((options.seconds * options.compression) / 60));
    const realMsPerMinute = 60_000 / options.compression;
    const meterValuesBefore = scripts.reduce((sum, script) => sum + script.meterValuesSent, 0);
    const before = await site.gateway.usage(false);
    const bytesBefore = writeBytesOf(site.gatewayPid);
    const writeback = emulateWriteback(dataDir, DIRTY_EXPIRE_MS / options.compression);
    const startedAt = Date.now();
    let calls = 0;
    let maxLagMs = 0;
    try {
      await Promise.all(
        stations.map(async (station, index) => {
          const script = scripts[index] as ChargePointScript;
          for (let minute = 0; minute < simulatedMinutes; minute += 1) {
            const simulatedMs = (minute * 60 + secondOffset(index)) * 1000;
            const due = startedAt + (simulatedMs * realMsPerMinute) / 60_000;
            const wait = due - Date.now();
            if (wait > 0) await sleep(wait);
            else maxLagMs = Math.max(maxLagMs, -wait);
            const at = stationTime(simulatedMs);
            const position = (minute + cycleOffset(index)) % CYCLE_MINUTES;
            const todo: ScriptedCall[] = [];
            if (position === 0) todo.push(...script.start(at));
            else if (position < CHARGING_MINUTES) todo.push(script.meter(at));
            else if (position === CHARGING_MINUTES && script.charging) todo.push(script.meter(at), ...script.stop(at));
            if ((minute + index) % HEARTBEAT_MINUTES === 0) todo.push(script.heartbeat());
            calls += todo.length;
            await runCalls(station, todo);
          }
        }),
      );
      // What waits in memory to be written is part of the day: give the gateway two of its (scaled) flush intervals.
      await sleep(Math.max(1_000, 2 * realMsPerMinute));
    } finally {
      writeback.stop();
    }
    const realSeconds = (Date.now() - startedAt) / 1000;
    const writeBytes = writeBytesOf(site.gatewayPid) - bytesBefore;
    const after = await site.gateway.usage(false);
    const delta = (name: string): number => (after.counters[name] ?? 0) - (before.counters[name] ?? 0);
    const meterValues = scripts.reduce((sum, script) => sum + script.meterValuesSent, 0) - meterValuesBefore;
    const unexpected = stations.reduce((sum, station) => sum + station.unexpected, 0);
    if (unexpected > 0) throw new Error(`${unexpected} unexpected frames or closes in the site day`);
    return {
      stations: options.stations,
      compression: options.compression,
      simulatedMinutes,
      realSeconds,
      fileSystem: fileSystemOf(dataDir),
      writeBytes,
      meterValues,
      calls,
      messagesRelayed: delta('framesFromStations') + delta('framesFromCpms'),
      bytesPerMeterValue: meterValues > 0 ? writeBytes / meterValues : Number.NaN,
      projectedMbPerDay: (writeBytes * (MINUTES_PER_DAY / simulatedMinutes) * (SITE_STATIONS / options.stations)) / 1e6,
      sessionsStarted: delta('sessionsStarted'),
      sessionsEnded: delta('sessionsEnded'),
      sessionsUpdated: delta('sessionsUpdated'),
      payloadsMalformed: delta('sessionPayloadsMalformed') + delta('sessionUnknownTransactions'),
      outboxDepthAtEnd: after.counters.outboxDepth ?? -1,
      maxLagSeconds: maxLagMs / 1000,
    };
  } finally {
    await Promise.all(stations.map((station) => station.close()));
    await site.stop();
  }
}

/**
 * The day runs `compression` times faster than the kernel's writeback, which
 * would let the page cache absorb far more rewrites of a page than in real
 * time (write_bytes counts a page when it turns dirty). So the database and
 * its WAL are fsynced every 30 s of simulated time, as the kernel would
 * write them back: the next write to a page counts again.
 */
function emulateWriteback(dataDir: string, everyMs: number): { stop(): void } {
  const files = [DATABASE_FILE, `${DATABASE_FILE}-wal`].map((name) => join(dataDir, name));
  const timer = setInterval(() => {
    for (const file of files) {
      if (!existsSync(file)) continue;
      const fd = openSync(file, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
  }, Math.max(10, everyMs));
  return { stop: () => clearInterval(timer) };
}
