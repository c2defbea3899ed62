import type { BenchOptions } from './bench-options.js';
import type { Cleanup } from './cleanup.js';
import { join } from 'node:path';
import { newestProfile, summarizeProfile } from './cpu-profile-summary.js';
import { measureMix, type MixRun } from './mix-phase.js';
import { otherCores, otherProcessesCpu } from './proc-stat.js';
import { measureSiteDay, type SiteDayRun } from './site-day-phase.js';

/** Simulated seconds per real second in the site day: a minute of the day in half a second. */
export const SITE_DAY_COMPRESSION = 120;
/** Issue 10 targets 1 and 2. */
export const OBSERVED_TARGETS = { mbPerDay: 100, mixVsHeartbeat: 2 } as const;

export interface ObservedFigures {
  readonly siteDay?: SiteDayRun & { readonly otherCores: number };
  readonly mix?: MixRun & { readonly otherCores: number };
  /** `--mix-ws-relay`: the same mix through the bare ws relay. */
  readonly mixWsRelay?: MixRun & { readonly otherCores: number };
}

/** The phases with session bookkeeping and the cloud link on (site day, mix), each with its own gateway. */
export async function runObservedPhases(
  options: BenchOptions,
  moduleDir: string,
  workDir: string,
  cleanup: Cleanup,
  progress: (line: string) => void,
  /** `--cpu-prof`: where the mix gateway's profile goes (summarised on the progress lines). */
  mixProfileDir?: string,
): Promise<ObservedFigures> {
  let figures: ObservedFigures = {};
  const measured = async <T>(run: () => Promise<T>): Promise<T & { otherCores: number }> => {
    const before = otherProcessesCpu(process.pid);
    const started = Date.now();
    const result = await run();
    const cores = otherCores(before, otherProcessesCpu(process.pid), (Date.now() - started) / 1000);
    return { ...result, otherCores: Math.round(cores * 100) / 100 };
  };
  if (options.phases.has('site-day')) {
    progress(`site day: ${options.siteDayStations} stations, ${options.siteDaySeconds} s = ${Math.round((options.siteDaySeconds * SITE_DAY_COMPRESSION) / 60)} simulated minutes, cloud link on, database on disk`);
    const siteDay = await measured(() =>
      measureSiteDay(moduleDir, workDir, cleanup, { stations: options.siteDayStations, seconds: options.siteDaySeconds, compression: SITE_DAY_COMPRESSION }),
    );
    figures = { ...figures, siteDay };
  }
  if (options.phases.has('mix')) {
    progress(`mix: ${options.mixStations} stations in closed loop, Heartbeats and the session mix (${options.mixMeterValues} MeterValues per session) taking turns, ${options.mixSeconds} s each`);
    const mixOptions = { stations: options.mixStations, seconds: options.mixSeconds, rounds: 2 * Math.max(1, Math.round(options.mixSeconds / 2)), meterValuesPerSession: options.mixMeterValues };
    const mix = await measured(() => measureMix(moduleDir, workDir, cleanup, { ...mixOptions, ...(mixProfileDir ? { profileDir: mixProfileDir } : {}) }));
    figures = { ...figures, mix };
    if (mixProfileDir) reportMixProfile(mixProfileDir, moduleDir, progress);
    if (options.mixWsRelay) {
      progress('mix through the bare ws relay (--mix-ws-relay): the same stations, frames and CPMS, no inspection');
      const mixWsRelay = await measured(() => measureMix(moduleDir, workDir, cleanup, { ...mixOptions, throughWsRelay: true }));
      figures = { ...figures, mixWsRelay };
    }
  }
  return figures;
}

/** The mix gateway's hottest functions and files, on the progress lines (the run's results keep the main gateway's profile). */
function reportMixProfile(dir: string, moduleDir: string, progress: (line: string) => void): void {
  const file = newestProfile(dir);
  if (!file) {
    progress('--cpu-prof: the mix gateway wrote no profile');
    return;
  }
  const summary = summarizeProfile(file, join(moduleDir, '..', '..', '..'), 25);
  progress(`mix gateway CPU profile: ${file}`);
  for (const spot of summary.hotspots) progress(`  ${spot.selfPercent.toFixed(1).padStart(5)} %  ${spot.functionName}  ${spot.location}`);
  progress('  by file:');
  for (const spot of summary.byFile) progress(`  ${spot.selfPercent.toFixed(1).padStart(5)} %  ${spot.location}`);
}

export function formatObserved(figures: ObservedFigures): string[] {
  const out: string[] = [];
  const day = figures.siteDay;
  if (day) {
    out.push(
      '',
      `9. Site day: ${day.stations} stations (1.6 and 2.0.1), ${day.simulatedMinutes} simulated minutes in ${day.realSeconds.toFixed(1)} s (x${day.compression}), cloud link on; data folder on ${day.fileSystem}; other processes ${day.otherCores} cores`,
      `   ${day.calls} calls (${day.meterValues} MeterValues / TransactionEvent readings), ${day.messagesRelayed} messages relayed; sessions started ${day.sessionsStarted}, ended ${day.sessionsEnded}, updated events ${day.sessionsUpdated}; not usable ${day.payloadsMalformed}; outbox depth at the end ${day.outboxDepthAtEnd}; slowest station ${day.maxLagSeconds.toFixed(2)} s behind`,
      `   storage writes (gateway write_bytes): ${(day.writeBytes / 1024).toFixed(0)} KiB, ${day.bytesPerMeterValue.toFixed(0)} bytes per MeterValues (everything written, divided by the MeterValues)`,
      `   projected for 200 stations, 10 sessions of 120 min a day each, 1 MeterValues/min while charging: ${day.projectedMbPerDay.toFixed(1)} MB/day (target <= ${OBSERVED_TARGETS.mbPerDay})`,
    );
    if (day.fileSystem.startsWith('tmpfs')) out.push('   the data folder is on tmpfs: write_bytes counts nothing there, so this figure means nothing (set TMPDIR to a real disk)');
  }
  const mix = figures.mix;
  if (mix) {
    out.push(
      '',
      `10. CPU per relayed message, observed mix (${mix.meterValuesPerSession} MeterValues per session) vs Heartbeat: ${mix.stations} stations, closed loop (one call in flight per station), ${mix.seconds} s each in ${mix.rounds} rounds; other processes ${mix.otherCores} cores`,
      `   Heartbeat: ${mix.heartbeat.usPerMessage.toFixed(1)} us (${mix.heartbeat.messages} messages)`,
      `   mix:       ${mix.mix.usPerMessage.toFixed(1)} us (${mix.mix.messages} messages; sessions started ${mix.sessionsStarted}, ended ${mix.sessionsEnded}, not usable ${mix.payloadsMalformed})`,
      `   mix / Heartbeat: ${mix.ratio.toFixed(2)}x (target <= ${OBSERVED_TARGETS.mixVsHeartbeat}x)`,
    );
  }
  const bare = figures.mixWsRelay;
  if (bare) {
    out.push(
      `   the same through the bare ws relay (no inspection; other processes ${bare.otherCores} cores): Heartbeat ${bare.heartbeat.usPerMessage.toFixed(1)} us, mix ${bare.mix.usPerMessage.toFixed(1)} us, ${bare.ratio.toFixed(2)}x`,
    );
    if (mix) {
      out.push(
        `   gateway over ws relay: Heartbeat ${(mix.heartbeat.usPerMessage / bare.heartbeat.usPerMessage).toFixed(2)}x, mix ${(mix.mix.usPerMessage / bare.mix.usPerMessage).toFixed(2)}x`,
      );
    }
  }
  return out;
}
