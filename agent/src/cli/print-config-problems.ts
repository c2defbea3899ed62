import type { ConfigError } from '../errors.js';
import type { CliIo } from './cli-io.js';

/** Every config problem on its own line with its JSON path (docs/configuration.md). */
export function printConfigProblems(io: CliIo, path: string, error: ConfigError): void {
  io.stderr.write(`config invalid: ${path}: ${error.message}\n`);
  for (const problem of error.problems) io.stderr.write(`  ${problem.path}: ${problem.message}\n`);
}
