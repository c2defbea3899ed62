import { parseArgs } from 'node:util';
import type { DeviceConfig, GatewayConfig } from '../config/gateway-config.js';
import type { ValueSource, ValueSources } from '../config/config-layers.js';
import { enrolledFilesIn, loadLayeredConfig, type LoadedConfig } from '../config/layered-config.js';
import { configFileExposure, type ConfigFileExposure } from '../config/config-file-exposure.js';
import { resolveConfigPath } from '../config/load-config.js';
import { ConfigError } from '../errors.js';
import { EXIT_OK, EXIT_USAGE, type CliCommand } from './cli-io.js';
import { printConfigProblems } from './print-config-problems.js';

const CONFIG_CHECK_USAGE = `Usage: pleevi-edge config check [--config FILE]

Validate the configuration file, layered over the configuration the gateway
received at enrollment (if any), read the TLS files they name, and print
every problem with its JSON path. Once enrollment brought values, it also
says where each value comes from (the file, the enrolled configuration, the
gateway's enrolled certificate). Exit code 0 when valid, 2 when not.
`;

/** `pleevi-edge config check`: what an installer runs before (re)starting the daemon. */
export const configCheckCommand: CliCommand = async (args, io) => {
  let flags;
  try {
    flags = parseArgs({
      args: [...args],
      options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error: unknown) {
    io.stderr.write(`pleevi-edge config check: ${error instanceof Error ? error.message : String(error)}\n\n${CONFIG_CHECK_USAGE}`);
    return EXIT_USAGE;
  }
  if (flags.help) {
    io.stdout.write(CONFIG_CHECK_USAGE);
    return EXIT_OK;
  }
  const configPath = resolveConfigPath(flags.config, io.env);
  let loaded: LoadedConfig;
  try {
    loaded = loadLayeredConfig(configPath, io.env);
  } catch (error: unknown) {
    if (error instanceof ConfigError) {
      printConfigProblems(io, configPath, error);
      return EXIT_USAGE;
    }
    throw error;
  }
  const config = loaded.config;
  if (loaded.kind === 'awaiting-enrollment') {
    io.stdout.write(`config OK: ${configPath}\n${summarizeDevice(config)}`);
  } else {
    io.stdout.write(`config OK: ${configPath}\n${summarize(loaded.config)}`);
  }
  io.stdout.write(describeSources(loaded.sources, enrolledFilesIn(config.dataDir).enrolledConfigPath));
  const exposure = configFileExposure(config);
  if (exposure) io.stderr.write(exposureWarning(exposure));
  return EXIT_OK;
};

/**
 * Loud, on stderr, but not a failure: the config is valid and the gateway
 * runs; the passwords in it are readable by people who should not read them.
 */
function exposureWarning(exposure: ConfigFileExposure): string {
  return [
    `WARNING: ${exposure.file} holds secrets and is readable by ${exposure.readableBy} (mode ${exposure.mode}):`,
    ...exposure.secrets.map((path) => `  ${path}`),
    `  fix: ${exposure.fix}`,
    '',
  ].join('\n');
}

/** An unclaimed gateway: what it has, and that the rest comes with enrollment. */
function summarizeDevice(config: DeviceConfig): string {
  const rows: Array<[string, string]> = [
    ['gatewayId', config.gatewayId],
    ['listen', `port ${config.listen.port}: the claim page until enrollment, then ws://${config.listen.host}:${config.listen.port}${config.listen.path}/<stationId>`],
    ['upstream', `none yet: the gateway is waiting to be claimed and enrolled at ${config.provisioning?.url ?? '-'}`],
    ['dataDir', config.dataDir],
  ];
  return rows.map(([name, value]) => `  ${`${name}:`.padEnd(11)}${value}\n`).join('');
}

/**
 * Where each value comes from (docs/provisioning.md "The enrolled
 * configuration"): only printed once enrollment brought values, so that a
 * hand-configured gateway's output stays as it was.
 */
function describeSources(sources: ValueSources, enrolledPath: string): string {
  const entries = [...sources.entries()];
  if (!entries.some(([, source]) => source !== 'file')) return '';
  const label: Record<ValueSource, string> = { file: 'this file', enrolled: `enrolled (${enrolledPath})`, identity: "the gateway's enrolled certificate" };
  const lines = entries.sort(([a], [b]) => a.localeCompare(b)).map(([path, source]) => `  ${path.padEnd(40)} ${label[source]}`);
  return `where values come from (the rest: built-in defaults):\n${lines.join('\n')}\n`;
}

/** The values an installer most often gets wrong, to eyeball; never a secret. */
function summarize(config: GatewayConfig): string {
  const { listen, stations } = config;
  const plain = `ws://${listen.host}:${listen.port}${listen.path}/<stationId>`;
  const secure = listen.tls ? `, wss://${listen.host}:${listen.tls.port}${listen.path}/<stationId>` : '';
  const unknown = stations.allowUnknown ? 'unknown stations allowed' : 'only listed stations allowed';
  const rows: Array<[string, string]> = [
    ['gatewayId', config.gatewayId],
    ['listen', plain + secure],
    ['upstream', `${config.upstream.url}/<stationId>`],
    ['stations', `${stations.list.length} listed, ${unknown}`],
    ['mqtt', config.mqtt ? `${config.mqtt.url} (topics ${config.mqtt.topicPrefix}/...)` : 'off (no cloud link)'],
    ...(config.vpn
      ? [['vpn', `WireGuard ${config.vpn.wireguard.interface} ${config.vpn.wireguard.address} to ${config.vpn.wireguard.peer.endpoint} (${config.vpn.wireguard.peer.allowedIps.join(', ')}; built by "pleevi-edge vpn run")`] as [string, string]]
      : []),
    ['dataDir', config.dataDir],
  ];
  return rows.map(([name, value]) => `  ${`${name}:`.padEnd(11)}${value}\n`).join('');
}
