/**
 * The configuration FILE as written by an installer (docs/configuration.md), as
 * a JSON Schema (draft-07, checked by ajv with `allErrors`). Rules that need
 * more than one value (duplicate station ids, TLS with a plain URL, files that
 * must exist) live in load-config.ts; everything a schema can say is here, so
 * one validation run reports every structural problem at once.
 *
 * `errorMessage` is an annotation keyword registered by the loader: when a
 * subschema carries one, its failure is reported with that text instead of
 * ajv's generic "must match pattern ...".
 */
import type { AuthorizationMode, LogLevel } from './gateway-config.js';

/** Defaults, in one place: the schema shows them and the loader applies them. */
export const CONFIG_DEFAULTS = {
  listen: {
    host: '0.0.0.0',
    port: 8080,
    path: '/ocpp',
    tlsPort: 8443,
    // ws's own default is 100 MiB; OCPP messages are a few KiB, so a station
    // that sends more is broken or hostile.
    maxFrameBytes: 262_144,
    maxBufferedBytes: 1_048_576,
    pingIntervalMs: 30_000,
  },
  upstream: {
    connectTimeoutMs: 10_000,
    outageGraceMs: 15_000,
    maxConcurrentHandshakes: 64,
    permessageDeflate: true,
  },
  stations: { allowUnknown: true },
  authorization: { mode: 'cpms' as AuthorizationMode },
  mqtt: { topicPrefix: 'pleevi/v1/gw/{gatewayId}', outboxMaxEvents: 100_000, protocolVersion: 5 as 4 | 5 },
  smartCharging: {
    profileIdBase: 900_000,
    stackLevel: 8,
    callTimeoutMs: 30_000,
  },
  log: { level: 'info' as LogLevel },
  updates: { publicKey: '/etc/pleevi-edge/update-signing.pub', readyTimeoutS: 120 },
  vpn: {
    wireguard: {
      interface: 'pleevi-wg0',
      persistentKeepaliveS: 25,
      // WireGuard rekeys every 2 minutes while traffic flows (and keepalives are traffic): older than this, the tunnel is down.
      handshakeMaxAgeS: 180,
      checkIntervalS: 5,
    },
  },
} as const;

export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
export const AUTHORIZATION_MODES: readonly AuthorizationMode[] = ['cpms', 'local'];

/** Longest delay setTimeout honours (2^31 - 1 ms); larger values fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** The file as written, after schema validation: every key optional except those marked. */
export interface ConfigFile {
  gatewayId?: string;
  dataDir?: string;
  listen?: {
    host?: string;
    port?: number;
    path?: string;
    tls?: { cert: string; key: string; port?: number; clientCa?: string; crl?: string };
    maxFrameBytes?: number;
    maxBufferedBytes?: number;
    pingIntervalMs?: number;
  };
  /** Required, unless provisioning.url is set and the gateway waits for its enrolled configuration. */
  upstream?: {
    url: string;
    tls?: TlsFilesFile;
    connectTimeoutMs?: number;
    outageGraceMs?: number;
    maxConcurrentHandshakes?: number;
    permessageDeflate?: boolean;
  };
  stations?: {
    allowUnknown?: boolean;
    list?: StationFile[];
  };
  authorization?: { mode?: AuthorizationMode };
  mqtt?: { url: string; tls?: TlsFilesFile; topicPrefix?: string; outboxMaxEvents?: number; protocolVersion?: 4 | 5 };
  smartCharging?: { profileIdBase?: number; stackLevel?: number; callTimeoutMs?: number };
  provisioning?: { url?: string; claimBaseUrl?: string; ca?: string };
  admin?: { socket?: string };
  log?: { level?: LogLevel };
  updates?: { dir?: string; publicKey?: string; readyTimeoutS?: number };
  vpn?: { wireguard?: WireguardFile };
}

/** `vpn.wireguard` (docs/configuration.md "vpn"). */
export interface WireguardFile {
  interface?: string;
  privateKeyFile?: string;
  address: string;
  peer: {
    publicKey: string;
    endpoint: string;
    allowedIps: string[];
    persistentKeepaliveS?: number;
    presharedKeyFile?: string;
  };
  handshakeMaxAgeS?: number;
  checkIntervalS?: number;
}

export interface TlsFilesFile {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface StationFile {
  id: string;
  profile?: 0 | 1 | 2 | 3;
  password?: string;
  passwordHash?: string;
  upstream?: { username?: string; password?: string; cert?: string; key?: string };
}

const nonEmptyString = { type: 'string', minLength: 1 } as const;

/** A PEM file path (relative to the config file's folder) or the PEM text itself. */
const pemSource = { type: 'string', minLength: 1 } as const;

function integer(minimum: number, maximum: number, defaultValue?: number): Record<string, unknown> {
  return defaultValue === undefined
    ? { type: 'integer', minimum, maximum }
    : { type: 'integer', minimum, maximum, default: defaultValue };
}

/** Port 0 lets the OS pick a free port; tests and the demo rely on it. */
function port(defaultValue: number): Record<string, unknown> {
  return integer(0, 65_535, defaultValue);
}

/** cert without key (or the reverse) is always a mistake: report the missing half. */
const certNeedsKey = { cert: ['key'], key: ['cert'] } as const;

const tlsFiles = {
  type: 'object',
  additionalProperties: false,
  properties: { ca: pemSource, cert: pemSource, key: pemSource },
  dependencies: certNeedsKey,
} as const;

/** An IPv4 or IPv6 prefix (`10.99.0.0/24`, `fd00::/64`); `ip` itself judges the address. */
const CIDR_PATTERN = '^(?:[0-9]{1,3}(?:\\.[0-9]{1,3}){3}/(?:[0-9]|[12][0-9]|3[0-2])|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*/(?:[0-9]|[1-9][0-9]|1[01][0-9]|12[0-8]))$';
const cidr = { type: 'string', pattern: CIDR_PATTERN, errorMessage: 'must be an address with its prefix length, such as 10.99.0.2/32' } as const;
/** A WireGuard key: 32 bytes in base64 (44 characters ending in '='). */
const wireguardKey = { type: 'string', pattern: '^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$', errorMessage: 'must be a WireGuard key: 32 bytes in base64 (44 characters, as printed by "wg pubkey")' } as const;

const wireguard = {
  type: 'object',
  additionalProperties: false,
  required: ['address', 'peer'],
  properties: {
    // Linux allows 15 bytes; wireguard-go's control socket is /var/run/wireguard/<interface>.sock.
    interface: {
      type: 'string',
      pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$',
      default: CONFIG_DEFAULTS.vpn.wireguard.interface,
      errorMessage: 'must be a network interface name: 1 to 15 characters of A-Z a-z 0-9 _ . -',
    },
    privateKeyFile: nonEmptyString,
    address: cidr,
    peer: {
      type: 'object',
      additionalProperties: false,
      required: ['publicKey', 'endpoint', 'allowedIps'],
      properties: {
        publicKey: wireguardKey,
        endpoint: {
          type: 'string',
          pattern: '^(?:[A-Za-z0-9.-]+|\\[[0-9A-Fa-f:.]+\\]):[0-9]{1,5}$',
          errorMessage: 'must be host:port (an IPv6 address in brackets: [2001:db8::1]:51820)',
        },
        allowedIps: { type: 'array', minItems: 1, items: cidr },
        persistentKeepaliveS: integer(0, 65_535, CONFIG_DEFAULTS.vpn.wireguard.persistentKeepaliveS),
        presharedKeyFile: nonEmptyString,
      },
    },
    handshakeMaxAgeS: integer(1, 86_400, CONFIG_DEFAULTS.vpn.wireguard.handshakeMaxAgeS),
    checkIntervalS: integer(1, 3600, CONFIG_DEFAULTS.vpn.wireguard.checkIntervalS),
  },
} as const;

const station = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: {
    // The same rule as the listener's (agent/src/ocpp/station-identity.ts):
    // an id the listener would refuse could never connect. OCPP 2.0.1 Part 4
    // section 3.1: at most 48 characters of identifierString, without ':'
    // (the id is the HTTP Basic user-id, RFC 7617 section 2); dots alone are
    // path segments, not identities.
    id: {
      type: 'string',
      minLength: 1,
      maxLength: 48,
      pattern: '^(?!\\.+$)[A-Za-z0-9*\\-_=+|@.]+$',
      errorMessage: 'must be 1 to 48 characters of A-Z a-z 0-9 * - _ = + | @ . and not only dots (OCPP 2.0.1 charging station identity)',
    },
    // The weakest OCPP security profile this station may connect with (docs/station-interface.md "Security profiles").
    profile: { enum: [0, 1, 2, 3] },
    password: nonEmptyString,
    // Checked by isValidPasswordHash in the loader, so the rule lives in one place.
    passwordHash: nonEmptyString,
    upstream: {
      type: 'object',
      additionalProperties: false,
      properties: {
        username: {
          type: 'string',
          minLength: 1,
          pattern: '^[^:]+$',
          errorMessage: "must not be empty or contain ':' (HTTP Basic user-id, RFC 7617)",
        },
        password: nonEmptyString,
        cert: pemSource,
        key: pemSource,
      },
      dependencies: { ...certNeedsKey, username: ['password'], password: ['username'] },
    },
  },
  allOf: [
    {
      not: { required: ['password', 'passwordHash'] },
      errorMessage: 'set either password or passwordHash, not both',
    },
  ],
} as const;

export const CONFIG_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'urn:pleevi-edge:config:v1',
  title: 'pleevi-edge configuration',
  type: 'object',
  additionalProperties: false,
  required: ['upstream'],
  properties: {
    gatewayId: {
      // It becomes an MQTT topic level and a file name: no '/', '+', '#'.
      type: 'string',
      pattern: '^[A-Za-z0-9._-]{1,64}$',
      errorMessage: 'must be 1 to 64 characters from A-Z a-z 0-9 . _ -',
    },
    dataDir: nonEmptyString,
    listen: {
      type: 'object',
      additionalProperties: false,
      properties: {
        host: { ...nonEmptyString, default: CONFIG_DEFAULTS.listen.host },
        port: port(CONFIG_DEFAULTS.listen.port),
        path: {
          type: 'string',
          pattern: "^(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+/?$",
          default: CONFIG_DEFAULTS.listen.path,
          errorMessage: 'must be a URL path prefix such as "/ocpp" (at least one segment, no query)',
        },
        tls: {
          type: 'object',
          additionalProperties: false,
          required: ['cert', 'key'],
          properties: { cert: pemSource, key: pemSource, port: port(CONFIG_DEFAULTS.listen.tlsPort), clientCa: pemSource, crl: pemSource },
          dependencies: { crl: ['clientCa'] },
        },
        maxFrameBytes: integer(1024, 104_857_600, CONFIG_DEFAULTS.listen.maxFrameBytes),
        maxBufferedBytes: integer(1024, 1_073_741_824, CONFIG_DEFAULTS.listen.maxBufferedBytes),
        pingIntervalMs: integer(10, MAX_TIMER_MS, CONFIG_DEFAULTS.listen.pingIntervalMs),
      },
    },
    upstream: {
      type: 'object',
      additionalProperties: false,
      required: ['url'],
      properties: {
        url: { type: 'string', pattern: '^wss?://\\S+$', errorMessage: 'must be a ws:// or wss:// URL' },
        tls: tlsFiles,
        connectTimeoutMs: integer(1, MAX_TIMER_MS, CONFIG_DEFAULTS.upstream.connectTimeoutMs),
        outageGraceMs: integer(0, MAX_TIMER_MS, CONFIG_DEFAULTS.upstream.outageGraceMs),
        maxConcurrentHandshakes: integer(1, 10_000, CONFIG_DEFAULTS.upstream.maxConcurrentHandshakes),
        permessageDeflate: { type: 'boolean', default: CONFIG_DEFAULTS.upstream.permessageDeflate },
      },
    },
    stations: {
      type: 'object',
      additionalProperties: false,
      properties: {
        allowUnknown: { type: 'boolean', default: CONFIG_DEFAULTS.stations.allowUnknown },
        list: { type: 'array', items: station },
      },
    },
    authorization: {
      type: 'object',
      additionalProperties: false,
      properties: {
        mode: { enum: AUTHORIZATION_MODES, default: CONFIG_DEFAULTS.authorization.mode },
      },
    },
    mqtt: {
      type: 'object',
      additionalProperties: false,
      required: ['url'],
      properties: {
        url: { type: 'string', pattern: '^mqtts?://\\S+$', errorMessage: 'must be an mqtt:// or mqtts:// URL' },
        tls: tlsFiles,
        topicPrefix: {
          // MQTT 5 section 4.7: wildcards are not allowed in a publish topic.
          type: 'string',
          pattern: '^[^/+#][^+#]*[^/+#]$|^[^/+#]$',
          default: CONFIG_DEFAULTS.mqtt.topicPrefix,
          errorMessage: "must be a topic without '+' or '#' and without a leading or trailing '/'",
        },
        // Events kept while the broker is unreachable; beyond this the oldest are dropped (and counted).
        outboxMaxEvents: integer(100, 10_000_000, CONFIG_DEFAULTS.mqtt.outboxMaxEvents),
        // MQTT 3.1.1 (clean=false) for brokers without MQTT 5 (docs/cloud.md "Connection").
        protocolVersion: { enum: [4, 5], default: CONFIG_DEFAULTS.mqtt.protocolVersion },
      },
    },
    smartCharging: {
      type: 'object',
      additionalProperties: false,
      properties: {
        // chargingProfileId is an OCPP integer; leave room above the base for the ids the gateway allocates.
        profileIdBase: integer(1, 2_000_000_000, CONFIG_DEFAULTS.smartCharging.profileIdBase),
        stackLevel: integer(0, 1000, CONFIG_DEFAULTS.smartCharging.stackLevel),
        callTimeoutMs: integer(1, MAX_TIMER_MS, CONFIG_DEFAULTS.smartCharging.callTimeoutMs),
      },
    },
    provisioning: {
      type: 'object',
      additionalProperties: false,
      properties: {
        url: { type: 'string', pattern: '^https?://\\S+$', errorMessage: 'must be an https:// (or http://) URL' },
        claimBaseUrl: { type: 'string', pattern: '^https?://\\S+$', errorMessage: 'must be an https:// (or http://) URL' },
        ca: pemSource,
      },
    },
    admin: {
      type: 'object',
      additionalProperties: false,
      properties: { socket: nonEmptyString },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      properties: { level: { enum: LOG_LEVELS, default: CONFIG_DEFAULTS.log.level } },
    },
    // docs/appliance.md "Updates": set in the local file only (a device key, never enrolled).
    updates: {
      type: 'object',
      additionalProperties: false,
      properties: {
        dir: nonEmptyString,
        // A file path (the pinned Ed25519 public key, SPKI PEM), read when an update is checked.
        publicKey: { ...nonEmptyString, default: CONFIG_DEFAULTS.updates.publicKey },
        readyTimeoutS: integer(5, 3600, CONFIG_DEFAULTS.updates.readyTimeoutS),
      },
    },
    vpn: {
      type: 'object',
      additionalProperties: false,
      properties: { wireguard },
    },
  },
} as const;
