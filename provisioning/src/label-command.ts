import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_OK, type CliCommand } from '../../agent/src/cli/cli-io.js';
import { writeFileAtomic } from '../../agent/src/provisioning/atomic-write.js';
import { COMMON_FLAGS, dataDir, parseCommand } from './cli-args.js';
import { UsageError } from './errors.js';
import { getGateway, type GatewayRow } from './gateways.js';
import { claimLabelSvg } from './label-svg.js';
import { openProvisionStore } from './provision-store.js';

export const BASE_URL_ENV = 'PLEEVI_PROVISION_BASE_URL';

const USAGE = `Usage: pleevi-provision label --out DIR --base-url URL (GATEWAY... | --all) [--data DIR]

Write a claim label, DIR/<gateway>.svg (mode 0600: it holds the claim code),
for each gateway named, or with --all for every registered gateway that is
neither claimed, enrolled nor revoked: the claim QR code (the link
URL/claim?gw=<id>&code=<code>, URL being this service's public address,
default $${BASE_URL_ENV}), the gateway id and the code to type.
Register factory-made identities first with "gateways add" or "gateways import".
`;

export const labelCommand: CliCommand = async (args, io) => {
  const parsed = parseCommand('label', USAGE, args, { ...COMMON_FLAGS, out: { type: 'string' }, 'base-url': { type: 'string' }, all: { type: 'boolean' } }, io, { min: 0, max: 10_000 });
  if (typeof parsed === 'number') return parsed;
  const { out, all } = parsed.values;
  const baseUrl = parsed.values['base-url'] ?? io.env[BASE_URL_ENV];
  if (out === undefined) throw new UsageError('--out DIR is required');
  if (baseUrl === undefined || !/^https?:\/\/[^\s]+$/.test(baseUrl)) throw new UsageError(`--base-url URL (or $${BASE_URL_ENV}) must be the service's http(s) address`);
  if ((all === true) === parsed.positionals.length > 0) throw new UsageError('name gateways or give --all, not both or neither');
  const db = openProvisionStore(dataDir(parsed.values.data, io));
  let gateways: GatewayRow[];
  try {
    gateways =
      all === true
        ? (db.prepare('SELECT * FROM gateways WHERE claimed_at IS NULL AND enrolled_at IS NULL AND revoked_at IS NULL ORDER BY id').all() as GatewayRow[])
        : parsed.positionals.map((id) => {
            const gateway = getGateway(db, id);
            if (gateway === undefined) throw new UsageError(`no gateway ${JSON.stringify(id)}`);
            if (gateway.claimed_at !== null || gateway.enrolled_at !== null || gateway.revoked_at !== null) throw new UsageError(`gateway ${id} is already claimed or revoked; its code is no use on a label`);
            return gateway;
          });
  } finally {
    db.close();
  }
  mkdirSync(out, { recursive: true, mode: 0o700 });
  for (const gateway of gateways) {
    writeFileAtomic(join(out, `${gateway.id}.svg`), await claimLabelSvg(baseUrl, gateway.id, gateway.claim_code), 0o600);
  }
  io.stdout.write(`${gateways.length} label${gateways.length === 1 ? '' : 's'} written to ${out}\n`);
  return EXIT_OK;
};
