/**
 * The hardware serial number a gateway id is derived from when the
 * configuration sets none (docs/provisioning.md "The gateway's identity").
 * Sources in order: the Raspberry Pi `Serial` line of /proc/cpuinfo, the DMI
 * product serial, /etc/machine-id. The paths are injectable so the tests use
 * files in a temp folder.
 */
import { readFileSync } from 'node:fs';

export interface SerialSourcePaths {
  readonly cpuinfo: string;
  readonly dmiProductSerial: string;
  readonly machineId: string;
}

export const DEFAULT_SERIAL_SOURCE_PATHS: SerialSourcePaths = {
  cpuinfo: '/proc/cpuinfo',
  dmiProductSerial: '/sys/class/dmi/id/product_serial',
  machineId: '/etc/machine-id',
};

export type SerialSource = 'raspberry-pi-serial' | 'dmi-serial' | 'machine-id';

export interface HardwareSerial {
  readonly serial: string;
  readonly source: SerialSource;
}

/**
 * Values firmware writes when nobody set a serial: they are the same on every
 * such machine, so a gateway id made from them would collide.
 */
const PLACEHOLDER_SERIALS = new Set(['none', 'not specified', 'not applicable', 'default string', 'to be filled by o.e.m.', 'system serial number', '0123456789']);

/** The first usable serial, or undefined when no source gives one (the caller then falls back to the hostname). */
export function readHardwareSerial(paths: SerialSourcePaths = DEFAULT_SERIAL_SOURCE_PATHS): HardwareSerial | undefined {
  const pi = piSerial(readOptional(paths.cpuinfo));
  if (pi !== undefined) return { serial: pi, source: 'raspberry-pi-serial' };
  const dmi = usable(readOptional(paths.dmiProductSerial));
  if (dmi !== undefined) return { serial: dmi, source: 'dmi-serial' };
  const machineId = usable(readOptional(paths.machineId));
  if (machineId !== undefined) return { serial: machineId, source: 'machine-id' };
  return undefined;
}

/** `Serial\t\t: 10000000abcdef01` on a Pi; x86 cpuinfo has no such line. */
function piSerial(cpuinfo: string | undefined): string | undefined {
  if (cpuinfo === undefined) return undefined;
  const match = /^Serial\s*:\s*(\S+)\s*$/m.exec(cpuinfo);
  return usable(match?.[1]);
}

function usable(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  if (trimmed === undefined || trimmed === '') return undefined;
  if (/^0+$/.test(trimmed) || PLACEHOLDER_SERIALS.has(trimmed.toLowerCase())) return undefined;
  return trimmed;
}

/**
 * A source that cannot be read is skipped, not an error: the DMI serial is
 * readable by root only (EACCES for the service user), and a Pi has no DMI
 * at all (ENOENT).
 */
function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error: unknown) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EPERM' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
    throw error;
  }
}
