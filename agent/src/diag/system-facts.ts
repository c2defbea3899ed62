import { existsSync, statfsSync } from 'node:fs';
import { arch, cpus, freemem, hostname, loadavg, platform, release, totalmem, uptime, version } from 'node:os';
import { dirname } from 'node:path';

/** What the machine is and how it is doing: for the support bundle (system/facts.json). */
export function systemFacts(dataDir: string | undefined, now: Date): Record<string, unknown> {
  let disk: Record<string, unknown> | undefined;
  if (dataDir !== undefined) {
    let at = dataDir;
    while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
    try {
      const stats = statfsSync(at);
      disk = { path: at, totalBytes: stats.blocks * stats.bsize, freeBytes: stats.bfree * stats.bsize, availableBytes: stats.bavail * stats.bsize, totalInodes: stats.files, freeInodes: stats.ffree };
    } catch (error: unknown) {
      disk = { path: at, error: error instanceof Error ? error.message : String(error) };
    }
  }
  return {
    clock: { now: now.toISOString(), timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone, offsetMinutes: -now.getTimezoneOffset() },
    hostname: hostname(),
    uptimeS: Math.round(uptime()),
    loadAverage: loadavg(),
    cpus: cpus().length,
    memory: { totalBytes: totalmem(), freeBytes: freemem(), process: process.memoryUsage() },
    ...(disk ? { dataDirDisk: disk } : {}),
    kernel: { platform: platform(), release: release(), version: version(), arch: arch() },
    node: { version: process.version, versions: process.versions, execPath: process.execPath },
    user: { uid: process.getuid?.(), gid: process.getgid?.() },
  };
}
