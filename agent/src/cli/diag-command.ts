import { resolveConfigPath } from '../config/load-config.js';
import { anyFailed, type CheckResult } from '../diag/check-result.js';
import { diagContext } from '../diag/diag-context.js';
import { formatChecks } from '../diag/format-checks.js';
import { runChecks } from '../diag/run-checks.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliCommand } from './cli-io.js';
import { parseCommandFlags } from './parse-command-flags.js';
import { terminalSafe, terminalSafeJson } from './terminal-safe.js';

const DIAG_CHECK_USAGE = `Usage: pleevi-edge diag check [--json] [--config FILE]

Run the gateway's self-checks and print each as PASS, WARN, FAIL or SKIP,
with a one-line fix under every warning and failure: the configuration (as
"run" loads it), the clock (and NTP when timedatectl is there), the
certificates the gateway presents (expired: fail, under 14 days: warn), the
CPMS and the MQTT broker step by step (DNS, TCP, TLS; 5 s each), the disk
space of dataDir, the database (quick_check, read-only), the daemon on its
admin socket and the systemd unit. No secret is printed.
Exit code 1 when any check fails, 0 otherwise (warnings included).
--json prints the checks as a JSON array of {id, title, status, detail, fix}.
`;

const DIAG_USAGE = `Usage: pleevi-edge diag check [--json] [--config FILE]
       pleevi-edge diag bundle [-o FILE] [--config FILE]

See "pleevi-edge diag <subcommand> --help" and docs/appliance.md.
`;

/** `pleevi-edge diag check` (docs/appliance.md "Diagnosis"). */
export const diagCheckCommand: CliCommand = async (args, io) => {
  const flags = parseCommandFlags('diag check', DIAG_CHECK_USAGE, args, { json: { type: 'boolean' }, config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } }, io);
  if (typeof flags === 'number') return flags;
  const context = diagContext(resolveConfigPath(flags.config, io.env), io.env);
  const results = await runChecks(context);
  io.stdout.write(flags.json ? `${terminalSafeJson(results)}\n` : formatChecks(results.map(safeForTerminal)));
  return anyFailed(results) ? EXIT_FAILURE : EXIT_OK;
};

/** A detail may quote what a peer sent (an error, a certificate subject): each field with its control characters escaped. */
function safeForTerminal(result: CheckResult): CheckResult {
  return { ...result, title: terminalSafe(result.title), detail: terminalSafe(result.detail), ...(result.fix !== undefined ? { fix: terminalSafe(result.fix) } : {}) };
}

/** `pleevi-edge diag <anything else>`: a usage error. */
export const diagCommand: CliCommand = async (args, io) => {
  if (args[0] === '--help' || args[0] === '-h') {
    io.stdout.write(DIAG_USAGE);
    return EXIT_OK;
  }
  const what = args[0] === undefined ? 'a subcommand is required' : `unknown subcommand "diag ${args[0]}"`;
  io.stderr.write(`pleevi-edge diag: ${terminalSafe(what)}\n\n${DIAG_USAGE}`);
  return EXIT_USAGE;
};
