/**
 * Flags and positionals of one command, with `--help` and `--data` handled
 * the same way everywhere. Returns the parsed values, or the exit code to
 * return at once (0 after printing the usage, 2 after a bad flag).
 */
import { mkdirSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EXIT_OK, EXIT_USAGE, type CliIo } from '../../agent/src/cli/cli-io.js';
import { UsageError } from './errors.js';

type FlagOptions = NonNullable<ParseArgsConfig['options']>;
type Parsed<O extends FlagOptions> = ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: true }>>;

export const DATA_ENV = 'PLEEVI_PROVISION_DATA';

export const COMMON_FLAGS = {
  data: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function parseCommand<O extends FlagOptions>(
  command: string,
  usage: string,
  args: readonly string[],
  options: O,
  io: CliIo,
  positionals: { min: number; max: number },
): Parsed<O> | number {
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true });
  } catch (error: unknown) {
    io.stderr.write(`pleevi-provision ${command}: ${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    return EXIT_USAGE;
  }
  if ((parsed.values as { help?: unknown }).help === true) {
    io.stdout.write(usage);
    return EXIT_OK;
  }
  const count = parsed.positionals.length;
  if (count < positionals.min || count > positionals.max) {
    io.stderr.write(`pleevi-provision ${command}: ${count < positionals.min ? 'missing' : 'unexpected'} argument\n\n${usage}`);
    return EXIT_USAGE;
  }
  return parsed;
}

/** The data folder from --data or $PLEEVI_PROVISION_DATA, created (mode 0700) when missing. */
export function dataDir(flag: string | undefined, io: CliIo): string {
  const dir = flag ?? io.env[DATA_ENV];
  if (dir === undefined || dir === '') throw new UsageError(`no data folder: give --data DIR or set ${DATA_ENV}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** A positive integer flag, or undefined when not given. */
export function positiveInteger(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]{1,10}$/.test(value) || Number(value) <= 0) throw new UsageError(`--${name} must be a positive whole number, not ${JSON.stringify(value)}`);
  return Number(value);
}
