import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EXIT_OK, EXIT_USAGE, type CliIo } from './cli-io.js';

type FlagOptions = NonNullable<ParseArgsConfig['options']>;
type Flags<O extends FlagOptions> = ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: false }>>['values'];

/**
 * Flags of a listing command, with `--help` handled: the flags, or the exit
 * code to return at once (0 after printing the usage, 2 after a bad flag).
 */
export function parseCommandFlags<O extends FlagOptions>(command: string, usage: string, args: readonly string[], options: O, io: CliIo): Flags<O> | number {
  let values: Flags<O>;
  try {
    values = parseArgs({ args: [...args], options, strict: true, allowPositionals: false }).values;
  } catch (error: unknown) {
    io.stderr.write(`pleevi-edge ${command}: ${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    return EXIT_USAGE;
  }
  if ((values as { help?: unknown }).help === true) {
    io.stdout.write(usage);
    return EXIT_OK;
  }
  return values;
}
