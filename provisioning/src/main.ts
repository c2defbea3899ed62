/** `pleevi-provision`: the reference enrollment service and CA (docs/provisioning-service.md). */
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliCommand, type CliIo } from '../../agent/src/cli/cli-io.js';
import { terminalSafe } from '../../agent/src/cli/terminal-safe.js';
import { describeError, GatewayError } from '../../agent/src/errors.js';
import { caInitCommand } from './ca-command.js';
import { ApiError, UsageError } from './errors.js';
import { claimCommand, gatewaysAddCommand, gatewaysImportCommand, listCommand, preauthorizeCommand, revokeCommand } from './gateway-commands.js';
import { labelCommand } from './label-command.js';
import { serveCommand } from './serve-command.js';
import { sitesAddCommand, sitesListCommand } from './sites-command.js';
import { tokensAddCommand, tokensListCommand, tokensRemoveCommand } from './tokens-command.js';

export const USAGE = `Usage: pleevi-provision <command> [options]

Commands:
  ca init                 make the CA (or --import-cert/--import-key an existing one); never replaces one
  serve --port N          the enrollment API and the claim page over HTTPS
  tokens add --role R     make an installer or operator bearer token (printed once)
  tokens list | remove ID the tokens (by id, never the secret), or remove one
  sites add SITE --config FILE   a site and the configuration its gateways receive
  sites list              the sites
  gateways add GATEWAY    register a factory-made identity (--serial S --claim-code C)
  gateways import FILE    register a factory batch from CSV (gatewayId,serial,claimCode)
  claim GATEWAY CODE --site S   claim a gateway (the rules of POST /v1/claims)
  preauthorize SERIAL --site S  let that serial enroll without a claim
  revoke GATEWAY          revoke a gateway and its certificates (they go on the CRL)
  list                    the gateways: id, serial, state, site, certificate expiry, last seen
  label --out DIR ...     SVG claim labels (QR, id, code) for registered gateways

Options for every command:
  --data DIR              the data folder (default: $PLEEVI_PROVISION_DATA): provision.db, ca.key, ca.crt
  --json                  machine-readable output (listing commands)
  --help                  the command's own help

Exit codes: 0 success, 1 failure at run time (also a refused claim), 2 bad usage or bad input.
`;

const COMMANDS: ReadonlyMap<string, CliCommand> = new Map([
  ['ca init', caInitCommand],
  ['serve', serveCommand],
  ['tokens add', tokensAddCommand],
  ['tokens list', tokensListCommand],
  ['tokens remove', tokensRemoveCommand],
  ['sites add', sitesAddCommand],
  ['sites list', sitesListCommand],
  ['gateways add', gatewaysAddCommand],
  ['gateways import', gatewaysImportCommand],
  ['claim', claimCommand],
  ['preauthorize', preauthorizeCommand],
  ['revoke', revokeCommand],
  ['list', listCommand],
  ['label', labelCommand],
]);

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout.write(USAGE);
    return argv.length === 0 ? EXIT_USAGE : EXIT_OK;
  }
  const twoWords = `${argv[0]} ${argv[1] ?? ''}`;
  const command = COMMANDS.get(twoWords) ?? COMMANDS.get(argv[0] ?? '');
  if (!command) {
    io.stderr.write(`pleevi-provision: unknown command "${terminalSafe(argv.join(' '))}"\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  try {
    return await command(argv.slice(COMMANDS.has(twoWords) ? 2 : 1), io);
  } catch (error: unknown) {
    const code = error instanceof GatewayError ? ` [${error.code}]` : '';
    io.stderr.write(`pleevi-provision: ${terminalSafe(describeError(error))}${code}\n`);
    const usage = error instanceof UsageError || (error instanceof ApiError && error.status === 400);
    return usage ? EXIT_USAGE : EXIT_FAILURE;
  }
}
