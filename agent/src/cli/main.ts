import { describeError, GatewayError } from '../errors.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliCommand, type CliIo } from './cli-io.js';
import { configCheckCommand } from './config-check-command.js';
import { diagBundleCommand, diagCheckCommand, diagCommand } from './diag-command.js';
import { driversImportCommand, driversListCommand, driversLookupCommand } from './drivers-command.js';
import { passwordHashCommand } from './password-hash-command.js';
import { provisionCommand, provisionQrCommand, provisionStatusCommand } from './provision-command.js';
import { provisionEnrollCommand } from './provision-enroll-command.js';
import { provisionResetCommand } from './provision-reset-command.js';
import { runCommand } from './run-command.js';
import { schedulesCommand } from './schedules-command.js';
import { sessionsCommand } from './sessions-command.js';
import { stationsCommand } from './stations-command.js';
import { statusCommand } from './status-command.js';
import { terminalSafe } from './terminal-safe.js';
import { updateApplyCommand, updateCommand, updateStatusCommand } from './update-command.js';
import { USAGE } from './usage.js';
import { vpnRunCommand, vpnStatusCommand } from './vpn-command.js';

/** Command words (one or two) to their implementation. */
const COMMANDS: ReadonlyMap<string, CliCommand> = new Map([
  ['run', runCommand],
  ['config check', configCheckCommand],
  ['status', statusCommand],
  ['password hash', passwordHashCommand],
  ['drivers import', driversImportCommand],
  ['drivers list', driversListCommand],
  ['drivers lookup', driversLookupCommand],
  ['sessions', sessionsCommand],
  ['stations', stationsCommand],
  ['schedules', schedulesCommand],
  ['provision status', provisionStatusCommand],
  ['provision qr', provisionQrCommand],
  ['provision enroll', provisionEnrollCommand],
  ['provision reset', provisionResetCommand],
  ['vpn run', vpnRunCommand],
  ['vpn status', vpnStatusCommand],
  // Any other `provision` word: a usage error.
  ['provision', provisionCommand],
  ['diag check', diagCheckCommand],
  ['diag bundle', diagBundleCommand],
  ['diag', diagCommand],
  ['update apply', updateApplyCommand],
  ['update status', updateStatusCommand],
  ['update', updateCommand],
]);

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout.write(USAGE);
    return argv.length === 0 ? EXIT_USAGE : EXIT_OK;
  }
  if (argv[0] === '--version') {
    const { GATEWAY_VERSION } = await import('../version.js');
    io.stdout.write(`${GATEWAY_VERSION}\n`);
    return EXIT_OK;
  }
  const twoWords = `${argv[0]} ${argv[1] ?? ''}`;
  const command = COMMANDS.get(twoWords) ?? COMMANDS.get(argv[0] ?? '');
  if (!command) {
    io.stderr.write(`pleevi-edge: unknown command "${argv.join(' ')}"\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  const rest = argv.slice(COMMANDS.has(twoWords) ? 2 : 1);
  try {
    return await command(rest, io);
  } catch (error: unknown) {
    const code = error instanceof GatewayError ? ` [${error.code}]` : '';
    // An error message may quote what a peer sent (the daemon's answer, a database value).
    io.stderr.write(`pleevi-edge: ${terminalSafe(describeError(error))}${code}\n`);
    return EXIT_FAILURE;
  }
}
