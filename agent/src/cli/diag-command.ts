import { chmodSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { resolveConfigPath } from '../config/load-config.js';
import { bundleArchive, gatherBundle } from '../diag/diag-bundle.js';
import { describeError } from '../errors.js';
import { anyFailed, type CheckResult } from '../diag/check-result.js';
import { diagContext } from '../diag/diag-context.js';
import { formatChecks } from '../diag/format-checks.js';
import { redactorFor } from '../diag/known-secrets.js';
import type { Redactor } from '../diag/redaction.js';
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

const DIAG_BUNDLE_USAGE = `Usage: pleevi-edge diag bundle [-o FILE] [--config FILE]

Write a support archive (tar.gz, mode 0600) to FILE, by default
pleevi-edge-diag-<gatewayId>-<UTC time>.tar.gz in the current folder. It
holds: the version (and release.json), the effective configuration with
where each value came from and the configuration files, the daemon's
status, the database's statistics and latest records, the "diag check"
output (text and JSON), the certificates' names and dates, the identity
folder's listing, system facts (clock, uptime, memory, disk, kernel, Node),
timedatectl, systemctl status and the service journal (last 2000 lines).
Every password, key, token and the claim code is redacted in every file.
Run it as root or the service user, so that it can read what it reports on.
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
  // No check quotes a configured secret; the bundle's redaction runs over the output all the same.
  const { redactor } = redactorFor(context);
  const results = (await runChecks(context)).map((result) => redacted(result, redactor));
  io.stdout.write(flags.json ? `${terminalSafeJson(results)}\n` : formatChecks(results.map(safeForTerminal)));
  return anyFailed(results) ? EXIT_FAILURE : EXIT_OK;
};

/** `pleevi-edge diag bundle` (docs/appliance.md "Diagnosis"). */
export const diagBundleCommand: CliCommand = async (args, io) => {
  const flags = parseCommandFlags('diag bundle', DIAG_BUNDLE_USAGE, args, { output: { type: 'string', short: 'o' }, config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } }, io);
  if (typeof flags === 'number') return flags;
  const context = diagContext(resolveConfigPath(flags.config, io.env), io.env);
  const bundle = await gatherBundle(context);
  const archive = bundleArchive(bundle, context.now());
  const target = resolve(flags.output ?? `${bundle.name}.tar.gz`);
  try {
    writePrivateFile(target, archive);
  } catch (error: unknown) {
    io.stderr.write(terminalSafe(`pleevi-edge diag bundle: cannot write ${target}: ${describeError(error)}`) + '\n');
    return EXIT_FAILURE;
  }
  io.stdout.write(
    [
      `wrote ${target} (${archive.length} bytes, mode 0600, ${bundle.files.length} files; passwords, keys and the claim code redacted)`,
      ...bundle.notes.map((note) => `  not included: ${note}`),
      '',
    ]
      .map(terminalSafe)
      .join('\n'),
  );
  return EXIT_OK;
};

/**
 * The archive, mode 0600 from its first byte: written beside the target
 * under a temporary name created exclusively, then renamed over it.
 */
function writePrivateFile(target: string, bytes: Buffer): void {
  const temporary = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, bytes, { mode: 0o600, flag: 'wx' });
    chmodSync(temporary, 0o600);
    renameSync(temporary, target);
  } catch (error: unknown) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

function redacted(result: CheckResult, redactor: Redactor): CheckResult {
  return { ...result, detail: redactor.redact(result.detail), ...(result.fix !== undefined ? { fix: redactor.redact(result.fix) } : {}) };
}

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
