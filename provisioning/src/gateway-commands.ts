/** The operator's and installer's gateway commands: claim, preauthorize, revoke, list, and registering factory identities. */
import { readFileSync } from 'node:fs';
import { EXIT_FAILURE, EXIT_OK, type CliCommand } from '../../agent/src/cli/cli-io.js';
import { formatTable } from '../../agent/src/cli/format-table.js';
import { terminalSafeJson } from '../../agent/src/cli/terminal-safe.js';
import { describeError } from '../../agent/src/errors.js';
import { claimGateway } from './claims.js';
import { normaliseClaimCode } from './claim-code-input.js';
import { clockFromEnv } from './clock.js';
import { COMMON_FLAGS, dataDir, parseCommand } from './cli-args.js';
import { UsageError } from './errors.js';
import { addGateway, listGateways, putPreauthorization, revokeGateway } from './gateways.js';
import { isGatewayId, isSerial } from './names.js';
import { openProvisionStore, type ProvisionDb } from './provision-store.js';
import { serviceContext } from './service-context.js';
import { getSite } from './sites.js';

const CLAIM_USAGE = `Usage: pleevi-provision claim GATEWAY CODE --site SITE [--data DIR]

Claim a gateway for a site from the command line, with the rules of
POST /v1/claims: the code is typed as printed (case, dashes and I/L/O are
forgiven), works once, and expires; wrong codes are limited per gateway.
`;
const PREAUTHORIZE_USAGE = `Usage: pleevi-provision preauthorize SERIAL --site SITE [--data DIR]

Let the gateway with this hardware serial enroll for SITE without a claim
(gateways installed in advance, in batches).
`;
const REVOKE_USAGE = `Usage: pleevi-provision revoke GATEWAY [--data DIR]

Revoke a gateway and every certificate issued to it: they go on the CRL
(GET /v1/crl), renew is refused, and the gateway cannot enroll again.
`;
const LIST_USAGE = `Usage: pleevi-provision list [--json] [--data DIR]

Every known gateway: id, serial, state (unclaimed, claimed, enrolled,
revoked), site, client certificate expiry, last contact, agent version.
`;
const ADD_USAGE = `Usage: pleevi-provision gateways add GATEWAY --serial SERIAL --claim-code CODE [--data DIR]

Register a gateway flashed at the factory with a pre-made identity, so its
label can be printed and it can be claimed before it first calls in. Its
code starts to expire at its first enroll call.
`;
const IMPORT_USAGE = `Usage: pleevi-provision gateways import FILE [--data DIR]

Register a factory batch from a CSV file with the header
gatewayId,serial,claimCode and one gateway per line; all or nothing.
`;

function withDb<T>(flag: string | undefined, io: Parameters<CliCommand>[1], use: (db: ProvisionDb) => T): T {
  const db = openProvisionStore(dataDir(flag, io));
  try {
    return use(db);
  } finally {
    db.close();
  }
}

export const claimCommand: CliCommand = async (args, io) => {
  const parsed = parseCommand('claim', CLAIM_USAGE, args, { ...COMMON_FLAGS, site: { type: 'string' } }, io, { min: 2, max: 2 });
  if (typeof parsed === 'number') return parsed;
  if (parsed.values.site === undefined) throw new UsageError('--site SITE is required');
  const [gatewayId, claimCode] = parsed.positionals;
  return withDb(parsed.values.data, io, (db) => {
    const result = claimGateway(serviceContext(db, clockFromEnv(io.env)), { gatewayId, claimCode, siteId: parsed.values.site });
    io.stdout.write(`gateway ${result.gatewayId} claimed for site ${result.siteId}\n`);
    return EXIT_OK;
  });
};

export const preauthorizeCommand: CliCommand = async (args, io) => {
  const parsed = parseCommand('preauthorize', PREAUTHORIZE_USAGE, args, { ...COMMON_FLAGS, site: { type: 'string' } }, io, { min: 1, max: 1 });
  if (typeof parsed === 'number') return parsed;
  const serial = parsed.positionals[0];
  const siteId = parsed.values.site;
  if (!isSerial(serial)) throw new UsageError('SERIAL must be 1 to 128 printable ASCII characters');
  if (siteId === undefined) throw new UsageError('--site SITE is required');
  return withDb(parsed.values.data, io, (db) => {
    if (getSite(db, siteId) === undefined) throw new UsageError(`no site ${siteId}`);
    putPreauthorization(db, serial, siteId, clockFromEnv(io.env)());
    io.stdout.write(`serial ${serial} preauthorized for site ${siteId}\n`);
    return EXIT_OK;
  });
};

export const revokeCommand: CliCommand = async (args, io) => {
  const parsed = parseCommand('revoke', REVOKE_USAGE, args, { ...COMMON_FLAGS }, io, { min: 1, max: 1 });
  if (typeof parsed === 'number') return parsed;
  const gatewayId = parsed.positionals[0] ?? '';
  return withDb(parsed.values.data, io, (db) => {
    if (!revokeGateway(db, gatewayId, clockFromEnv(io.env)())) {
      io.stderr.write(`pleevi-provision revoke: no gateway ${JSON.stringify(gatewayId)}\n`);
      return EXIT_FAILURE;
    }
    io.stdout.write(`gateway ${gatewayId} revoked\n`);
    return EXIT_OK;
  });
};

export const listCommand: CliCommand = async (args, io) => {
  const parsed = parseCommand('list', LIST_USAGE, args, { ...COMMON_FLAGS, json: { type: 'boolean' } }, io, { min: 0, max: 0 });
  if (typeof parsed === 'number') return parsed;
  return withDb(parsed.values.data, io, (db) => {
    const gateways = listGateways(db);
    io.stdout.write(
      parsed.values.json
        ? `${terminalSafeJson(gateways)}\n`
        : formatTable(
            ['GATEWAY', 'SERIAL', 'STATE', 'SITE', 'CERT EXPIRES', 'LAST SEEN'],
            gateways.map((gateway) => [gateway.gatewayId, gateway.serial ?? '', gateway.state, gateway.siteId ?? '', gateway.certificateExpiresAt ?? '', gateway.lastSeenAt ?? '']),
          ),
    );
    return EXIT_OK;
  });
};

interface FactoryGateway {
  readonly id: string;
  readonly serial: string;
  readonly claimCode: string;
}

function factoryGateway(id: unknown, serial: unknown, code: unknown, where: string): FactoryGateway {
  if (!isGatewayId(id)) throw new UsageError(`${where}: the gateway id must be 1 to 64 characters from A-Z a-z 0-9 . _ -`);
  if (!isSerial(serial)) throw new UsageError(`${where}: the serial must be 1 to 128 printable ASCII characters`);
  const claimCode = normaliseClaimCode(code);
  if (claimCode === undefined) throw new UsageError(`${where}: the claim code must be 16 Crockford base32 symbols (XXXX-XXXX-XXXX-XXXX)`);
  return { id, serial, claimCode };
}

function register(db: ProvisionDb, gateways: readonly FactoryGateway[], now: number): void {
  db.transaction(() => {
    for (const gateway of gateways) {
      if (!addGateway(db, { id: gateway.id, serial: gateway.serial, claimCode: gateway.claimCode, codeExpiresAt: null, now })) {
        throw new UsageError(`gateway ${gateway.id} is already registered`);
      }
    }
  })();
}

export const gatewaysAddCommand: CliCommand = async (args, io) => {
  const parsed = parseCommand('gateways add', ADD_USAGE, args, { ...COMMON_FLAGS, serial: { type: 'string' }, 'claim-code': { type: 'string' } }, io, { min: 1, max: 1 });
  if (typeof parsed === 'number') return parsed;
  const gateway = factoryGateway(parsed.positionals[0], parsed.values.serial, parsed.values['claim-code'], 'gateways add');
  return withDb(parsed.values.data, io, (db) => {
    register(db, [gateway], clockFromEnv(io.env)());
    io.stdout.write(`gateway ${gateway.id} registered\n`);
    return EXIT_OK;
  });
};

export const gatewaysImportCommand: CliCommand = async (args, io) => {
  const parsed = parseCommand('gateways import', IMPORT_USAGE, args, { ...COMMON_FLAGS }, io, { min: 1, max: 1 });
  if (typeof parsed === 'number') return parsed;
  const file = parsed.positionals[0] ?? '';
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error: unknown) {
    throw new UsageError(`cannot read ${file}: ${describeError(error)}`);
  }
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  if (lines[0]?.replace(/\s/g, '') !== 'gatewayId,serial,claimCode') throw new UsageError(`${file}: the first line must be gatewayId,serial,claimCode`);
  const gateways = lines.slice(1).map((line, index) => {
    const cells = line.split(',').map((cell) => cell.trim());
    if (cells.length !== 3) throw new UsageError(`${file} line ${index + 2}: three columns expected`);
    return factoryGateway(cells[0], cells[1], cells[2], `${file} line ${index + 2}`);
  });
  return withDb(parsed.values.data, io, (db) => {
    register(db, gateways, clockFromEnv(io.env)());
    io.stdout.write(`${gateways.length} gateways registered\n`);
    return EXIT_OK;
  });
};
