/**
 * Config file -> GatewayConfig: read, parse, validate (schema, then the rules
 * that span several values, then the TLS files), and only when nothing at all
 * is wrong fill in the defaults. Every problem is collected before throwing so
 * an installer fixes the file in one round (CONTRACT section 2).
 *
 * Secrets: no message built here contains a configured value other than file
 * paths and station ids; ajv's own messages never quote the data.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { Ajv, type ErrorObject } from 'ajv';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { isValidPasswordHash } from '../proxy/password-hash.js';
import { CONFIG_DEFAULTS, CONFIG_SCHEMA, type ConfigFile, type TlsFilesFile } from './config-schema.js';
import type { GatewayConfig, StationConfig, TlsFiles } from './gateway-config.js';

export const DEFAULT_CONFIG_PATH = '/etc/pleevi-edge/config.json';

export interface ParseConfigOptions {
  /** Folder that relative paths in the config are resolved against (the config file's folder). */
  readonly baseDir: string;
  readonly env: NodeJS.ProcessEnv;
  /** Where the config came from, for messages and `GatewayConfig.source`. */
  readonly source?: string;
}

const ajv = new Ajv({
  allErrors: true,
  strict: true,
  // `not: { required: [...] }` names properties declared one level up; that is intended.
  strictRequired: false,
  // Gives each error its parentSchema, where our errorMessage annotation lives.
  verbose: true,
});
ajv.addKeyword({ keyword: 'errorMessage', schemaType: 'string' });
const validateFile = ajv.compile<ConfigFile>(CONFIG_SCHEMA);

/** `--config FILE`, else `$PLEEVI_EDGE_CONFIG`, else the packaged default; absolute. */
export function resolveConfigPath(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const chosen = nonEmpty(flag) ?? nonEmpty(env['PLEEVI_EDGE_CONFIG']) ?? DEFAULT_CONFIG_PATH;
  return resolve(chosen);
}

/** Read and validate the config file at `path`. Throws ConfigError listing every problem. */
export function loadConfig(path: string, env: NodeJS.ProcessEnv): GatewayConfig {
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
  const value = parseJson(text);
  return parseConfig(value, { baseDir: dirname(file), env, source: file });
}

/** Validate an in-memory config (same shape as the file) and resolve it. */
export function parseConfig(value: unknown, options: ParseConfigOptions): GatewayConfig {
  const valid = validateFile(value);
  const problems: ConfigProblem[] = valid ? [] : (validateFile.errors ?? []).map(schemaProblem);
  problems.push(...crossFieldProblems(value));
  const pem = readTlsFiles(value, options.baseDir, problems);
  if (!valid || problems.length > 0) {
    const sorted = inDocumentOrder(dedupe(problems), value);
    // The source is not repeated here: callers print it next to the message (printConfigProblems).
    throw new ConfigError(sorted.length === 1 ? '1 problem' : `${sorted.length} problems`, sorted);
  }
  return resolveConfig(value, pem, options);
}

// ---------------------------------------------------------------------------
// JSON

function parseJson(text: string): unknown {
  // Editors on Windows save UTF-8 with a byte-order mark, which JSON.parse rejects.
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  try {
    return JSON.parse(body) as unknown;
  } catch (error: unknown) {
    const { offset, reason } = describeJsonError(error, body);
    const { line, column } = lineAndColumn(body, offset);
    const message = `invalid JSON at line ${line}, column ${column}: ${reason}`;
    throw new ConfigError('not valid JSON', [{ path: '$', message }], { cause: error });
  }
}

/**
 * V8 reports most syntax errors "at position N", but for an unexpected token
 * it quotes a slice of the file instead, which may hold a password. Never
 * pass that quote on; find the position ourselves.
 */
function describeJsonError(error: unknown, text: string): { offset: number; reason: string } {
  const raw = error instanceof Error ? error.message : '';
  const positioned = / in JSON at position (\d+)/.exec(raw);
  if (positioned) {
    return { offset: Number(positioned[1]), reason: raw.slice(0, positioned.index) };
  }
  const offset = jsonErrorOffset(text);
  return { offset, reason: offset >= text.length ? 'unexpected end of file' : 'unexpected character' };
}

/** Offset of the first character that breaks the JSON grammar (text.length when it ends early). */
function jsonErrorOffset(text: string): number {
  let i = 0;
  const skipBlanks = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text.charAt(i))) i++;
  };
  const string = (): boolean => {
    i++;
    while (i < text.length) {
      const c = text.charAt(i);
      if (c === '"') {
        i++;
        return true;
      }
      if (c < ' ') return false;
      i += c === '\\' ? 2 : 1;
    }
    return false;
  };
  const number = (): boolean => {
    const pattern = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    pattern.lastIndex = i;
    if (!pattern.exec(text)) return false;
    i = pattern.lastIndex;
    return true;
  };
  const members = (close: string, member: () => boolean): boolean => {
    i++;
    skipBlanks();
    if (text.charAt(i) === close) {
      i++;
      return true;
    }
    for (;;) {
      if (!member()) return false;
      skipBlanks();
      const c = text.charAt(i);
      if (c === close) {
        i++;
        return true;
      }
      if (c !== ',') return false;
      i++;
    }
  };
  const value = (): boolean => {
    skipBlanks();
    const c = text.charAt(i);
    if (c === '{') {
      return members('}', () => {
        skipBlanks();
        if (text.charAt(i) !== '"' || !string()) return false;
        skipBlanks();
        if (text.charAt(i) !== ':') return false;
        i++;
        return value();
      });
    }
    if (c === '[') return members(']', value);
    if (c === '"') return string();
    if (c === '-' || (c >= '0' && c <= '9')) return number();
    for (const literal of ['true', 'false', 'null']) {
      if (text.startsWith(literal, i)) {
        i += literal.length;
        return true;
      }
    }
    return false;
  };
  if (value()) skipBlanks();
  return Math.min(i, text.length);
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lines = before.split('\n');
  return { line: lines.length, column: (lines[lines.length - 1] ?? '').length + 1 };
}

// ---------------------------------------------------------------------------
// Problems: paths and messages

/** `$.a.b[0]`; keys that are not identifiers are quoted: `$.listen["my key"]`. */
function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** JSON pointer (ajv's instancePath) to `$.a.b[0]`. Digits are array indexes: the schema has no numeric keys. */
function pointerToPath(pointer: string): string {
  if (pointer === '') return '$';
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<string>((path, segment) => childPath(path, /^\d+$/.test(segment) ? Number(segment) : segment), '$');
}

function schemaProblem(error: ErrorObject): ConfigProblem {
  const path = pointerToPath(error.instancePath);
  const params: Readonly<Record<string, unknown>> = error.params;
  switch (error.keyword) {
    case 'additionalProperties':
      return { path: childPath(path, String(params['additionalProperty'])), message: 'unknown key' };
    case 'required':
      return { path: childPath(path, String(params['missingProperty'])), message: 'is required' };
    case 'dependencies':
      return {
        path: childPath(path, String(params['missingProperty'])),
        message: `is required when ${String(params['property'])} is set`,
      };
    case 'enum': {
      const allowed = params['allowedValues'];
      const list = Array.isArray(allowed) ? allowed.map((v: unknown) => JSON.stringify(v)).join(', ') : '';
      return { path, message: `must be one of ${list}` };
    }
    case 'type':
      return { path, message: `must be ${String(params['type'])}` };
    default: {
      const custom: unknown = error.parentSchema?.['errorMessage'];
      if (typeof custom === 'string') return { path, message: custom };
      return { path, message: error.message ?? 'is invalid' };
    }
  }
}

/** One value can trip several keywords that share one errorMessage (id: minLength and pattern). */
function dedupe(problems: readonly ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const key = `${problem.path}\u0000${problem.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Report problems in the order their keys appear in the file, which is how people read it. */
function inDocumentOrder(problems: readonly ConfigProblem[], document: unknown): ConfigProblem[] {
  const order = new Map<string, number>();
  const walk = (value: unknown, path: string): void => {
    order.set(path, order.size);
    if (Array.isArray(value)) value.forEach((item: unknown, index) => walk(item, childPath(path, index)));
    else if (isRecord(value)) for (const [key, item] of Object.entries(value)) walk(item, childPath(path, key));
  };
  walk(document, '$');
  const rank = (path: string): number => {
    // A missing key sorts just after its nearest ancestor that exists.
    for (let current: string | undefined = path, bias = 0; current !== undefined; current = parentPath(current), bias = 0.5) {
      const found = order.get(current);
      if (found !== undefined) return found + bias;
    }
    return Number.MAX_SAFE_INTEGER;
  };
  return problems
    .map((problem, index) => ({ problem, index, rank: rank(problem.path) }))
    .sort((a, b) => a.rank - b.rank || a.index - b.index)
    .map(({ problem }) => problem);
}

function parentPath(path: string): string | undefined {
  const match = /(?:\.[A-Za-z_$][\w$]*|\[(?:\d+|"(?:[^"\\]|\\.)*")\])$/.exec(path);
  return match ? path.slice(0, match.index) : undefined;
}

// ---------------------------------------------------------------------------
// Rules that span values. They run on the raw value even when the schema
// failed, so guard every access.

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function field(value: unknown, key: string): unknown {
  return isRecord(value) ? value[key] : undefined;
}

function stationEntries(document: unknown): Array<{ station: Record<string, unknown>; path: string }> {
  const list = field(field(document, 'stations'), 'list');
  if (!Array.isArray(list)) return [];
  const entries: Array<{ station: Record<string, unknown>; path: string }> = [];
  list.forEach((station: unknown, index) => {
    if (isRecord(station)) entries.push({ station, path: `$.stations.list[${index}]` });
  });
  return entries;
}

/** The URL's scheme when it passed the schema's pattern, for the rules that depend on it. */
function checkUrl(value: unknown, path: string, problems: ConfigProblem[], pattern: RegExp, appended: boolean): string | undefined {
  if (typeof value !== 'string' || !pattern.test(value)) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push({ path, message: 'is not a valid URL' });
    return undefined;
  }
  // Credentials in a URL end up in logs and `status` output; per-station
  // credentials have their own keys.
  if (url.username !== '' || url.password !== '') {
    problems.push({ path, message: 'must not contain credentials (use stations.list[].upstream.username/password)' });
  }
  if (appended && (url.search !== '' || url.hash !== '')) {
    problems.push({ path, message: 'must not have a query or fragment: the station id is appended to it' });
  }
  return url.protocol;
}

function crossFieldProblems(document: unknown): ConfigProblem[] {
  const problems: ConfigProblem[] = [];

  const seen = new Map<string, string>();
  for (const { station, path } of stationEntries(document)) {
    const id = station['id'];
    if (typeof id === 'string') {
      const first = seen.get(id);
      if (first !== undefined) problems.push({ path: `${path}.id`, message: `duplicate station id "${id}" (first at ${first})` });
      else seen.set(id, `${path}.id`);
    }
    const passwordHash = station['passwordHash'];
    if (typeof passwordHash === 'string' && passwordHash !== '' && !isValidPasswordHash(passwordHash)) {
      problems.push({
        path: `${path}.passwordHash`,
        message: 'must be scrypt$N$r$p$salt$hash as printed by "pleevi-edge password hash"',
      });
    }
  }

  const upstream = field(document, 'upstream');
  const upstreamScheme = checkUrl(field(upstream, 'url'), '$.upstream.url', problems, /^wss?:\/\/\S+$/, true);
  if (upstreamScheme === 'ws:') {
    // A ws:// CPMS link has no TLS handshake to use these for: almost surely a typo in the URL.
    if (isRecord(field(upstream, 'tls'))) {
      problems.push({ path: '$.upstream.tls', message: 'is only used with a wss:// upstream.url' });
    }
    for (const { station, path } of stationEntries(document)) {
      const stationUpstream = field(station, 'upstream');
      if (field(stationUpstream, 'cert') !== undefined || field(stationUpstream, 'key') !== undefined) {
        problems.push({ path: `${path}.upstream.cert`, message: 'a client certificate is only used with a wss:// upstream.url' });
      }
    }
  }

  const mqtt = field(document, 'mqtt');
  const mqttScheme = checkUrl(field(mqtt, 'url'), '$.mqtt.url', problems, /^mqtts?:\/\/\S+$/, false);
  if (mqttScheme === 'mqtt:' && isRecord(field(mqtt, 'tls'))) {
    problems.push({ path: '$.mqtt.tls', message: 'is only used with an mqtts:// mqtt.url' });
  }

  const provisioning = field(document, 'provisioning');
  checkUrl(field(provisioning, 'url'), '$.provisioning.url', problems, /^https?:\/\/\S+$/, false);
  checkUrl(field(provisioning, 'claimBaseUrl'), '$.provisioning.claimBaseUrl', problems, /^https?:\/\/\S+$/, false);

  const listen = field(document, 'listen');
  const listenTls = field(listen, 'tls');
  if (isRecord(listenTls)) {
    const plainPort = field(listen, 'port') ?? CONFIG_DEFAULTS.listen.port;
    const tlsPort = listenTls['port'] ?? CONFIG_DEFAULTS.listen.tlsPort;
    if (plainPort === tlsPort && tlsPort !== 0) {
      problems.push({ path: '$.listen.tls.port', message: `must differ from listen.port (both ${String(tlsPort)})` });
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------
// TLS files

type PemKind = 'ca' | 'cert' | 'key';

const PEM_MARKERS: Readonly<Record<PemKind, { pattern: RegExp; what: string }>> = {
  ca: { pattern: /-----BEGIN CERTIFICATE-----/, what: 'a PEM certificate' },
  cert: { pattern: /-----BEGIN CERTIFICATE-----/, what: 'a PEM certificate' },
  key: { pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----/, what: 'a PEM private key' },
};

/** Every place a TLS file may be named, with the kinds it accepts. */
function tlsLocations(document: unknown): Array<{ block: Record<string, unknown>; path: string; kinds: readonly PemKind[] }> {
  const locations: Array<{ block: Record<string, unknown>; path: string; kinds: readonly PemKind[] }> = [];
  const add = (block: unknown, path: string, kinds: readonly PemKind[]): void => {
    if (isRecord(block)) locations.push({ block, path, kinds });
  };
  add(field(field(document, 'listen'), 'tls'), '$.listen.tls', ['cert', 'key']);
  add(field(field(document, 'upstream'), 'tls'), '$.upstream.tls', ['ca', 'cert', 'key']);
  for (const { station, path } of stationEntries(document)) add(station['upstream'], `${path}.upstream`, ['cert', 'key']);
  add(field(field(document, 'mqtt'), 'tls'), '$.mqtt.tls', ['ca', 'cert', 'key']);
  return locations;
}

/**
 * Read every named PEM file (or take inline PEM text as is), check that it is
 * PEM of the right kind and that OpenSSL accepts cert, key and CA together.
 * Returns PEM text by JSON path, e.g. `$.listen.tls.cert`.
 */
function readTlsFiles(document: unknown, baseDir: string, problems: ConfigProblem[]): Map<string, string> {
  const pem = new Map<string, string>();
  for (const { block, path, kinds } of tlsLocations(document)) {
    const loaded: Partial<Record<PemKind, string>> = {};
    for (const kind of kinds) {
      const source = block[kind];
      if (typeof source !== 'string' || source === '') continue;
      const text = readPem(source, kind, `${path}.${kind}`, baseDir, problems);
      if (text === undefined) continue;
      loaded[kind] = text;
      pem.set(`${path}.${kind}`, text);
    }
    if (loaded.cert === undefined && loaded.key === undefined && loaded.ca === undefined) continue;
    if ((loaded.cert === undefined) !== (loaded.key === undefined)) continue; // the half that failed is reported already
    try {
      // Catches a key that does not belong to the certificate, or an encrypted key, now instead of at the first handshake.
      createSecureContext({ cert: loaded.cert, key: loaded.key, ca: loaded.ca });
    } catch (error: unknown) {
      problems.push({ path, message: `rejected by OpenSSL: ${error instanceof Error ? error.message : String(error)}` });
    }
  }
  return pem;
}

function readPem(source: string, kind: PemKind, path: string, baseDir: string, problems: ConfigProblem[]): string | undefined {
  const marker = PEM_MARKERS[kind];
  if (source.includes('-----BEGIN ')) {
    if (marker.pattern.test(source)) return source;
    problems.push({ path, message: `inline text is not ${marker.what}` });
    return undefined;
  }
  const file = resolve(baseDir, source);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error: unknown) {
    problems.push({ path, message: `cannot read ${file}: ${describeFsError(error)}` });
    return undefined;
  }
  if (!marker.pattern.test(text)) {
    problems.push({ path, message: `${file} is not ${marker.what}` });
    return undefined;
  }
  return text;
}

function describeFsError(error: unknown): string {
  const code = isRecord(error) ? error['code'] : undefined;
  switch (code) {
    case 'ENOENT':
      return 'file not found';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

// ---------------------------------------------------------------------------
// Defaults

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** systemd passes `StateDirectory=a b` as `STATE_DIRECTORY=/var/lib/a:/var/lib/b`; the first is ours. */
function firstDirectory(value: string | undefined): string | undefined {
  return nonEmpty(value?.split(':')[0]);
}

/** Fallback identity until provisioning assigns one; hostnames may hold characters a gatewayId may not. */
function defaultGatewayId(): string {
  return `gw-${hostname().replace(/[^A-Za-z0-9._-]/g, '-')}`.slice(0, 64);
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

function resolveConfig(file: ConfigFile, pem: ReadonlyMap<string, string>, options: ParseConfigOptions): GatewayConfig {
  const { baseDir, env } = options;
  const gatewayId = file.gatewayId ?? defaultGatewayId();
  const dataDir =
    file.dataDir !== undefined
      ? resolve(baseDir, file.dataDir)
      : resolve(firstDirectory(env['STATE_DIRECTORY']) ?? join(process.cwd(), 'var'));
  const runtimeDir = firstDirectory(env['RUNTIME_DIRECTORY']);
  const adminSocket =
    file.admin?.socket !== undefined
      ? resolve(baseDir, file.admin.socket)
      : join(runtimeDir !== undefined ? resolve(runtimeDir) : dataDir, 'admin.sock');

  const listen = file.listen ?? {};
  const stations = (file.stations?.list ?? []).map((station, index): StationConfig => {
    const path = `$.stations.list[${index}].upstream`;
    const upstream = station.upstream;
    return {
      id: station.id,
      ...(station.password !== undefined ? { password: station.password } : {}),
      ...(station.passwordHash !== undefined ? { passwordHash: station.passwordHash } : {}),
      ...(upstream !== undefined
        ? {
            upstream: {
              ...(upstream.username !== undefined ? { username: upstream.username } : {}),
              ...(upstream.password !== undefined ? { password: upstream.password } : {}),
              // PEM text in place of the file names.
              ...tlsFilesAt(pem, path, upstream),
            },
          }
        : {}),
    };
  });

  return {
    ...(options.source !== undefined ? { source: options.source } : {}),
    gatewayId,
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
            },
          }
        : {}),
      maxFrameBytes: listen.maxFrameBytes ?? CONFIG_DEFAULTS.listen.maxFrameBytes,
      maxBufferedBytes: listen.maxBufferedBytes ?? CONFIG_DEFAULTS.listen.maxBufferedBytes,
      pingIntervalMs: listen.pingIntervalMs ?? CONFIG_DEFAULTS.listen.pingIntervalMs,
    },
    upstream: {
      // `<upstream.url>/<stationId>` (CONTRACT section 1): keep exactly one slash between them.
      url: file.upstream.url.replace(/\/+$/, ''),
      tls: tlsFilesAt(pem, '$.upstream.tls', file.upstream.tls),
      connectTimeoutMs: file.upstream.connectTimeoutMs ?? CONFIG_DEFAULTS.upstream.connectTimeoutMs,
      outageGraceMs: file.upstream.outageGraceMs ?? CONFIG_DEFAULTS.upstream.outageGraceMs,
      permessageDeflate: file.upstream.permessageDeflate ?? CONFIG_DEFAULTS.upstream.permessageDeflate,
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
    ...(file.provisioning !== undefined ? { provisioning: { ...file.provisioning } } : {}),
    admin: { socket: adminSocket },
    log: { level: file.log?.level ?? CONFIG_DEFAULTS.log.level },
  };
}
