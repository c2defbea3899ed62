/**
 * The resolved configuration: the file of docs/configuration.md after validation,
 * with every default filled in and every file path resolved against the
 * config file's folder. The rest of the agent reads only this shape.
 */
import type { GatewayIdSource } from '../provisioning/gateway-id.js';

export type AuthorizationMode = 'cpms' | 'local';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface TlsFiles {
  /** PEM contents, already read from disk. */
  readonly cert?: string;
  readonly key?: string;
  readonly ca?: string;
}

export interface ListenConfig {
  readonly host: string;
  readonly port: number;
  /** URL prefix before the station id, e.g. `/ocpp`. Always starts with `/`, never ends with one. */
  readonly path: string;
  /** Profile 2 listener for stations that speak `wss://`. */
  readonly tls?: {
    readonly port: number;
    readonly cert: string;
    readonly key: string;
    /** Station CA(s): with it the listener asks stations for a client certificate (Profile 3). */
    readonly clientCa?: string;
    /** Revoked station certificates (PEM X509 CRL of the station CA). */
    readonly crl?: string;
  };
  /** Largest WebSocket message accepted from a station, in bytes. */
  readonly maxFrameBytes: number;
  /** Bytes allowed to queue toward one slow peer before its link is closed. */
  readonly maxBufferedBytes: number;
  /** Interval of the RFC 6455 pings that detect a dead peer, on each hop. */
  readonly pingIntervalMs: number;
}

export interface UpstreamConfig {
  readonly url: string;
  readonly tls: TlsFiles;
  readonly connectTimeoutMs: number;
  readonly outageGraceMs: number;
  /** Upstream WebSocket handshakes (dials and redials) in progress at once; the rest wait their turn. */
  readonly maxConcurrentHandshakes: number;
  /** Offer permessage-deflate (RFC 7692) to the CPMS. */
  readonly permessageDeflate: boolean;
}

export interface StationUpstreamConfig {
  readonly username?: string;
  readonly password?: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface StationConfig {
  readonly id: string;
  /** The weakest security profile the station may connect with (0 when not set: any). */
  readonly profile?: 0 | 1 | 2 | 3;
  /** Plain password to check locally (Profile 1). */
  readonly password?: string;
  /** `scrypt$N$r$p$salt$hash`, see `pleevi-edge password hash`. */
  readonly passwordHash?: string;
  readonly upstream?: StationUpstreamConfig;
}

export interface MqttConfig {
  readonly url: string;
  readonly tls: TlsFiles;
  readonly topicPrefix: string;
  /** Durable outbox bound: events kept while the broker is unreachable. */
  readonly outboxMaxEvents: number;
  /** 5 (default): MQTT 5 with session expiry and response topics; 4: MQTT 3.1.1 with clean=false (docs/cloud.md "Connection"). */
  readonly protocolVersion: 4 | 5;
}

/**
 * What the gateway needs of its configuration to exist on the LAN at all:
 * its identity, where it keeps its state, where it listens, how it is
 * administered. An unclaimed gateway (docs/provisioning.md) runs on this
 * alone until enrollment brings the rest.
 */
export interface DeviceConfig {
  /** Where the file came from, for messages; undefined for built-in configs. */
  readonly source?: string;
  readonly gatewayId: string;
  /** Where gatewayId came from; undefined for configs built in code (tests, the demo), which set it. */
  readonly gatewayIdSource?: GatewayIdSource;
  readonly dataDir: string;
  readonly listen: ListenConfig;
  readonly provisioning?: ProvisioningConfig;
  readonly admin: { readonly socket: string };
  readonly log: { readonly level: LogLevel };
  /** Signed updates (docs/appliance.md "Updates"); the loader always fills it in, configs built in code may leave it out (defaults). */
  readonly updates?: UpdatesConfig;
  /**
   * JSON paths of the passwords and inline private keys written in the
   * config file (never their values), so that `config check` and `run` can
   * warn when others may read the file.
   */
  readonly secretsInFile?: readonly string[];
}

export interface UpdatesConfig {
  /** Where the agent leaves a verified bundle and its request for the privileged helper; default `<dataDir>/updates`. */
  readonly dir: string;
  /** The pinned Ed25519 public key (SPKI PEM file) every bundle's signature is checked against. */
  readonly publicKey: string;
  /** How long a new release has to report ready before the helper switches back. */
  readonly readyTimeoutS: number;
}

export interface ProvisioningConfig {
  /** The enrollment service (docs/provisioning.md "The enrollment API"). */
  readonly url?: string;
  /** Start of the claim link in the QR code. */
  readonly claimBaseUrl?: string;
  /** PEM of the CA that the enrollment service's HTTPS certificate chains to; default: the system's roots. */
  readonly ca?: string;
}

/**
 * `vpn.wireguard`: the tunnel the CPMS is reached through. The daemon itself
 * is unprivileged and only reads the tunnel's state; `pleevi-edge vpn run`
 * (root, systemd/pleevi-edge-vpn.service) builds the interface from this.
 */
export interface WireguardConfig {
  readonly interface: string;
  /** Absolute path of the private key (base64, mode 0600): the configured file, else `<dataDir>/identity/wireguard.key`, made at first use. */
  readonly privateKeyFile: string;
  /** True when privateKeyFile was not configured: the gateway's own key, made by it. */
  readonly generatedKey: boolean;
  /** The gateway's tunnel address with its prefix, e.g. `10.99.0.2/32`. */
  readonly address: string;
  readonly peer: {
    readonly publicKey: string;
    /** `host:port` */
    readonly endpoint: string;
    readonly allowedIps: readonly string[];
    readonly persistentKeepaliveS: number;
    readonly presharedKeyFile?: string;
  };
  /** A tunnel whose latest handshake is older than this is down. */
  readonly handshakeMaxAgeS: number;
  /** How often the supervisor reads the tunnel and writes its status file. */
  readonly checkIntervalS: number;
  /** Where the supervisor writes the tunnel's state and the daemon reads it: `<dataDir>/vpn-status.json`. */
  readonly statusFile: string;
}

/** A gateway that can relay: the device part plus where the CPMS is and what the features do. */
export interface GatewayConfig extends DeviceConfig {
  readonly upstream: UpstreamConfig;
  readonly stations: {
    readonly allowUnknown: boolean;
    readonly list: readonly StationConfig[];
  };
  readonly authorization: { readonly mode: AuthorizationMode };
  readonly mqtt?: MqttConfig;
  readonly smartCharging: {
    readonly profileIdBase: number;
    readonly stackLevel: number;
    /** How long a gateway call waits for the station's answer. */
    readonly callTimeoutMs: number;
  };
  /** Absent: no tunnel, nothing of it in status. */
  readonly vpn?: { readonly wireguard: WireguardConfig };
}
