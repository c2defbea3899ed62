import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time and RSS of a process that is not Node (the nginx worker), read
 * from Linux /proc (proc(5): /proc/<pid>/stat fields 14-15, /proc/<pid>/status VmRSS).
 */
export interface ProcSample {
  readonly cpuMicros: number;
  /** The kernel's share of cpuMicros (stime): syscalls, and on loopback the receiving side's TCP work too. */
  readonly systemMicros: number;
  readonly rssBytes: number;
}

const CLOCK_TICKS_PER_SECOND = readClockTicks();

function readClockTicks(): number {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}

/** Fields of /proc/<pid>/stat after the command name, which may itself hold spaces and parentheses. */
function statFields(pid: number): string[] {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

export function sampleProcess(pid: number): ProcSample {
  const fields = statFields(pid);
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  const userTicks = Number(fields[11]);
  const systemTicks = Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? 0);
  const micros = (ticks: number): number => (ticks * 1_000_000) / CLOCK_TICKS_PER_SECOND;
  return { cpuMicros: micros(userTicks + systemTicks), systemMicros: micros(systemTicks), rssBytes: rssKb * 1024 };
}

/** Direct children of `parentPid` (e.g. the nginx master's worker). */
export function childPids(parentPid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(statFields(Number(entry))[1]) === parentPid) found.push(Number(entry));
    } catch {
      // The process ended while the folder was being read.
    }
  }
  return found;
}

/** `ulimit -n` of this process, which the children inherit. */
export function openFileLimit(): number | undefined {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limits);
    if (!match?.[1]) return undefined;
    return match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
  } catch {
    return undefined;
  }
}

export function clockTickMicros(): number {
  return 1_000_000 / CLOCK_TICKS_PER_SECOND;
}

function cpuTimes(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal ...
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const total = ticks.reduce((sum, value) => sum + value, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return { busy: total - idle, total };
}

/** Fraction of all cores busy over `ms` (0..1), from /proc/stat: other work on the machine skews a benchmark. */
export async function machineBusy(ms: number): Promise<number | undefined> {
  try {
    const before = cpuTimes();
    await new Promise((resolve) => setTimeout(resolve, ms));
    const after = cpuTimes();
    const total = after.total - before.total;
    return total > 0 ? (after.busy - before.busy) / total : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time of every process outside `rootPid`'s own tree, by pid. */
export function otherProcessesCpu(rootPid: number): Map<number, number> {
  const parents = new Map<number, number>();
  const cpu = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = statFields(Number(entry));
      parents.set(Number(entry), Number(fields[1]));
      cpu.set(Number(entry), ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLOCK_TICKS_PER_SECOND);
    } catch {
      // The process ended while the folder was being read.
    }
  }
  const inTree = (pid: number): boolean => {
    for (let at: number | undefined = pid, hops = 0; at !== undefined && at > 1 && hops < 64; at = parents.get(at), hops += 1) {
      if (at === rootPid) return true;
    }
    return false;
  };
  for (const pid of [...cpu.keys()]) if (inTree(pid)) cpu.delete(pid);
  return cpu;
}

/**
 * Cores used by other processes between two snapshots: tests or builds running
 * alongside skew every figure. Processes that started and ended in between are
 * missed, so this is a lower bound.
 */
export function otherCores(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>, seconds: number): number {
  let micros = 0;
  for (const [pid, value] of after) micros += value - (before.get(pid) ?? 0);
  return seconds > 0 ? micros / 1e6 / seconds : 0;
}
