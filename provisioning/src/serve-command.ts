import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import forge from 'node-forge';
import { EXIT_OK, type CliCommand } from '../../agent/src/cli/cli-io.js';
import { describeError } from '../../agent/src/errors.js';
import { createLogger } from '../../agent/src/util/logger.js';
import { loadCa, type CertificateAuthority } from './certificate-authority.js';
import { clockFromEnv, type Clock } from './clock.js';
import { COMMON_FLAGS, dataDir, parseCommand, positiveInteger } from './cli-args.js';
import { UsageError } from './errors.js';
import { createProvisionServer, type ServerTls } from './http-server.js';
import { issueServerCertificate } from './issue-certificate.js';
import { openProvisionStore } from './provision-store.js';
import { DEFAULT_SETTINGS, serviceContext, type ServiceSettings } from './service-context.js';

const USAGE = `Usage: pleevi-provision serve --port N [--host H] [--tls-cert FILE --tls-key FILE] [--san NAME]...
                              [--cert-days N | --cert-lifetime-s N] [--claim-ttl-days N | --claim-ttl-s N]
                              [--retry-after-s N] [--data DIR]

Serve the enrollment API and the claim page over HTTPS. The first line on
stdout is "listening on https://HOST:PORT" (--port 0: a free port, printed);
then one JSON log line per request. Without --tls-cert/--tls-key the
service's own certificate is issued by its CA at start for localhost,
127.0.0.1, ::1, the --host and every --san. Client certificates are asked
for, never required (only /v1/renew uses them).
  --cert-days N         lifetime of gateway certificates (default 90)
  --cert-lifetime-s N   the same in seconds (for tests)
  --claim-ttl-days N    a claim code expires N days after the gateway's first enroll call (default 7)
  --claim-ttl-s N       the same in seconds
  --retry-after-s N     what 202 tells an unclaimed gateway to wait (default 30)
Stops on SIGINT or SIGTERM.
`;

export const serveCommand: CliCommand = async (args, io) => {
  const parsed = parseCommand(
    'serve',
    USAGE,
    args,
    {
      ...COMMON_FLAGS,
      port: { type: 'string' },
      host: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      san: { type: 'string', multiple: true },
      'cert-days': { type: 'string' },
      'cert-lifetime-s': { type: 'string' },
      'claim-ttl-days': { type: 'string' },
      'claim-ttl-s': { type: 'string' },
      'retry-after-s': { type: 'string' },
    },
    io,
    { min: 0, max: 0 },
  );
  if (typeof parsed === 'number') return parsed;
  const flags = parsed.values;
  if (flags.port === undefined || !/^[0-9]{1,5}$/.test(flags.port) || Number(flags.port) > 65_535) throw new UsageError('--port N (0 to 65535) is required');
  if ((flags['tls-cert'] === undefined) !== (flags['tls-key'] === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  if (flags['cert-days'] !== undefined && flags['cert-lifetime-s'] !== undefined) throw new UsageError('--cert-days or --cert-lifetime-s, not both');
  if (flags['claim-ttl-days'] !== undefined && flags['claim-ttl-s'] !== undefined) throw new UsageError('--claim-ttl-days or --claim-ttl-s, not both');
  const certDays = positiveInteger('cert-days', flags['cert-days']);
  const claimDays = positiveInteger('claim-ttl-days', flags['claim-ttl-days']);
  const settings: ServiceSettings = {
    certLifetimeS: positiveInteger('cert-lifetime-s', flags['cert-lifetime-s']) ?? (certDays !== undefined ? certDays * 86_400 : DEFAULT_SETTINGS.certLifetimeS),
    claimTtlS: positiveInteger('claim-ttl-s', flags['claim-ttl-s']) ?? (claimDays !== undefined ? claimDays * 86_400 : DEFAULT_SETTINGS.claimTtlS),
    retryAfterS: positiveInteger('retry-after-s', flags['retry-after-s']) ?? DEFAULT_SETTINGS.retryAfterS,
  };
  const host = flags.host ?? '127.0.0.1';
  const clock = clockFromEnv(io.env);
  const dir = dataDir(flags.data, io);
  const ca = loadCa(dir);
  const tls =
    flags['tls-cert'] !== undefined && flags['tls-key'] !== undefined
      ? { cert: readTlsFile(flags['tls-cert']), key: readTlsFile(flags['tls-key']) }
      : selfIssued(ca, [host, ...(flags.san ?? [])], clock);
  const db = openProvisionStore(dir);
  const logger = createLogger('info').child({ component: 'pleevi-provision' });
  const server = createProvisionServer(serviceContext(db, clock, settings, ca), tls, logger);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(flags.port), host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  io.stdout.write(`listening on https://${shown}:${address.port}\n`);

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      server.close(() => resolve());
      server.closeAllConnections();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  db.close();
  return EXIT_OK;
};

/** The service's own certificate, issued by its CA at every start (its key lives only in memory). */
function selfIssued(ca: CertificateAuthority, extraNames: readonly string[], clock: Clock): ServerTls {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const names = [...new Set(['localhost', '127.0.0.1', '::1', ...extraNames.filter((name) => name !== '0.0.0.0' && name !== '::')])];
  const issued = issueServerCertificate(ca, { gatewayId: 'pleevi-provision', publicKey: forge.pki.rsa.setPublicKey(key.n, key.e), lifetimeS: 365 * 86_400, now: clock(), names });
  return { key: keyPem, cert: `${issued.pem}${ca.certPem}` };
}

function readTlsFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error: unknown) {
    throw new UsageError(`cannot read ${path}: ${describeError(error)}`);
  }
}
