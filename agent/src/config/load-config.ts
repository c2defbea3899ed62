/**
 * Config file -> GatewayConfig: read, parse, validate (schema, then the rules
 * that span several values, then the TLS files), and only when nothing at all
 * is wrong fill in the defaults. Every problem is collected before throwing so
 * an installer fixes the file in one round (docs/configuration.md).
 *
 * Secrets: no message built here contains a configured value other than file
 * paths and station ids; ajv's own messages never quote the data.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { ValidateFunction } from 'ajv';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { resolveGatewayId } from '../provisioning/gateway-id.js';
import type { SerialSourcePaths } from '../provisioning/hardware-serial.js';
import { adminSocketProblems } from './config-admin-socket.js';
import { parseJson } from './config-json.js';
import { resolveAdminSocket, resolveDataDir } from './config-paths.js';
import { secretPathsIn } from './config-secrets.js';
import { dedupe, inDocumentOrder, schemaProblem } from './config-problems.js';
import { crossFieldProblems } from './config-rules.js';
import { describeFsError, readTlsFiles } from './config-tls-files.js';
import { configValidator } from './config-validators.js';
import { CONFIG_DEFAULTS, type ConfigFile, type TlsFilesFile, type WireguardFile } from './config-schema.js';
import type { DeviceConfig, GatewayConfig, StationConfig, TlsFiles, WireguardConfig } from './gateway-config.js';
import { wireguardKeyProblems, WIREGUARD_KEY_FILE, VPN_STATUS_FILE } from './config-wireguard.js';

export const DEFAULT_CONFIG_PATH = '/etc/pleevi-edge/config.json';

export interface ParseConfigOptions {
  /** Folder that relative paths in the config are resolved against (the config file's folder). */
  readonly baseDir: string;
  readonly env: NodeJS.ProcessEnv;
  /** Where the config came from, for messages and `GatewayConfig.source`. */
  readonly source?: string;
  /** Where the hardware serial is read when the file sets no gatewayId (tests point it at a temp folder). */
  readonly serialSources?: SerialSourcePaths;
  /**
   * The document whose passwords and keys count as written in the config
   * file (`secretsInFile`), when `value` is a merge of several sources
   * (docs/provisioning.md "The enrolled configuration"); default `value`.
   */
  readonly fileDocument?: unknown;
}

/** `--config FILE`, else `$PLEEVI_EDGE_CONFIG`, else the packaged default; absolute. */
export function resolveConfigPath(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const chosen = nonEmpty(flag) ?? nonEmpty(env['PLEEVI_EDGE_CONFIG']) ?? DEFAULT_CONFIG_PATH;
  return resolve(chosen);
}

/** The config file at `path` as parsed JSON, with its absolute path. Throws ConfigError when it cannot be read or parsed. */
export function readConfigFile(path: string): { readonly file: string; readonly document: unknown } {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error: unknown) {
    const reason = describeFsError(error);
    throw new ConfigError(`cannot read the file: ${reason}`, [{ path: '$', message: `cannot read ${file}: ${reason}` }], {
      cause: error,
    });
  }
  return { file, document: parseJson(text) };
}

/** Read and validate the config file at `path`. Throws ConfigError listing every problem. */
export function loadConfig(path: string, env: NodeJS.ProcessEnv): GatewayConfig {
  const { file, document } = readConfigFile(path);
  return parseConfig(document, { baseDir: dirname(file), env, source: file });
}

/** Validate an in-memory config (same shape as the file) and resolve it. */
export function parseConfig(value: unknown, options: ParseConfigOptions): GatewayConfig {
  const { file, pem } = validate(value, configValidator('claimed'), options);
  if (file.upstream === undefined) {
    // The schema requires upstream; this only narrows the type.
    throw new ConfigError('1 problem', [{ path: '$.upstream', message: 'is required' }]);
  }
  return resolveConfig(file, file.upstream, pem, options);
}

/**
 * Validate a config that may lack `upstream` (an unclaimed gateway waiting
 * for its enrolled configuration) and resolve only what the device needs.
 */
export function parseDeviceConfig(value: unknown, options: ParseConfigOptions): DeviceConfig {
  const { file, pem } = validate(value, configValidator('device'), options);
  return resolveDevice(file, pem, options);
}

function validate(value: unknown, check: ValidateFunction<ConfigFile>, options: ParseConfigOptions): { file: ConfigFile; pem: Map<string, string> } {
  const valid = check(value);
  const problems: ConfigProblem[] = valid ? [] : (check.errors ?? []).map(schemaProblem);
  problems.push(...crossFieldProblems(value));
  problems.push(...adminSocketProblems(value, options.baseDir, options.env));
  const pem = readTlsFiles(value, options.baseDir, problems);
  problems.push(...wireguardKeyProblems(value, options.baseDir));
  if (!valid || problems.length > 0) {
    const sorted = inDocumentOrder(dedupe(problems), value);
    // The source is not repeated here: callers print it next to the message (printConfigProblems).
    throw new ConfigError(sorted.length === 1 ? '1 problem' : `${sorted.length} problems`, sorted);
  }
  return { file: value, pem };
}

// Defaults

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function tlsFilesAt(pem: ReadonlyMap<string, string>, path: string, block: TlsFilesFile | undefined): TlsFiles {
  if (!block) return {};
  const files: { ca?: string; cert?: string; key?: string } = {};
  for (const kind of ['ca', 'cert', 'key'] as const) {
    const text = pem.get(`${path}.${kind}`);
    if (text !== undefined) files[kind] = text;
  }
  return files;
}

function requirePem(pem: ReadonlyMap<string, string>, path: string): string {
  const text = pem.get(path);
  // readTlsFiles reported a problem for every file it could not load, so this cannot happen.
  if (text === undefined) throw new ConfigError(`internal: ${path} was not loaded`, [{ path, message: 'was not loaded' }]);
  return text;
}

function resolveDevice(file: ConfigFile, pem: ReadonlyMap<string, string>, options: ParseConfigOptions): DeviceConfig {
  const { baseDir, env } = options;
  // Without gatewayId in the file: gw-<hardware serial>, else gw-<hostname> (docs/provisioning.md).
  const { gatewayId, source: gatewayIdSource } = resolveGatewayId(file.gatewayId, options.serialSources);
  const dataDir = resolveDataDir(file.dataDir, baseDir, env);
  const adminSocket = resolveAdminSocket(file.admin?.socket, dataDir, baseDir, env);
  const listen = file.listen ?? {};
  const secrets = secretPathsIn(options.fileDocument ?? file);
  const provisioningCa = pem.get('$.provisioning.ca');
  return {
    ...(options.source !== undefined ? { source: options.source } : {}),
    gatewayId,
    gatewayIdSource,
    dataDir,
    listen: {
      host: listen.host ?? CONFIG_DEFAULTS.listen.host,
      port: listen.port ?? CONFIG_DEFAULTS.listen.port,
      // Stored without a trailing slash so `${path}/${stationId}` is always right.
      path: (listen.path ?? CONFIG_DEFAULTS.listen.path).replace(/\/+$/, ''),
      ...(listen.tls !== undefined
        ? {
            tls: {
              port: listen.tls.port ?? CONFIG_DEFAULTS.listen.tlsPort,
              cert: requirePem(pem, '$.listen.tls.cert'),
              key: requirePem(pem, '$.listen.tls.key'),
              ...(pem.has('$.listen.tls.clientCa') ? { clientCa: requirePem(pem, '$.listen.tls.clientCa') } : {}),
              ...(pem.has('$.listen.tls.crl') ? { crl: requirePem(pem, '$.listen.tls.crl') } : {}),
            },
          }
        : {}),
      maxFrameBytes: listen.maxFrameBytes ?? CONFIG_DEFAULTS.listen.maxFrameBytes,
      maxBufferedBytes: listen.maxBufferedBytes ?? CONFIG_DEFAULTS.listen.maxBufferedBytes,
      pingIntervalMs: listen.pingIntervalMs ?? CONFIG_DEFAULTS.listen.pingIntervalMs,
    },
    ...(file.provisioning !== undefined
      ? {
          provisioning: {
            ...(file.provisioning.url !== undefined ? { url: file.provisioning.url } : {}),
            ...(file.provisioning.claimBaseUrl !== undefined ? { claimBaseUrl: file.provisioning.claimBaseUrl } : {}),
            ...(provisioningCa !== undefined ? { ca: provisioningCa } : {}),
          },
        }
      : {}),
    admin: { socket: adminSocket },
    log: { level: file.log?.level ?? CONFIG_DEFAULTS.log.level },
    updates: {
      dir: file.updates?.dir !== undefined ? resolve(baseDir, file.updates.dir) : join(dataDir, 'updates'),
      publicKey: resolve(baseDir, file.updates?.publicKey ?? CONFIG_DEFAULTS.updates.publicKey),
      readyTimeoutS: file.updates?.readyTimeoutS ?? CONFIG_DEFAULTS.updates.readyTimeoutS,
    },
    ...(secrets.length > 0 ? { secretsInFile: secrets } : {}),
  };
}

function resolveConfig(file: ConfigFile, upstream: NonNullable<ConfigFile['upstream']>, pem: ReadonlyMap<string, string>, options: ParseConfigOptions): GatewayConfig {
  const device = resolveDevice(file, pem, options);
  const { gatewayId } = device;
  const stations = (file.stations?.list ?? []).map((station, index): StationConfig => {
    const path = `$.stations.list[${index}].upstream`;
    const stationUpstream = station.upstream;
    return {
      id: station.id,
      ...(station.profile !== undefined ? { profile: station.profile } : {}),
      ...(station.password !== undefined ? { password: station.password } : {}),
      ...(station.passwordHash !== undefined ? { passwordHash: station.passwordHash } : {}),
      ...(stationUpstream !== undefined
        ? {
            upstream: {
              ...(stationUpstream.username !== undefined ? { username: stationUpstream.username } : {}),
              ...(stationUpstream.password !== undefined ? { password: stationUpstream.password } : {}),
              // PEM text in place of the file names.
              ...tlsFilesAt(pem, path, stationUpstream),
            },
          }
        : {}),
    };
  });

  return {
    ...device,
    upstream: {
      // `<upstream.url>/<stationId>` (docs/station-interface.md "The upstream connection"): keep exactly one slash between them.
      url: upstream.url.replace(/\/+$/, ''),
      tls: tlsFilesAt(pem, '$.upstream.tls', upstream.tls),
      connectTimeoutMs: upstream.connectTimeoutMs ?? CONFIG_DEFAULTS.upstream.connectTimeoutMs,
      outageGraceMs: upstream.outageGraceMs ?? CONFIG_DEFAULTS.upstream.outageGraceMs,
      maxConcurrentHandshakes: upstream.maxConcurrentHandshakes ?? CONFIG_DEFAULTS.upstream.maxConcurrentHandshakes,
      permessageDeflate: upstream.permessageDeflate ?? CONFIG_DEFAULTS.upstream.permessageDeflate,
    },
    stations: {
      allowUnknown: file.stations?.allowUnknown ?? CONFIG_DEFAULTS.stations.allowUnknown,
      list: stations,
    },
    authorization: { mode: file.authorization?.mode ?? CONFIG_DEFAULTS.authorization.mode },
    ...(file.mqtt !== undefined
      ? {
          mqtt: {
            url: file.mqtt.url,
            tls: tlsFilesAt(pem, '$.mqtt.tls', file.mqtt.tls),
            topicPrefix: (file.mqtt.topicPrefix ?? CONFIG_DEFAULTS.mqtt.topicPrefix).replaceAll('{gatewayId}', gatewayId),
            outboxMaxEvents: file.mqtt.outboxMaxEvents ?? CONFIG_DEFAULTS.mqtt.outboxMaxEvents,
            protocolVersion: file.mqtt.protocolVersion ?? CONFIG_DEFAULTS.mqtt.protocolVersion,
          },
        }
      : {}),
    smartCharging: {
      profileIdBase: file.smartCharging?.profileIdBase ?? CONFIG_DEFAULTS.smartCharging.profileIdBase,
      stackLevel: file.smartCharging?.stackLevel ?? CONFIG_DEFAULTS.smartCharging.stackLevel,
      callTimeoutMs: file.smartCharging?.callTimeoutMs ?? CONFIG_DEFAULTS.smartCharging.callTimeoutMs,
    },
    ...(file.vpn?.wireguard !== undefined ? { vpn: { wireguard: resolveWireguard(file.vpn.wireguard, device.dataDir, options.baseDir) } } : {}),
  };
}

function resolveWireguard(wireguard: WireguardFile, dataDir: string, baseDir: string): WireguardConfig {
  const defaults = CONFIG_DEFAULTS.vpn.wireguard;
  const { peer } = wireguard;
  return {
    interface: wireguard.interface ?? defaults.interface,
    privateKeyFile: wireguard.privateKeyFile !== undefined ? resolve(baseDir, wireguard.privateKeyFile) : join(dataDir, 'identity', WIREGUARD_KEY_FILE),
    generatedKey: wireguard.privateKeyFile === undefined,
    address: wireguard.address,
    peer: {
      publicKey: peer.publicKey,
      endpoint: peer.endpoint,
      allowedIps: [...peer.allowedIps],
      persistentKeepaliveS: peer.persistentKeepaliveS ?? defaults.persistentKeepaliveS,
      ...(peer.presharedKeyFile !== undefined ? { presharedKeyFile: resolve(baseDir, peer.presharedKeyFile) } : {}),
    },
    handshakeMaxAgeS: wireguard.handshakeMaxAgeS ?? defaults.handshakeMaxAgeS,
    checkIntervalS: wireguard.checkIntervalS ?? defaults.checkIntervalS,
    statusFile: join(dataDir, VPN_STATUS_FILE),
  };
}
