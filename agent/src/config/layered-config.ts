/**
 * The configuration the gateway runs on: the local file layered over what
 * enrollment brought (docs/provisioning.md "The enrolled configuration").
 *
 *   built-in defaults < enrolled configuration < enrolled identity < local file
 *
 * The enrolled identity layer only fills in the gateway's own certificate
 * where nothing else names one: its client certificate for a `wss://`
 * upstream and an `mqtts://` broker, its LAN server certificate for the
 * `wss://` station listener. A gateway whose layers name no `upstream` but
 * know an enrollment service (`provisioning.url`) is unclaimed: it runs on
 * the device part of its configuration until enrollment brings the rest.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, type ConfigProblem } from '../errors.js';
import type { SerialSourcePaths } from '../provisioning/hardware-serial.js';
import { mergeLayer, recordSources, type ValueSource, type ValueSources } from './config-layers.js';
import { parseJson } from './config-json.js';
import { resolveDataDir } from './config-paths.js';
import { describeFsError } from './config-tls-files.js';
import { field, isRecord } from './config-values.js';
import type { DeviceConfig, GatewayConfig } from './gateway-config.js';
import { parseConfig, parseDeviceConfig, readConfigFile, type ParseConfigOptions } from './load-config.js';

export type LoadedConfig =
  | { readonly kind: 'ready'; readonly config: GatewayConfig; readonly sources: ValueSources }
  | { readonly kind: 'awaiting-enrollment'; readonly config: DeviceConfig; readonly sources: ValueSources };

/**
 * The gateway's enrolled certificates as the configuration refers to them:
 * each a PEM file path or the PEM text itself (like every TLS value of the
 * configuration), so that an answer can be checked before it is stored.
 */
export interface IdentityCertificates {
  readonly keyPath: string;
  readonly certificatePath: string;
  /** The LAN server certificate (same key), when the service issued one. */
  readonly serverCertificatePath?: string;
}

/** The files enrollment leaves in `<dataDir>/identity/` that the configuration refers to. */
export interface EnrolledFiles extends IdentityCertificates {
  readonly enrolledConfigPath: string;
}

export const ENROLLED_CONFIG_FILE = 'enrolled-config.json';

/** Keys that describe the device itself: only the local file sets them, never the cloud. */
export const DEVICE_LOCAL_KEYS: readonly string[] = ['gatewayId', 'dataDir', 'admin', 'provisioning', 'updates'];

export function enrolledFilesIn(dataDir: string): EnrolledFiles & { readonly enrolled: boolean } {
  const dir = join(dataDir, 'identity');
  const certificatePath = join(dir, 'gateway.crt');
  const serverCertificatePath = join(dir, 'server.crt');
  return {
    enrolled: existsSync(certificatePath),
    keyPath: join(dir, 'gateway.key'),
    certificatePath,
    ...(existsSync(serverCertificatePath) ? { serverCertificatePath } : {}),
    enrolledConfigPath: join(dir, ENROLLED_CONFIG_FILE),
  };
}

export interface LayerOptions {
  readonly serialSources?: SerialSourcePaths;
}

/** Read the file at `path`, then the enrolled layers from its `dataDir`, and resolve them together. */
export function loadLayeredConfig(path: string, env: NodeJS.ProcessEnv, options: LayerOptions = {}): LoadedConfig {
  const { file, document: local } = readConfigFile(path);
  const baseDir = dirname(file);
  const dataDirValue = field(local, 'dataDir');
  const dataDir = resolveDataDir(typeof dataDirValue === 'string' && dataDirValue !== '' ? dataDirValue : undefined, baseDir, env);
  const files = enrolledFilesIn(dataDir);
  const enrolled = files.enrolled ? readEnrolledConfig(files.enrolledConfigPath) : undefined;
  return layerConfig(local, enrolled, files.enrolled ? files : undefined, {
    baseDir,
    env,
    source: file,
    ...(options.serialSources ? { serialSources: options.serialSources } : {}),
  });
}

/**
 * Layer `enrolled` and the identity `files` under `local` and resolve the
 * result. Problems in enrolled values say so, so that a technician knows the
 * fix is not in the file.
 */
export function layerConfig(local: unknown, enrolled: unknown, files: IdentityCertificates | undefined, options: ParseConfigOptions): LoadedConfig {
  const sources = new Map<string, ValueSource>();
  const problems = enrolled === undefined ? [] : enrolledShapeProblems(enrolled);
  if (problems.length > 0) throw new ConfigError(`${problems.length} problem${problems.length === 1 ? '' : 's'}`, problems);
  recordSources(enrolled, 'enrolled', sources);
  let merged = mergeLayer(enrolled ?? {}, local);
  const identity = files ? identityLayer(merged, files) : undefined;
  if (identity) {
    recordSources(identity, 'identity', sources);
    merged = mergeLayer(identity, merged);
  }
  recordSources(local, 'file', sources);
  const parseOptions: ParseConfigOptions = { ...options, fileDocument: local };
  try {
    if (field(merged, 'upstream') === undefined && typeof field(field(merged, 'provisioning'), 'url') === 'string') {
      return { kind: 'awaiting-enrollment', config: parseDeviceConfig(withoutPendingTls(merged), parseOptions), sources };
    }
    return { kind: 'ready', config: parseConfig(merged, parseOptions), sources };
  } catch (error: unknown) {
    if (error instanceof ConfigError && enrolled !== undefined) throw withSources(error, sources);
    throw error;
  }
}

/**
 * What a received configuration must pass before enrollment stores it: its
 * own shape, and together with the local file and the new identity, every
 * rule the gateway's own file passes. Empty when it is good.
 */
export function receivedConfigProblems(received: unknown, local: unknown, options: ParseConfigOptions, certificates?: IdentityCertificates): readonly ConfigProblem[] {
  const shape = enrolledShapeProblems(received);
  if (shape.length > 0) return shape;
  try {
    // With the certificates of the answer as PEM text: they are not stored yet.
    const loaded = layerConfig(local, received, certificates, options);
    if (loaded.kind === 'awaiting-enrollment') {
      return [{ path: '$.upstream', message: 'is required: the enrolled configuration must say where the CPMS is (or the local file must)' }];
    }
    return [];
  } catch (error: unknown) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

/**
 * `receivedConfigProblems` against the local file as it is at the moment of
 * the check, as one line per problem (path and message; messages never
 * quote a configured value).
 */
export function receivedConfigValidator(
  path: string,
  env: NodeJS.ProcessEnv,
): (received: unknown, certificates: { certificatePem: string; serverCertificatePem?: string; keyPath: string }) => readonly string[] {
  const file = resolve(path);
  return (received, certificates) => {
    let local: unknown;
    try {
      local = readConfigFile(file).document;
    } catch (error: unknown) {
      if (!(error instanceof ConfigError)) throw error;
      return [`the local configuration ${file} cannot be read: ${error.problems.map((problem) => problem.message).join('; ')}`];
    }
    const identity: IdentityCertificates = {
      keyPath: certificates.keyPath,
      certificatePath: certificates.certificatePem,
      ...(certificates.serverCertificatePem !== undefined ? { serverCertificatePath: certificates.serverCertificatePem } : {}),
    };
    return receivedConfigProblems(received, local, { baseDir: dirname(file), env, source: file }, identity).map((problem) => `${problem.path}: ${problem.message}`);
  };
}

function enrolledShapeProblems(enrolled: unknown): ConfigProblem[] {
  if (!isRecord(enrolled)) return [{ path: '$', message: 'the enrolled configuration must be a JSON object' }];
  return DEVICE_LOCAL_KEYS.filter((key) => key in enrolled).map((key) => ({
    path: `$.${key}`,
    message: 'is set in the enrolled configuration; only the local file may set it (it describes the device itself)',
  }));
}

/** The gateway's own certificates, for the places that use one and name none. */
function identityLayer(merged: unknown, files: IdentityCertificates): Record<string, unknown> | undefined {
  const layer: Record<string, unknown> = {};
  const ownCertificate = { cert: files.certificatePath, key: files.keyPath };
  const upstreamUrl = field(field(merged, 'upstream'), 'url');
  if (typeof upstreamUrl === 'string' && upstreamUrl.startsWith('wss://') && field(field(field(merged, 'upstream'), 'tls'), 'cert') === undefined) {
    layer['upstream'] = { tls: ownCertificate };
  }
  const mqttUrl = field(field(merged, 'mqtt'), 'url');
  if (typeof mqttUrl === 'string' && mqttUrl.startsWith('mqtts://') && field(field(field(merged, 'mqtt'), 'tls'), 'cert') === undefined) {
    layer['mqtt'] = { tls: ownCertificate };
  }
  // A local `listen.tls` with only a `port` moves the listener and keeps the enrolled certificate.
  if (files.serverCertificatePath !== undefined && field(field(field(merged, 'listen'), 'tls'), 'cert') === undefined) {
    layer['listen'] = { tls: { cert: files.serverCertificatePath, key: files.keyPath } };
  }
  return Object.keys(layer).length > 0 ? layer : undefined;
}

/**
 * An unclaimed gateway opens no `wss://` listener, and a `listen.tls` that
 * only moves its port waits for the server certificate enrollment brings.
 */
function withoutPendingTls(merged: unknown): unknown {
  const listen = field(merged, 'listen');
  const tls = field(listen, 'tls');
  if (!isRecord(merged) || !isRecord(listen) || !isRecord(tls) || 'cert' in tls || 'key' in tls) return merged;
  const { tls: _pending, ...rest } = listen;
  return { ...merged, listen: rest };
}

function readEnrolledConfig(path: string): unknown {
  if (!existsSync(path)) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error: unknown) {
    throw new ConfigError('the enrolled configuration cannot be read', [{ path: '$', message: `cannot read the enrolled configuration ${path}: ${describeFsError(error)}` }], { cause: error });
  }
  try {
    return parseJson(text);
  } catch (error: unknown) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ConfigError('the enrolled configuration is damaged', error.problems.map((problem) => ({ ...problem, message: `${path}: ${problem.message}` })), { cause: error });
  }
}

function withSources(error: ConfigError, sources: ValueSources): ConfigError {
  const problems = error.problems.map((problem) => {
    const source = sourceOf(problem.path, sources);
    return source === 'enrolled' ? { ...problem, message: `${problem.message} (a value of the enrolled configuration)` } : problem;
  });
  return new ConfigError(error.message, problems, { cause: error });
}

/** The layer that set `path` or the nearest value above it. */
export function sourceOf(path: string, sources: ValueSources): ValueSource | 'default' {
  for (let at = path; at.length > 0; ) {
    const found = sources.get(at);
    if (found) return found;
    const cut = Math.max(at.lastIndexOf('.'), at.lastIndexOf('['));
    if (cut <= 0) break;
    at = at.slice(0, cut);
  }
  return 'default';
}
