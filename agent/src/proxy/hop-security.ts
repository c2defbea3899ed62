import type { IncomingMessage } from 'node:http';
import { TLSSocket, type PeerCertificate } from 'node:tls';
import type { Socket } from 'node:net';

/**
 * The OCPP security profiles (OCPP 1.6 Security Whitepaper section 2, OCPP
 * 2.0.1 Part 2 section A00.FR / "Security Profiles"):
 * 0 plain `ws` without authentication (not a profile of the specification:
 *   what a site without any security runs),
 * 1 `ws` + HTTP Basic Authentication,
 * 2 `wss` (server certificate) + HTTP Basic Authentication,
 * 3 `wss` with a client certificate on both sides.
 */
export type SecurityProfile = 0 | 1 | 2 | 3;

/** One hop's security as the gateway saw it in the handshake (docs/station-interface.md "Security report"). */
export interface HopSecurity {
  readonly scheme: 'ws' | 'wss';
  /**
   * The profile the hop matches; null for `wss` with neither Basic Auth nor
   * a client certificate, which is none of them.
   */
  readonly profile: SecurityProfile | null;
  readonly basicAuth: boolean;
  readonly clientCertificate: boolean;
  /** `TLSv1.3`, `TLSv1.2`; null on `ws`. */
  readonly tlsVersion: string | null;
  /** The negotiated cipher suite (OpenSSL name); null on `ws`. */
  readonly cipher: string | null;
  /** notAfter (ISO 8601) of the hop's server certificate; null on `ws`. */
  readonly serverCertificateExpiresAt: string | null;
  /** notAfter (ISO 8601) of the client certificate on this hop; null without one. */
  readonly clientCertificateExpiresAt: string | null;
}

/** Both hops of one station's connection: station to gateway, gateway to CPMS. */
export interface ConnectionSecurity {
  readonly station: HopSecurity;
  readonly upstream: HopSecurity;
}

export function profileOf(scheme: 'ws' | 'wss', basicAuth: boolean, clientCertificate: boolean): SecurityProfile | null {
  if (scheme === 'ws') return basicAuth ? 1 : 0;
  if (clientCertificate) return 3;
  return basicAuth ? 2 : null;
}

export function hasBasicAuth(authorization: string | undefined): boolean {
  return authorization !== undefined && /^basic\s/i.test(authorization);
}

/** A certificate's notAfter as ISO 8601; null when the object is empty (no certificate). */
function expiryOf(certificate: PeerCertificate | object | null | undefined): string | null {
  const validTo = certificate && 'valid_to' in certificate ? certificate.valid_to : undefined;
  if (typeof validTo !== 'string' || validTo === '') return null;
  const at = new Date(validTo);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}

interface TlsFacts {
  readonly tlsVersion: string | null;
  readonly cipher: string | null;
  readonly local: string | null;
  readonly peer: string | null;
  readonly peerAuthorized: boolean;
}

function tlsFacts(socket: Socket | undefined): TlsFacts {
  if (!(socket instanceof TLSSocket)) return { tlsVersion: null, cipher: null, local: null, peer: null, peerAuthorized: false };
  const peer = socket.getPeerCertificate();
  return {
    tlsVersion: socket.getProtocol() ?? null,
    cipher: socket.getCipher()?.name ?? null,
    local: expiryOf(socket.getCertificate()),
    peer: expiryOf(peer),
    peerAuthorized: socket.authorized,
  };
}

/**
 * The station's hop, from its upgrade request: the listener it came to, its
 * Authorization header, and on `wss` the TLS session (a client certificate
 * counts only when it was verified).
 */
export function stationHopSecurity(request: IncomingMessage, secure: boolean): HopSecurity {
  const tls = tlsFacts(request.socket);
  const clientCertificate = tls.peer !== null && tls.peerAuthorized;
  return hop(secure ? 'wss' : 'ws', hasBasicAuth(request.headers.authorization), clientCertificate, tls, tls.local, clientCertificate ? tls.peer : null);
}

/**
 * The upstream hop, from the socket of the CPMS's 101 answer and what the
 * gateway sent: its Authorization header and whether it presented a client
 * certificate.
 */
export function upstreamHopSecurity(socket: Socket | undefined, sentAuthorization: string | undefined): HopSecurity {
  const tls = tlsFacts(socket);
  return hop(socket instanceof TLSSocket ? 'wss' : 'ws', hasBasicAuth(sentAuthorization), tls.local !== null, tls, tls.peer, tls.local);
}

function hop(
  scheme: 'ws' | 'wss',
  basicAuth: boolean,
  clientCertificate: boolean,
  tls: TlsFacts,
  serverCertificateExpiresAt: string | null,
  clientCertificateExpiresAt: string | null,
): HopSecurity {
  return {
    scheme,
    profile: profileOf(scheme, basicAuth, clientCertificate),
    basicAuth,
    clientCertificate,
    tlsVersion: tls.tlsVersion,
    cipher: tls.cipher,
    serverCertificateExpiresAt,
    clientCertificateExpiresAt,
  };
}

/** `P1 ws+basic`, `P3 wss TLSv1.3`: one short cell for the `stations` table. */
export function describeHop(hop: HopSecurity): string {
  const profile = hop.profile === null ? 'P?' : `P${hop.profile}`;
  const auth = [hop.basicAuth ? 'basic' : '', hop.clientCertificate ? 'cert' : ''].filter(Boolean).join('+');
  return [profile, auth ? `${hop.scheme}+${auth}` : hop.scheme, hop.tlsVersion ?? ''].filter(Boolean).join(' ');
}

function isHop(value: unknown): value is HopSecurity {
  if (typeof value !== 'object' || value === null) return false;
  const hop = value as Record<string, unknown>;
  return (hop.scheme === 'ws' || hop.scheme === 'wss') && (hop.profile === null || typeof hop.profile === 'number') && typeof hop.basicAuth === 'boolean' && typeof hop.clientCertificate === 'boolean';
}

/** The `stations.security` column back; null when absent or not what this version writes. */
export function parseStoredSecurity(text: string | null): ConnectionSecurity | null {
  if (text === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { station, upstream } = value as Record<string, unknown>;
  return isHop(station) && isHop(upstream) ? { station, upstream } : null;
}
