import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { adminGet } from '../admin/admin-client.js';
import { GatewayError } from '../errors.js';
import { consoleDir } from '../provisioning/awaiting-claim.js';
import { removeIssue } from '../provisioning/console-issue.js';
import { IDENTITY_DIR } from '../provisioning/device-identity.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliCommand } from './cli-io.js';
import { loadCliConfig } from './load-cli-config.js';
import { parseCommandFlags } from './parse-command-flags.js';
import { terminalSafe } from './terminal-safe.js';

const USAGE = `Usage: pleevi-edge provision reset --yes [--config FILE]

Forget the gateway's identity: its private key, claim code, enrolled
certificate and enrolled configuration (<dataDir>/identity/). At its next
start the gateway makes a new key and claim code and is a new, unclaimed
gateway that must be claimed again. Sessions, the driver list and the event
outbox in the database are kept. Stop the daemon first (systemctl stop
pleevi-edge); revoke the old certificate in the enrollment service
(pleevi-provision revoke <gatewayId>). Without --yes it only says what
would be removed.
`;

/** `pleevi-edge provision reset --yes` (docs/provisioning.md "Commands"). */
export const provisionResetCommand: CliCommand = async (args, io) => {
  const flags = parseCommandFlags('provision reset', USAGE, args, { yes: { type: 'boolean' }, config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } }, io);
  if (typeof flags === 'number') return flags;
  const device = loadCliConfig(flags.config, io);
  if (!device) return EXIT_USAGE;
  const dir = join(device.dataDir, IDENTITY_DIR);
  const files = existsSync(dir) ? readdirSync(dir).sort() : [];
  if (files.length === 0) {
    io.stdout.write(terminalSafe(`nothing to reset: ${dir} holds no identity`) + '\n');
    return EXIT_OK;
  }
  if (flags.yes !== true) {
    io.stderr.write(terminalSafe(`pleevi-edge provision reset: this removes the gateway's identity (${files.join(', ')} in ${dir}); the gateway must then be claimed again. Add --yes to do it.`) + '\n');
    return EXIT_USAGE;
  }
  // A running daemon holds the key and certificate in use: resetting under it would leave it half-way.
  try {
    await adminGet(device.admin.socket, '/v1/status');
    io.stderr.write('pleevi-edge provision reset: the daemon is running; stop it first (systemctl stop pleevi-edge), then reset\n');
    return EXIT_FAILURE;
  } catch (error: unknown) {
    if (!(error instanceof GatewayError && error.code === 'PE_ERR_DAEMON_UNREACHABLE')) throw error;
  }
  rmSync(dir, { recursive: true, force: true });
  removeIssue(consoleDir(device.dataDir));
  io.stdout.write(
    terminalSafe(`removed the identity of ${device.gatewayId} (${files.join(', ')}); the next start makes a new key and claim code. Revoke the old certificate in the enrollment service: pleevi-provision revoke ${device.gatewayId}`) + '\n',
  );
  return EXIT_OK;
};
