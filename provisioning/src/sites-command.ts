import { readFileSync } from 'node:fs';
import { EXIT_OK, type CliCommand } from '../../agent/src/cli/cli-io.js';
import { formatTable } from '../../agent/src/cli/format-table.js';
import { terminalSafeJson } from '../../agent/src/cli/terminal-safe.js';
import { describeError } from '../../agent/src/errors.js';
import { clockFromEnv } from './clock.js';
import { COMMON_FLAGS, dataDir, parseCommand } from './cli-args.js';
import { UsageError } from './errors.js';
import { isSiteId } from './names.js';
import { openProvisionStore } from './provision-store.js';
import { getSite, listSites, putSite } from './sites.js';

const ADD_USAGE = `Usage: pleevi-provision sites add SITE --config FILE [--server-certificate] [--replace] [--data DIR]

Add a site and the gateway configuration its gateways receive when they
enroll: FILE is a JSON object of the configuration file's shape
(docs/configuration.md). --server-certificate: its gateways also get a
server certificate for their LAN wss:// listener. --replace: change an
existing site (gateways already enrolled keep what they received).
`;
const LIST_USAGE = `Usage: pleevi-provision sites list [--json] [--data DIR]
`;

export const sitesAddCommand: CliCommand = async (args, io) => {
  const parsed = parseCommand('sites add', ADD_USAGE, args, { ...COMMON_FLAGS, config: { type: 'string' }, 'server-certificate': { type: 'boolean' }, replace: { type: 'boolean' } }, io, { min: 1, max: 1 });
  if (typeof parsed === 'number') return parsed;
  const id = parsed.positionals[0];
  if (!isSiteId(id)) throw new UsageError('SITE must be 1 to 64 characters from A-Z a-z 0-9 . _ -');
  if (parsed.values.config === undefined) throw new UsageError('--config FILE is required');
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(parsed.values.config, 'utf8'));
  } catch (error: unknown) {
    throw new UsageError(`cannot read ${parsed.values.config} as JSON: ${describeError(error)}`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new UsageError(`${parsed.values.config} must hold a JSON object`);
  const db = openProvisionStore(dataDir(parsed.values.data, io));
  try {
    const existing = getSite(db, id);
    if (existing !== undefined && parsed.values.replace !== true) throw new UsageError(`site ${id} exists; --replace to change it`);
    putSite(db, { id, config: config as Record<string, unknown>, serverCertificate: parsed.values['server-certificate'] === true, createdAt: existing?.createdAt ?? clockFromEnv(io.env)() });
    io.stdout.write(`site ${id} ${existing ? 'replaced' : 'added'}\n`);
  } finally {
    db.close();
  }
  return EXIT_OK;
};

export const sitesListCommand: CliCommand = async (args, io) => {
  const parsed = parseCommand('sites list', LIST_USAGE, args, { ...COMMON_FLAGS, json: { type: 'boolean' } }, io, { min: 0, max: 0 });
  if (typeof parsed === 'number') return parsed;
  const db = openProvisionStore(dataDir(parsed.values.data, io));
  try {
    const sites = listSites(db);
    io.stdout.write(
      parsed.values.json
        ? `${terminalSafeJson(sites.map((site) => ({ ...site, createdAt: new Date(site.createdAt).toISOString() })))}\n`
        : formatTable(['SITE', 'SERVER CERT', 'CONFIG KEYS'], sites.map((site) => [site.id, site.serverCertificate ? 'yes' : 'no', Object.keys(site.config).join(',')])),
    );
  } finally {
    db.close();
  }
  return EXIT_OK;
};
