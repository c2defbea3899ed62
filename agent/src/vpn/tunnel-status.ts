/**
 * The WireGuard tunnel as the daemon sees it: `pleevi-edge vpn run` (root)
 * reads `wg show <interface> dump` every `checkIntervalS` and writes the
 * status file; the unprivileged daemon, `status` and any other check (a
 * `diag` command) read it through `tunnelState`. No key material is in the
 * file except the public keys.
 */
import { readFileSync } from 'node:fs';
import type { WireguardConfig } from '../config/gateway-config.js';

/** What the supervisor writes (`<dataDir>/vpn-status.json`), version 1. */
export interface TunnelStatusFile {
  readonly version: 1;
  readonly interface: string;
  /** `kernel` (`ip link add ... type wireguard`) or `wireguard-go` (userspace, over /dev/net/tun). */
  readonly implementation: 'kernel' | 'wireguard-go' | null;
  /** The interface exists and is configured. */
  readonly interfaceUp: boolean;
  /** The gateway's public key: register it at the VPN server. */
  readonly publicKey: string | null;
  readonly address: string;
  readonly peer: {
    readonly publicKey: string;
    /** The configured endpoint, and the address WireGuard last used for it. */
    readonly endpoint: string;
    readonly currentEndpoint: string | null;
    readonly allowedIps: readonly string[];
    /** ISO time of the latest handshake; null: none since the interface was made. */
    readonly latestHandshakeAt: string | null;
    /** ISO time the supervisor last saw the received bytes grow (keepalives and data from the peer). */
    readonly lastReceivedAt: string | null;
    readonly rxBytes: number;
    readonly txBytes: number;
  };
  /** When the supervisor last looked (ISO). */
  readonly updatedAt: string;
  readonly checkIntervalS: number;
  /** The supervisor's pid, for messages. */
  readonly pid: number;
  /** `stopped` once the supervisor has removed the tunnel and exited. */
  readonly supervisor: 'running' | 'stopped';
  readonly lastError: { readonly message: string; readonly at: string } | null;
}

export type TunnelStateName = 'up' | 'down';

/** The tunnel for `status`, `status --json` and checks. */
export interface TunnelState {
  readonly state: TunnelStateName;
  /** Why it is down (or, when up, undefined). */
  readonly reason?: string;
  readonly interface: string;
  readonly implementation: TunnelStatusFile['implementation'];
  readonly publicKey: string | null;
  readonly address: string;
  readonly endpoint: string;
  readonly latestHandshakeAt: string | null;
  readonly handshakeAgeS: number | null;
  /** Seconds since the peer was last heard from: a handshake, or bytes received. */
  readonly heardAgeS: number | null;
  readonly rxBytes: number;
  readonly txBytes: number;
  /** When the supervisor last wrote its status. */
  readonly checkedAt: string | null;
  readonly lastError: TunnelStatusFile['lastError'];
  readonly handshakeMaxAgeS: number;
}

/** Read the status file; undefined when there is none (the supervisor never ran) or it cannot be parsed. */
export function readTunnelStatusFile(path: string): TunnelStatusFile | undefined {
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as Partial<TunnelStatusFile>;
    return value.version === 1 && typeof value.updatedAt === 'string' && value.peer !== undefined ? (value as TunnelStatusFile) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The tunnel's state from the supervisor's status file: `up` when the peer
 * was heard from (its latest handshake, or bytes received from it) within
 * `handshakeMaxAgeS` and the file is fresh (the
 * supervisor wrote it within three check intervals, at least 15 s); `down`
 * otherwise, with the reason.
 */
export function tunnelState(config: WireguardConfig, now = Date.now()): TunnelState {
  const file = readTunnelStatusFile(config.statusFile);
  const base = {
    interface: config.interface,
    address: config.address,
    endpoint: config.peer.endpoint,
    handshakeMaxAgeS: config.handshakeMaxAgeS,
  };
  if (file === undefined) {
    return {
      ...base,
      state: 'down',
      reason: `the VPN supervisor has written no status (${config.statusFile}): is pleevi-edge-vpn.service running?`,
      implementation: null,
      publicKey: null,
      latestHandshakeAt: null,
      handshakeAgeS: null,
      heardAgeS: null,
      rxBytes: 0,
      txBytes: 0,
      checkedAt: null,
      lastError: null,
    };
  }
  const handshakeAgeS = ageS(file.peer.latestHandshakeAt, now);
  const receivedAgeS = handshakeAgeS === null ? null : ageS(file.peer.lastReceivedAt ?? null, now);
  // Heard from: a handshake (WireGuard makes one every 2 minutes while traffic flows), or bytes received since.
  const heardAgeS = handshakeAgeS === null ? null : Math.min(handshakeAgeS, receivedAgeS ?? handshakeAgeS);
  const fileAgeS = (now - Date.parse(file.updatedAt)) / 1000;
  const staleAfterS = Math.max(15, 3 * file.checkIntervalS);
  const reason =
    file.supervisor === 'stopped'
      ? 'the VPN supervisor is stopped (pleevi-edge-vpn.service)'
      : !(fileAgeS <= staleAfterS)
        ? `the VPN supervisor's status is ${Math.round(fileAgeS)} s old: is pleevi-edge-vpn.service running?`
        : !file.interfaceUp
          ? `the interface ${file.interface} is not up${file.lastError ? `: ${file.lastError.message}` : ''}`
          : handshakeAgeS === null
            ? `no handshake with the peer ${file.peer.endpoint} yet`
            : heardAgeS !== null && heardAgeS > config.handshakeMaxAgeS
              ? `the latest handshake is ${handshakeAgeS} s old and nothing was received for ${heardAgeS} s (more than ${config.handshakeMaxAgeS} s): the peer ${file.peer.endpoint} does not answer`
              : undefined;
  return {
    ...base,
    state: reason === undefined ? 'up' : 'down',
    ...(reason !== undefined ? { reason } : {}),
    implementation: file.implementation,
    publicKey: file.publicKey,
    latestHandshakeAt: file.peer.latestHandshakeAt,
    handshakeAgeS,
    heardAgeS,
    rxBytes: file.peer.rxBytes,
    txBytes: file.peer.txBytes,
    checkedAt: file.updatedAt,
    lastError: file.lastError,
  };
}

function ageS(iso: string | null, now: number): number | null {
  const at = iso === null ? Number.NaN : Date.parse(iso);
  return Number.isNaN(at) ? null : Math.max(0, Math.round((now - at) / 1000));
}

/** One line for `status`: `up: pleevi-wg0 10.99.0.2/32 to 203.0.113.7:51820, handshake 12 s ago, received 1.2 KiB, sent 3.4 KiB`. */
export function describeTunnel(tunnel: TunnelState): string {
  const handshake = tunnel.handshakeAgeS === null ? 'no handshake yet' : `handshake ${tunnel.handshakeAgeS} s ago`;
  const traffic = `received ${formatBytes(tunnel.rxBytes)}, sent ${formatBytes(tunnel.txBytes)}`;
  const head = `${tunnel.interface} ${tunnel.address} to ${tunnel.endpoint}, ${handshake}, ${traffic}`;
  return tunnel.state === 'up' ? `up: ${head}` : `DOWN: ${tunnel.reason ?? 'unknown'}; ${head}`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
