import { EXIT_OK, type CliCommand } from '../../agent/src/cli/cli-io.js';
import { caExists, createCa, importCa } from './certificate-authority.js';
import { clockFromEnv } from './clock.js';
import { COMMON_FLAGS, dataDir, parseCommand } from './cli-args.js';
import { ProvisionError, UsageError } from './errors.js';
import { openProvisionStore } from './provision-store.js';

const USAGE = `Usage: pleevi-provision ca init [--cn NAME] [--data DIR]
       pleevi-provision ca init --import-cert FILE --import-key FILE [--data DIR]

Make the service's CA in the data folder (ca.key mode 0600, ca.crt), RSA
3072, valid 10 years, or import an existing CA certificate and its
unencrypted RSA key. Refuses when the folder already has a CA: the gateways
trust it, so it is never replaced. Also creates provision.db.
`;

export const caInitCommand: CliCommand = async (args, io) => {
  const parsed = parseCommand('ca init', USAGE, args, { ...COMMON_FLAGS, cn: { type: 'string' }, 'import-cert': { type: 'string' }, 'import-key': { type: 'string' } }, io, { min: 0, max: 0 });
  if (typeof parsed === 'number') return parsed;
  const flags = parsed.values;
  const dir = dataDir(flags.data, io);
  if ((flags['import-cert'] === undefined) !== (flags['import-key'] === undefined)) throw new UsageError('--import-cert and --import-key go together');
  if (flags['import-cert'] !== undefined && flags.cn !== undefined) throw new UsageError('--cn is for a new CA; an imported CA keeps its name');
  if (caExists(dir)) throw new ProvisionError(`a CA already exists in ${dir}; it is never replaced`);
  const ca =
    flags['import-cert'] !== undefined && flags['import-key'] !== undefined
      ? importCa(dir, flags['import-cert'], flags['import-key'])
      : createCa(dir, flags.cn ?? 'pleevi-edge provisioning CA', clockFromEnv(io.env)());
  openProvisionStore(dir).close();
  const name = ca.cert.subject.getField('CN') as { value?: string } | null;
  io.stdout.write(`CA ${flags['import-cert'] !== undefined ? 'imported' : 'created'}: ${name?.value ?? '(no CN)'}, valid until ${ca.cert.validity.notAfter.toISOString()}\n  ${dir}/ca.crt\n`);
  return EXIT_OK;
};
