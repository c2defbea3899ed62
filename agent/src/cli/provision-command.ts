import type { GatewayConfig, WireguardConfig } from '../config/gateway-config.js';
import { describeFsError } from '../config/config-tls-files.js';
import { ensureWireguardKey, publicKeyOfFile } from '../vpn/wireguard-key.js';
import { writeFileSync } from 'node:fs';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliCommand } from './cli-io.js';
import { loadCliConfig } from './load-cli-config.js';
import { parseCommandFlags } from './parse-command-flags.js';
import { terminalSafe, terminalSafeJson } from './terminal-safe.js';
import { describeError } from '../errors.js';
import { claimQrAsSvg, claimQrForTerminal } from '../provisioning/claim-qr.js';
import { claimUrl } from '../provisioning/claim-url.js';
import { loadOrCreateIdentity } from '../provisioning/device-identity.js';
import { loadEnrolledIdentity } from '../provisioning/enrolled-identity.js';
import { GATEWAY_ID_SOURCE_LABELS } from '../provisioning/gateway-id.js';

const PROVISION_STATUS_USAGE = `Usage: pleevi-edge provision status [--json] [--config FILE]

The gateway's identity and its claim state. On the first run it makes the
identity in <dataDir>/identity/: the private key (mode 0600, never shown),
the certificate signing request and the one-time claim code. Later runs
show the same key and code. While the gateway is unclaimed it prints the
claim code and the claim link of the QR code (provisioning.claimBaseUrl).
Run it as the service user (sudo -u pleevi-edge ...): run as root, the files
take the owner of dataDir.
`;

const PROVISION_QR_USAGE = `Usage: pleevi-edge provision qr [--svg FILE] [--config FILE]

The claim QR code of an unclaimed gateway, for the installer to scan: drawn
in the terminal, with the gateway id, the claim code to type instead and the
link it holds (<provisioning.claimBaseUrl>/claim?gw=<id>&code=<code>).
--svg FILE also writes it as an SVG image (mode 0600: it holds the claim
code) for a label or a page. Needs provisioning.claimBaseUrl. Makes the
identity first if there is none yet, like "provision status".
`;

const PROVISION_USAGE = `Usage: pleevi-edge provision status [--json] [--config FILE]
       pleevi-edge provision qr [--svg FILE] [--config FILE]
       pleevi-edge provision enroll [--timeout S] [--config FILE]
       pleevi-edge provision reset --yes [--config FILE]

See "pleevi-edge provision <subcommand> --help" and docs/provisioning.md.
`;

/** `pleevi-edge provision status`: makes the identity if missing, then shows it (docs/provisioning.md). */
export const provisionStatusCommand: CliCommand = async (args, io) => {
  const flags = parseCommandFlags('provision status', PROVISION_STATUS_USAGE, args, { json: { type: 'boolean' }, config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } }, io);
  if (typeof flags === 'number') return flags;
  const config = loadCliConfig(flags.config, io);
  if (!config) return EXIT_USAGE;

  const identity = loadOrCreateIdentity(config.dataDir, { gatewayId: config.gatewayId, source: config.gatewayIdSource ?? 'config' });
  // The code is shown only while unclaimed; once enrolled it is used up and gone from claim.json.
  const claimState = identity.claimCode === undefined ? 'claimed' : 'unclaimed';
  const link = identity.claimCode === undefined ? undefined : claimUrl(config.provisioning?.claimBaseUrl, identity.gatewayId, identity.claimCode);
  const keyMode = identity.keyMode.toString(8).padStart(4, '0');
  if (identity.keyMode !== 0o600) {
    io.stderr.write(terminalSafe(`pleevi-edge provision status: warning: ${identity.keyPath} has mode ${keyMode}, not 0600; fix: chmod 600 ${identity.keyPath}`) + '\n');
  }
  const wireguard = wireguardKeyLine((config as Partial<GatewayConfig>).vpn?.wireguard);
  if (flags.json) {
    io.stdout.write(
      `${terminalSafeJson({
        ...(wireguard ? { wireguardPublicKey: wireguard.publicKey ?? null, wireguardKeyFile: wireguard.file } : {}),
        gatewayId: identity.gatewayId,
        gatewayIdSource: identity.gatewayIdSource,
        keyFile: identity.keyPath,
        keyMode,
        csrFile: identity.csrPath,
        claimState,
        claimCode: identity.claimCode ?? null,
        certificate: enrolledJson(config.dataDir),
        claimUrl: link ?? null,
        createdAt: identity.createdAt,
        created: identity.created,
      })}\n`,
    );
    return EXIT_OK;
  }
  io.stdout.write(
    [
      `gateway id   ${identity.gatewayId}`,
      `id from      ${GATEWAY_ID_SOURCE_LABELS[identity.gatewayIdSource]}`,
      `private key  ${identity.keyPath} (mode ${keyMode})`,
      `csr          ${identity.csrPath}`,
      ...(wireguard ? [`wireguard    ${wireguard.publicKey !== undefined ? `public key ${wireguard.publicKey} (register it at the VPN server)` : wireguard.problem}`] : []),
      `identity     ${identity.created ? 'made now' : 'made'} ${identity.createdAt}`,
      ...(identity.claimCode === undefined
        ? [`claim state  claimed ${identity.claimedAt ?? ''}`, ...describeEnrolled(config.dataDir)]
        : [
            `claim state  ${claimState}: ${config.provisioning?.url !== undefined ? `the daemon enrolls with ${config.provisioning.url} once the gateway is claimed` : 'no provisioning.url configured, so the gateway does not enroll'}`,
            `claim code   ${identity.claimCode}`,
            `claim link   ${link ?? 'none: set provisioning.claimBaseUrl in the configuration for the QR code link'}`,
          ]),
      '',
    ]
      .map(terminalSafe)
      .join('\n'),
  );
  return EXIT_OK;
};

/**
 * The gateway's WireGuard public key (vpn.wireguard): its own key is made
 * here on the first run like the rest of the identity; a configured key file
 * is only read, when this user may.
 */
function wireguardKeyLine(wireguard: WireguardConfig | undefined): { file: string; publicKey?: string; problem?: string } | undefined {
  if (!wireguard) return undefined;
  try {
    const publicKey = wireguard.generatedKey ? ensureWireguardKey(wireguard.privateKeyFile).publicKey : publicKeyOfFile(wireguard.privateKeyFile);
    return { file: wireguard.privateKeyFile, publicKey };
  } catch (error: unknown) {
    return { file: wireguard.privateKeyFile, problem: `key ${wireguard.privateKeyFile} cannot be read here: ${describeFsError(error)} (see "pleevi-edge vpn status")` };
  }
}

/** `pleevi-edge provision qr`: the claim QR code in the terminal, and as SVG with --svg (docs/provisioning.md). */
export const provisionQrCommand: CliCommand = async (args, io) => {
  const flags = parseCommandFlags('provision qr', PROVISION_QR_USAGE, args, { svg: { type: 'string' }, config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } }, io);
  if (typeof flags === 'number') return flags;
  const config = loadCliConfig(flags.config, io);
  if (!config) return EXIT_USAGE;
  const identity = loadOrCreateIdentity(config.dataDir, { gatewayId: config.gatewayId, source: config.gatewayIdSource ?? 'config' });
  if (identity.claimCode === undefined) {
    io.stderr.write(terminalSafe(`pleevi-edge provision qr: ${identity.gatewayId} is already claimed (enrolled ${identity.claimedAt ?? ''}); its claim code is used up`) + '\n');
    return EXIT_USAGE;
  }
  const link = claimUrl(config.provisioning?.claimBaseUrl, identity.gatewayId, identity.claimCode);
  if (link === undefined) {
    io.stderr.write('pleevi-edge provision qr: no provisioning.claimBaseUrl in the configuration: the QR code has no link to hold (the claim code alone can be typed: see "provision status")\n');
    return EXIT_USAGE;
  }
  if (typeof flags.svg === 'string') {
    try {
      // The SVG holds the claim code, a secret until the gateway is claimed.
      writeFileSync(flags.svg, await claimQrAsSvg(link), { mode: 0o600 });
    } catch (error: unknown) {
      io.stderr.write(terminalSafe(`pleevi-edge provision qr: cannot write ${flags.svg}: ${describeError(error)}`) + '\n');
      return EXIT_FAILURE;
    }
  }
  io.stdout.write(await claimQrForTerminal(link));
  io.stdout.write(
    [
      '',
      `gateway id   ${identity.gatewayId}`,
      `claim code   ${identity.claimCode}`,
      `claim link   ${link}`,
      ...(typeof flags.svg === 'string' ? [`svg          ${flags.svg}`] : []),
      '',
    ]
      .map(terminalSafe)
      .join('\n'),
  );
  return EXIT_OK;
};

/** The enrolled certificate, for `provision status`: never the key, never the configuration's secrets. */
function enrolledJson(dataDir: string): { serialNumber: string; notBefore: string; notAfter: string; serviceUrl: string; serverCertificate: boolean } | null {
  const enrolled = loadEnrolledIdentity(dataDir);
  if (!enrolled) return null;
  return {
    serialNumber: enrolled.serialNumber,
    notBefore: enrolled.notBefore.toISOString(),
    notAfter: enrolled.notAfter.toISOString(),
    serviceUrl: enrolled.serviceUrl,
    serverCertificate: enrolled.serverCertificatePem !== undefined,
  };
}

function describeEnrolled(dataDir: string): string[] {
  const enrolled = enrolledJson(dataDir);
  if (!enrolled) return [];
  return [
    `certificate  ${enrolled.serialNumber}, valid ${enrolled.notBefore} to ${enrolled.notAfter}${enrolled.serverCertificate ? ', with a LAN server certificate' : ''}`,
    `service      ${enrolled.serviceUrl}`,
    'renewal      see "pleevi-edge status" (the daemon renews at two thirds of the lifetime)',
  ];
}

/** `pleevi-edge provision <anything else>`: a usage error. */
export const provisionCommand: CliCommand = async (args, io) => {
  if (args[0] === '--help' || args[0] === '-h') {
    io.stdout.write(PROVISION_USAGE);
    return EXIT_OK;
  }
  const what = args[0] === undefined ? 'a subcommand is required' : `unknown subcommand "provision ${args[0]}"`;
  io.stderr.write(`pleevi-edge provision: ${terminalSafe(what)}\n\n${PROVISION_USAGE}`);
  return EXIT_USAGE;
};
