import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { enrolledFilesIn } from '../config/layered-config.js';
import { GATEWAY_VERSION } from '../version.js';
import { field } from '../config/config-values.js';
import { CLAIM_FILE, IDENTITY_DIR } from '../provisioning/device-identity.js';
import { certificateFacts, certificatesIn, configuredCertificates } from './configured-certificates.js';
import { readDaemonStatus } from './daemon-status.js';
import type { DiagContext } from './diag-context.js';
import { formatChecks } from './format-checks.js';
import { dataDirOf, parseOrUndefined, redactorFor } from './known-secrets.js';
import { buildInfo, releaseJson } from './release-info.js';
import { runChecks } from './run-checks.js';
import { SERVICE_UNIT } from './checks/service-check.js';
import { recentRecords, storeStatistics } from './store-statistics.js';
import { runSystemCommand, type CommandOutcome } from './system-command.js';
import { systemFacts } from './system-facts.js';
import { tarGz, type TarEntry } from './tar-writer.js';

/** Journal lines the bundle takes from `journalctl -u pleevi-edge`. */
export const JOURNAL_LINES = 2000;

export interface DiagBundle {
  /** e.g. `pleevi-edge-diag-gw-1-20261129T203000Z`: the archive's top folder and, with `.tar.gz`, its default file name. */
  readonly name: string;
  readonly gatewayId: string;
  /** The files, already redacted, in archive order. */
  readonly files: readonly TarEntry[];
  /** What could not be gathered (also in README.txt). */
  readonly notes: readonly string[];
}

/**
 * Gather the support bundle (docs/appliance.md "Diagnosis"). Every file
 * goes through the one Redactor, built from the secrets the gateway knows
 * of, as it is added: nothing reaches the archive unredacted.
 */
export async function gatherBundle(context: DiagContext): Promise<DiagBundle> {
  const now = context.now();
  const { redactor, localText, localDocument } = redactorFor(context);
  const config = context.loaded?.config;
  const configDir = dirname(resolve(context.configPath));
  const dataDir = config?.dataDir ?? dataDirOf(localDocument, configDir, context.env);
  const rawId = config?.gatewayId ?? field(localDocument, 'gatewayId');
  const gatewayId = typeof rawId === 'string' && rawId !== '' ? rawId : 'unknown';
  const name = `pleevi-edge-diag-${gatewayId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64)}-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;

  const files: TarEntry[] = [];
  const notes: string[] = [];
  const add = (path: string, content: unknown): void => {
    files.push({ name: `${name}/${path}`, content: redactor.redact(content) });
  };

  add('version.json', { name: 'pleevi-edge', version: GATEWAY_VERSION, build: buildInfo() ?? null, node: process.version });
  const release = releaseJson();
  if (release !== undefined) add('release.json', release);
  else notes.push('release.json: none (not an installed release, e.g. a checkout)');

  // The configuration: as loaded (defaults filled in, layers resolved), where each value came from, and the files themselves.
  if (context.loaded !== undefined) {
    add('config/effective-config.json', { kind: context.loaded.kind, config: context.loaded.config });
    add('config/sources.json', Object.fromEntries(context.loaded.sources));
  } else {
    add('config/problems.json', { file: context.configPath, problems: context.configError?.problems ?? [], message: context.configError?.message ?? null });
    notes.push('config/effective-config.json: none, the configuration does not load (see config/problems.json)');
  }
  if (localText !== undefined) add('config/config-file.json', localDocument ?? localText);
  else notes.push(`config/config-file.json: ${context.configPath} cannot be read`);
  const enrolledConfig = readOptional(enrolledFilesIn(dataDir).enrolledConfigPath);
  if (enrolledConfig !== undefined) add('config/enrolled-config.json', parseOrUndefined(enrolledConfig) ?? enrolledConfig);

  // The daemon's own view, read once and shared with the checks.
  const daemon = config ? await readDaemonStatus(config.admin.socket, context.timeoutMs) : undefined;
  if (daemon?.answered === true) add('status.json', daemon.status);
  else add('status.txt', `The daemon did not answer on its admin socket${config ? ` (${config.admin.socket})` : ''}: ${daemon?.answered === false ? daemon.reason : 'the configuration does not load'}\n`);

  const checks = await runChecks(context, daemon);
  add('diag/check.json', checks);
  add('diag/check.txt', formatChecks(checks));

  add('store/statistics.json', storeStatistics(dataDir));
  add('store/recent-records.json', recentRecords(dataDir));

  add(
    'certificates.json',
    configuredCertificates(context).map((entry) => ({
      sources: entry.sources,
      role: entry.role,
      certificates: certificatesIn(entry.pem).map((item) => ('certificate' in item ? certificateFacts(item.certificate) : item)),
    })),
  );
  add('identity/files.json', identityListing(dataDir));

  add('system/facts.json', systemFacts(dataDir, now));
  const tools: Array<[string, string, readonly string[], number]> = [
    ['system/timedatectl.txt', 'timedatectl', ['status'], context.timeoutMs],
    ['system/timedatectl-show.txt', 'timedatectl', ['show'], context.timeoutMs],
    ['system/systemctl-status.txt', 'systemctl', ['status', SERVICE_UNIT, '--no-pager', '--full'], context.timeoutMs],
    ['system/df.txt', 'df', ['-h'], context.timeoutMs],
    ['system/journal.txt', 'journalctl', ['-u', SERVICE_UNIT, '--no-pager', '-n', String(JOURNAL_LINES)], Math.max(context.timeoutMs, 20_000)],
  ];
  const outcomes = await Promise.all(tools.map(([, command, args, timeoutMs]) => runSystemCommand(command, args, { timeoutMs, maxBytes: 32 * 1024 * 1024, env: context.env })));
  tools.forEach(([path], index) => {
    const outcome = outcomes[index];
    if (outcome === undefined) return;
    if (outcome.kind === 'missing') notes.push(`${path}: ${outcome.command} is not installed`);
    else add(path, describeOutcome(outcome));
  });

  add('README.txt', readme(name, now, files.map((file) => file.name.slice(name.length + 1)), notes));
  return { name, gatewayId, files, notes };
}

/** The archive bytes (tar.gz) of a gathered bundle. */
export function bundleArchive(bundle: DiagBundle, now: Date): Buffer {
  return tarGz(bundle.files, now);
}

function describeOutcome(outcome: Exclude<CommandOutcome, { kind: 'missing' }>): string {
  if (outcome.kind === 'error') return `$ ${outcome.command}: ${outcome.message}\n`;
  return `${outcome.stdout}${outcome.stderr !== '' ? `\n--- stderr (exit ${outcome.code}) ---\n${outcome.stderr}` : outcome.code !== 0 ? `\n(exit ${outcome.code})\n` : ''}`;
}

/** The identity folder: file names, sizes, modes and times, never their contents; and the claim state without the code. */
function identityListing(dataDir: string): unknown {
  const dir = join(dataDir, IDENTITY_DIR);
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return { dir, present: false };
  }
  const files = names.map((file) => {
    try {
      const stats = statSync(join(dir, file));
      return { file, size: stats.size, mode: `0${(stats.mode & 0o777).toString(8)}`, uid: stats.uid, gid: stats.gid, modified: stats.mtime.toISOString() };
    } catch (error: unknown) {
      return { file, error: error instanceof Error ? error.message : String(error) };
    }
  });
  const claim = parseOrUndefined(readOptional(join(dir, CLAIM_FILE)));
  const code = field(claim, 'claimCode');
  return {
    dir,
    present: true,
    files,
    claim: claim === undefined ? null : { state: typeof code === 'string' ? 'unclaimed' : 'claimed', gatewayId: field(claim, 'gatewayId') ?? null, gatewayIdSource: field(claim, 'gatewayIdSource') ?? null, createdAt: field(claim, 'createdAt') ?? null, claimedAt: field(claim, 'claimedAt') ?? null },
  };
}

function readme(name: string, now: Date, paths: readonly string[], notes: readonly string[]): string {
  return [
    `${name}`,
    `pleevi-edge ${GATEWAY_VERSION} support bundle, made ${now.toISOString()} by "pleevi-edge diag bundle".`,
    '',
    'Every file was redacted before it was written: passwords, password hashes, keys, tokens,',
    'the claim code and private key blocks read [REDACTED], wherever they appeared.',
    '',
    'Files:',
    ...paths.map((path) => `  ${path}`),
    '  README.txt',
    ...(notes.length > 0 ? ['', 'Not included:', ...notes.map((note) => `  ${note}`)] : []),
    '',
  ].join('\n');
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
