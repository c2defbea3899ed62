import type { IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';
import type { StationConfig } from '../config/gateway-config.js';
import { hasBasicAuth } from './hop-security.js';

/** Why a handshake does not meet the station's configured profile, as the HTTP answer says it. */
export interface ProfileRefusal {
  readonly status: number;
  readonly reason: string;
  readonly headers?: Record<string, string>;
}

const BASIC_CHALLENGE = { 'www-authenticate': 'Basic realm="pleevi-edge", charset="UTF-8"' };

/** What the station's TLS session says about its client certificate. */
type ClientCertificate =
  | { readonly kind: 'none' }
  | { readonly kind: 'verified'; readonly commonName: string }
  | { readonly kind: 'rejected'; readonly why: string };

function clientCertificateOf(request: IncomingMessage): ClientCertificate {
  const socket = request.socket;
  if (!(socket instanceof TLSSocket)) return { kind: 'none' };
  const peer = socket.getPeerCertificate();
  if (!peer || Object.keys(peer).length === 0) return { kind: 'none' };
  if (!socket.authorized) return { kind: 'rejected', why: String(socket.authorizationError ?? 'not trusted') };
  const commonName = peer.subject?.CN;
  return { kind: 'verified', commonName: typeof commonName === 'string' ? commonName : '' };
}

/**
 * The station's security profile against the one configured for it
 * (`stations.list[].profile`, docs/station-interface.md "Security profiles"):
 * a station never gets in on a weaker profile than its entry demands, and a
 * client certificate admits only the station it names.
 *
 * Which name: the certificate's subject commonName must equal the station
 * identity. OCPP 2.0.1 Part 2 (A00, certificate properties) and the 1.6
 * Security Whitepaper put the charging station's serial number, which is its
 * identity toward the CSMS, in the CN of its certificate, and have the CSMS
 * check it; the gateway stands in for the CSMS on this hop.
 *
 * A certificate the station CA does not vouch for (wrong CA, expired,
 * revoked by `listen.tls.crl`) refuses a Profile 3 station; for a station
 * that needs no certificate it is ignored, as if none was sent (a station may
 * carry a certificate for its CPMS that the gateway's CA does not know).
 */
export function profileRefusal(request: IncomingMessage, stationId: string, station: StationConfig | undefined): ProfileRefusal | undefined {
  const required = station?.profile ?? 0;
  const secure = request.socket instanceof TLSSocket;
  const certificate = clientCertificateOf(request);
  if (certificate.kind === 'verified' && certificate.commonName !== stationId) {
    return { status: 403, reason: `the client certificate names "${certificate.commonName}", not this station` };
  }
  if (required >= 2 && !secure) {
    return { status: 403, reason: `this station must connect over wss:// (security profile ${required} is configured for it)` };
  }
  if (required === 3) {
    if (certificate.kind === 'none') return { status: 403, reason: 'this station must present a client certificate (security profile 3 is configured for it)' };
    if (certificate.kind === 'rejected') return { status: 403, reason: `the client certificate is not accepted: ${certificate.why}` };
    return undefined;
  }
  if (required >= 1 && certificate.kind !== 'verified' && !hasBasicAuth(request.headers.authorization)) {
    return { status: 401, reason: `station credentials required (security profile ${required} is configured for it)`, headers: BASIC_CHALLENGE };
  }
  return undefined;
}
