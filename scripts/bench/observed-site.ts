import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDemoBroker, type DemoBroker } from '../demo/demo-broker.js';
import { BenchChild } from './bench-child.js';
import type { Cleanup } from './cleanup.js';

/**
 * What the observed phases (site day, mix) run against: the bench's OCPP
 * CPMS (ocpp-cpms-process.ts), an MQTT broker (aedes, in this process, as
 * the demo runs it) and the gateway with its cloud link on and its SQLite
 * file on disk (observed-gateway-process.ts).
 */
export interface ObservedSite {
  readonly gateway: BenchChild;
  readonly gatewayPid: number;
  readonly cpms: BenchChild;
  readonly broker: DemoBroker;
  readonly dataDir: string;
  /** Base URL for stations: `ws://127.0.0.1:<port>/ocpp`. */
  readonly stationUrl: string;
  stop(): Promise<void>;
}

export async function startObservedSite(
  moduleDir: string,
  dataDir: string,
  cleanup: Cleanup,
  extraArgs: readonly string[] = [],
  execArgv: readonly string[] = [],
): Promise<ObservedSite> {
  mkdirSync(dataDir, { recursive: true });
  const stops: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    for (const next of stops.reverse()) await next().catch(() => undefined);
  };
  try {
    const broker = await startDemoBroker();
    stops.push(() => broker.close());
    const cpms = await BenchChild.start({ name: 'ocpp-cpms', modulePath: join(moduleDir, 'ocpp-cpms-process.js'), args: [] }, cleanup);
    stops.push(() => cpms.stop());
    const gateway = await BenchChild.start(
      { name: 'observed-gateway', modulePath: join(moduleDir, 'observed-gateway-process.js'), args: [`ws://127.0.0.1:${cpms.port}/ocpp`, dataDir, broker.url, ...extraArgs], execArgv },
      cleanup,
    );
    stops.push(() => gateway.stop());
    const gatewayPid = gateway.pid;
    if (gatewayPid === undefined) throw new Error('the observed gateway has no pid');
    return { gateway, gatewayPid, cpms, broker, dataDir, stationUrl: `ws://127.0.0.1:${gateway.port}/ocpp`, stop };
  } catch (error: unknown) {
    await stop();
    throw error;
  }
}

/**
 * Bytes this process caused to be sent to the block layer (proc(5)
 * /proc/<pid>/io `write_bytes`): counted when a page of the page cache is
 * dirtied, so a page written again before the kernel wrote it back counts
 * once. On tmpfs it stays 0.
 */
export function writeBytesOf(pid: number): number {
  const text = readFileSync(`/proc/${pid}/io`, 'utf8');
  const match = /^write_bytes:\s+(\d+)$/m.exec(text);
  if (!match?.[1]) throw new Error(`no write_bytes in /proc/${pid}/io`);
  return Number(match[1]);
}

/** The file system type of `dir` (`stat -f`): `tmpfs` counts no writes at all. */
export function fileSystemOf(dir: string): string {
  try {
    const type = execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim();
    const device = execFileSync('df', ['--output=source', dir], { encoding: 'utf8' }).trim().split('\n')[1]?.trim() ?? '?';
    return `${type} on ${device}`;
  } catch {
    return 'unknown';
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll until `check` holds or `timeoutMs` passed; returns whether it held. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(50);
  }
  return check();
}
