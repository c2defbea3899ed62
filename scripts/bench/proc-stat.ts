import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time and RSS of a process that is not Node (the nginx worker), read
 * from Linux /proc (proc(5): /proc/<pid>/stat fields 14-15, /proc/<pid>/status VmRSS).
 */
export interface ProcSample {
  readonly cpuMicros: number;
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
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? 0);
  return { cpuMicros: (ticks * 1_000_000) / CLOCK_TICKS_PER_SECOND, rssBytes: rssKb * 1024 };
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
