import { describeError, GatewayError } from '../errors.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliCommand, type CliIo } from './cli-io.js';
import { terminalSafe } from './terminal-safe.js';
import { USAGE } from './usage.js';

/**
 * Command words (one or two) to a loader of their implementation. Each
 * command's module (and what it pulls: SQLite, the schema validator, TLS,
 * MQTT) is imported when that command runs, so `--version`, `status` or a
 * `drivers lookup` from a shell, and the daemon itself, load only their own
 * part (docs/benchmark.md: what the gateway's start costs).
 */
const COMMANDS: ReadonlyMap<string, () => Promise<CliCommand>> = new Map([
  ['run', async () => (await import('./run-command.js')).runCommand],
  ['config check', async () => (await import('./config-check-command.js')).configCheckCommand],
  ['status', async () => (await import('./status-command.js')).statusCommand],
  ['password hash', async () => (await import('./password-hash-command.js')).passwordHashCommand],
  ['drivers import', async () => (await import('./drivers-command.js')).driversImportCommand],
  ['drivers list', async () => (await import('./drivers-command.js')).driversListCommand],
  ['drivers lookup', async () => (await import('./drivers-command.js')).driversLookupCommand],
  ['sessions', async () => (await import('./sessions-command.js')).sessionsCommand],
  ['stations', async () => (await import('./stations-command.js')).stationsCommand],
  ['schedules', async () => (await import('./schedules-command.js')).schedulesCommand],
  ['provision status', async () => (await import('./provision-command.js')).provisionStatusCommand],
  ['provision qr', async () => (await import('./provision-command.js')).provisionQrCommand],
  ['provision enroll', async () => (await import('./provision-enroll-command.js')).provisionEnrollCommand],
  ['provision reset', async () => (await import('./provision-reset-command.js')).provisionResetCommand],
  ['vpn run', async () => (await import('./vpn-command.js')).vpnRunCommand],
  ['vpn status', async () => (await import('./vpn-command.js')).vpnStatusCommand],
  // Any other `provision` word: a usage error.
  ['provision', async () => (await import('./provision-command.js')).provisionCommand],
  ['diag check', async () => (await import('./diag-command.js')).diagCheckCommand],
  ['diag bundle', async () => (await import('./diag-command.js')).diagBundleCommand],
  ['diag', async () => (await import('./diag-command.js')).diagCommand],
  ['update apply', async () => (await import('./update-command.js')).updateApplyCommand],
  ['update status', async () => (await import('./update-command.js')).updateStatusCommand],
  ['update', async () => (await import('./update-command.js')).updateCommand],
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
  const loadCommand = COMMANDS.get(twoWords) ?? COMMANDS.get(argv[0] ?? '');
  if (!loadCommand) {
    io.stderr.write(`pleevi-edge: unknown command "${argv.join(' ')}"\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  const rest = argv.slice(COMMANDS.has(twoWords) ? 2 : 1);
  try {
    const command = await loadCommand();
    return await command(rest, io);
  } catch (error: unknown) {
    const code = error instanceof GatewayError ? ` [${error.code}]` : '';
    // An error message may quote what a peer sent (the daemon's answer, a database value).
    io.stderr.write(`pleevi-edge: ${terminalSafe(describeError(error))}${code}\n`);
    return EXIT_FAILURE;
  }
}
