import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describeError } from '../errors.js';
import { resolveConfigPath } from '../config/load-config.js';
import { currentVersion, installedReleases } from '../update/install-tree.js';
import { requestUpdate } from '../update/request-update.js';
import { UpdateRefusedError } from '../update/update-error.js';
import { IN_PROGRESS_FILE, readOutcome, REQUEST_FILE, type UpdateOutcome } from '../update/update-files.js';
import { readJournal } from '../update/update-journal.js';
import { updatesSettings } from '../update/updates-settings.js';
import { GATEWAY_VERSION } from '../version.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliCommand, type CliIo } from './cli-io.js';
import { loadCliConfig } from './load-cli-config.js';
import { terminalSafe, terminalSafeJson } from './terminal-safe.js';

const APPLY_USAGE = `Usage: pleevi-edge update apply FILE [--sig FILE] [--wait [--timeout S]] [--json] [--config FILE]

Apply a release bundle (pleevi-edge-<version>.tar.gz). The bundle is checked
here first: its Ed25519 signature (--sig, default FILE.sig) against the
pinned key (updates.publicKey), the release inside (name, version, this
machine's architecture, not the version running now). Nothing is changed
when a check fails. Then it is left with its request in updates.dir, where
the root helper (pleevi-edge-update.path / .service) picks it up, checks it
again, switches to it, and switches back if it does not report ready within
updates.readyTimeoutS. Run as the service user (sudo -u pleevi-edge ...).
--wait waits for the helper's outcome and prints it (exit 0 when applied).
`;

const STATUS_USAGE = `Usage: pleevi-edge update status [--json] [--install-dir DIR] [--config FILE]

The version running, the releases installed, an update waiting or in
progress, and the last update's outcome.
`;

const UPDATE_USAGE = `Usage: pleevi-edge update apply FILE [--sig FILE] [--wait [--timeout S]] [--json]
       pleevi-edge update status [--json]

See "pleevi-edge update <subcommand> --help" and docs/appliance.md "Updates".
`;

/** A bundle larger than this is not a release. */
const MAX_BUNDLE_BYTES = 512 * 1024 * 1024;

/** The units scripts/install.sh puts in place; without them nobody picks the request up. */
const HELPER_UNIT_PATHS = ['/etc/systemd/system/pleevi-edge-update.path', '/lib/systemd/system/pleevi-edge-update.path', '/usr/lib/systemd/system/pleevi-edge-update.path'];

/** This release's folder (dist/agent/src/cli/ is four levels below it). */
const RELEASE_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** `pleevi-edge update apply FILE` (docs/appliance.md "Updates"). */
export const updateApplyCommand: CliCommand = async (args, io) => {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: { sig: { type: 'string' }, wait: { type: 'boolean' }, timeout: { type: 'string' }, json: { type: 'boolean' }, config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    });
  } catch (error: unknown) {
    io.stderr.write(`pleevi-edge update apply: ${describeError(error)}\n\n${APPLY_USAGE}`);
    return EXIT_USAGE;
  }
  const { values: flags, positionals } = parsed;
  if (flags.help === true) {
    io.stdout.write(APPLY_USAGE);
    return EXIT_OK;
  }
  const file = positionals[0];
  if (file === undefined || positionals.length > 1) {
    io.stderr.write(`pleevi-edge update apply: give exactly one bundle file\n\n${APPLY_USAGE}`);
    return EXIT_USAGE;
  }
  const timeoutS = flags.timeout === undefined ? undefined : Number(flags.timeout);
  if (timeoutS !== undefined && (!Number.isInteger(timeoutS) || timeoutS <= 0)) {
    io.stderr.write('pleevi-edge update apply: --timeout must be a whole number of seconds\n');
    return EXIT_USAGE;
  }
  const device = loadCliConfig(flags.config, io);
  if (!device) return EXIT_USAGE;
  const updates = updatesSettings(device);
  const sigFile = flags.sig ?? `${file}.sig`;
  let bundle: Buffer;
  let signature: string;
  try {
    if (statSync(file).size > MAX_BUNDLE_BYTES) throw new Error(`${file} is larger than ${MAX_BUNDLE_BYTES} bytes: not a release bundle`);
    bundle = readFileSync(file);
    signature = readFileSync(sigFile, 'utf8');
  } catch (error: unknown) {
    return refused(io, flags.json === true, 'unreadable_bundle', describeError(error));
  }
  let requested;
  try {
    requested = await requestUpdate(bundle, signature, { updates, currentVersion: GATEWAY_VERSION });
  } catch (error: unknown) {
    if (error instanceof UpdateRefusedError) return refused(io, flags.json === true, error.refusal, error.message);
    throw error;
  }
  const { request } = requested;
  const helper = HELPER_UNIT_PATHS.some((path) => existsSync(path));
  const configPath = resolveConfigPath(flags.config, io.env);
  const manual = `sudo node ${join(RELEASE_ROOT, 'dist/agent/src/update/update-helper-main.js')} --config ${configPath}`;
  if (flags.json !== true) {
    io.stdout.write(terminalSafe(`update to ${request.version} requested (id ${request.id}, from ${GATEWAY_VERSION}); bundle and request in ${updates.dir}`) + '\n');
    io.stdout.write(
      terminalSafe(
        helper
          ? 'the update helper (pleevi-edge-update.path) applies it now; the gateway restarts on the new release, or back on this one if it is not ready within ' + `${updates.readyTimeoutS} s`
          : `no update helper is installed here (pleevi-edge-update.path, from scripts/install.sh): run it yourself as root: ${manual}`,
      ) + '\n',
    );
  }
  if (flags.wait !== true) {
    if (flags.json === true) io.stdout.write(terminalSafeJson({ ok: true, request, helperInstalled: helper }) + '\n');
    return EXIT_OK;
  }
  const outcome = await waitForOutcome(updates.dir, request.id, (timeoutS ?? updates.readyTimeoutS + 300) * 1000);
  if (outcome === undefined) {
    if (flags.json === true) io.stdout.write(terminalSafeJson({ ok: false, request, outcome: null }) + '\n');
    else io.stderr.write(`pleevi-edge update apply: no outcome yet; see "pleevi-edge update status" later\n`);
    return EXIT_FAILURE;
  }
  if (flags.json === true) io.stdout.write(terminalSafeJson({ ok: outcome.result === 'applied', request, outcome }) + '\n');
  else io.stdout.write(terminalSafe(describeOutcome(outcome)) + '\n');
  return outcome.result === 'applied' ? EXIT_OK : EXIT_FAILURE;
};

/** `pleevi-edge update status`. */
export const updateStatusCommand: CliCommand = (args, io) => {
  let flags;
  try {
    flags = parseArgs({ args: [...args], options: { json: { type: 'boolean' }, 'install-dir': { type: 'string' }, config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } }, strict: true }).values;
  } catch (error: unknown) {
    io.stderr.write(`pleevi-edge update status: ${describeError(error)}\n\n${STATUS_USAGE}`);
    return Promise.resolve(EXIT_USAGE);
  }
  if (flags.help === true) {
    io.stdout.write(STATUS_USAGE);
    return Promise.resolve(EXIT_OK);
  }
  const device = loadCliConfig(flags.config, io);
  if (!device) return Promise.resolve(EXIT_USAGE);
  const updates = updatesSettings(device);
  const installDir = flags['install-dir'] ?? installDirOfThisRelease();
  const journal = installDir !== undefined ? readJournal(installDir) : undefined;
  const report = {
    version: GATEWAY_VERSION,
    installDir: installDir ?? null,
    current: installDir !== undefined ? (currentVersion(installDir) ?? null) : null,
    releases: installDir !== undefined ? installedReleases(installDir) : [],
    waiting: existsSync(join(updates.dir, REQUEST_FILE)),
    inProgress: journal !== undefined ? { phase: journal.phase, from: journal.from, to: journal.to, deadline: journal.deadline } : existsSync(join(updates.dir, IN_PROGRESS_FILE)) ? { phase: 'taken' } : null,
    lastOutcome: readOutcome(updates.dir) ?? null,
  };
  if (flags.json === true) {
    io.stdout.write(terminalSafeJson(report) + '\n');
    return Promise.resolve(EXIT_OK);
  }
  const lines = [
    `version:      ${report.version}`,
    `install dir:  ${report.installDir ?? '(not an installed release)'}`,
    `current:      ${report.current ?? '-'}`,
    `releases:     ${report.releases.length > 0 ? report.releases.join(', ') : '-'}`,
    `update:       ${report.inProgress ? `in progress (${report.inProgress.phase})` : report.waiting ? 'requested, waiting for the helper' : 'none in progress'}`,
    `last outcome: ${report.lastOutcome ? describeOutcome(report.lastOutcome) : '-'}`,
  ];
  io.stdout.write(terminalSafe(lines.join('\n')) + '\n');
  return Promise.resolve(EXIT_OK);
};

/** Any other `update` word: a usage error. */
export const updateCommand: CliCommand = (args, io) => {
  if (args[0] === '--help' || args[0] === '-h') {
    io.stdout.write(UPDATE_USAGE);
    return Promise.resolve(EXIT_OK);
  }
  const what = args[0] === undefined ? 'a subcommand is required' : `unknown subcommand "update ${args[0]}"`;
  io.stderr.write(`pleevi-edge update: ${terminalSafe(what)}\n\n${UPDATE_USAGE}`);
  return Promise.resolve(EXIT_USAGE);
};

function refused(io: CliIo, json: boolean, code: string, message: string): number {
  if (json) io.stdout.write(terminalSafeJson({ ok: false, error: { code, message } }) + '\n');
  else io.stderr.write(terminalSafe(`pleevi-edge update apply: refused (${code}): ${message}; nothing was changed`) + '\n');
  return EXIT_FAILURE;
}

function describeOutcome(outcome: UpdateOutcome): string {
  return `${outcome.result} ${outcome.from ?? '?'} -> ${outcome.to ?? '?'} at ${outcome.at}${outcome.reason ? ` (${outcome.reason})` : ''}`;
}

/** `/opt/pleevi-edge` when this CLI runs from `<installDir>/releases/<version>/`. */
function installDirOfThisRelease(): string | undefined {
  const releases = dirname(RELEASE_ROOT.replace(/\/$/, ''));
  return basename(releases) === 'releases' ? dirname(releases) : undefined;
}

async function waitForOutcome(updatesDir: string, id: string, limitMs: number): Promise<UpdateOutcome | undefined> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const outcome = readOutcome(updatesDir);
    if (outcome !== undefined && outcome.id === id) return outcome;
    if (Date.now() > deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
