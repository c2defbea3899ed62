import { lookup } from 'node:dns/promises';
import { isIP, Socket, connect as tcpConnect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { fail, pass, skip, type CheckResult } from './check-result.js';
import { withTimeout } from '../util/with-timeout.js';

/**
 * Reaching a peer step by step, one line each, so that a technician sees
 * where it breaks: the name resolves (as the system resolves it), a TCP
 * connection opens, and for a TLS peer the handshake succeeds with the
 * configured CA and client certificate and the peer does not then refuse
 * that certificate. A step after a failed one is skipped. Each step is
 * bounded by `timeoutMs`.
 */
export interface ProbeTarget {
  /** Id prefix, e.g. `upstream` gives `upstream-dns`, `upstream-tcp`, `upstream-tls`. */
  readonly id: string;
  /** For titles, e.g. `upstream (CPMS)`. */
  readonly name: string;
  readonly url: URL;
  readonly defaultPort: number;
  /** Present for wss:// and mqtts://. */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string };
  /** A fix for an unreachable peer: what is usually wrong. */
  readonly fixUnreachable: string;
  /** Sent after the TLS handshake to draw the peer's first answer (an HTTP request to a CPMS); nothing for a broker. */
  readonly firstBytes?: string;
}

export async function probe(target: ProbeTarget, timeoutMs: number): Promise<CheckResult[]> {
  const host = target.url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = target.url.port === '' ? target.defaultPort : Number(target.url.port);
  const dnsTitle = `${target.name} DNS`;
  const tcpTitle = `${target.name} TCP connect`;
  const tlsTitle = `${target.name} TLS handshake`;
  const results: CheckResult[] = [];

  let address: string;
  if (isIP(host) !== 0) {
    address = host;
    results.push(pass(`${target.id}-dns`, dnsTitle, `${host} is an address, nothing to resolve`));
  } else {
    try {
      const found = await withTimeout(lookup(host), timeoutMs, `no answer within ${timeoutMs} ms`);
      address = found.address;
      results.push(pass(`${target.id}-dns`, dnsTitle, `${host} resolves to ${address}`));
    } catch (error: unknown) {
      results.push(fail(`${target.id}-dns`, dnsTitle, `${host} does not resolve: ${reason(error)}`, 'check the host name in the configuration and the DNS servers (resolvectl status, /etc/resolv.conf)'));
      results.push(skip(`${target.id}-tcp`, tcpTitle, 'needs DNS'));
      if (target.tls) results.push(skip(`${target.id}-tls`, tlsTitle, 'needs TCP'));
      return results;
    }
  }

  try {
    const socket = await openTcp(address, port, timeoutMs);
    socket.destroy();
    results.push(pass(`${target.id}-tcp`, tcpTitle, `${address} port ${port} accepts connections`));
  } catch (error: unknown) {
    results.push(fail(`${target.id}-tcp`, tcpTitle, `${address} port ${port}: ${reason(error)}`, target.fixUnreachable));
    if (target.tls) results.push(skip(`${target.id}-tls`, tlsTitle, 'needs TCP'));
    return results;
  }

  if (target.tls) {
    const trust = target.tls.ca !== undefined ? 'the configured CA' : "the system's trusted roots";
    const identity = target.tls.cert !== undefined && target.tls.key !== undefined ? 'with the client certificate' : 'without a client certificate';
    try {
      const outcome = await handshake(host, address, port, target.tls, timeoutMs, target.firstBytes);
      results.push(pass(`${target.id}-tls`, tlsTitle, `verified against ${trust}, ${identity}: ${outcome}`));
    } catch (error: unknown) {
      results.push(fail(`${target.id}-tls`, tlsTitle, `${reason(error)} (verifying against ${trust}, ${identity})`, tlsFix(error)));
    }
  }
  return results;
}

function openTcp(address: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: address, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms (a firewall dropping the packets?)`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    });
  });
}

/**
 * The handshake, then a moment for the peer's verdict on the client
 * certificate: in TLS 1.3 a server that refuses it says so after the
 * client's side of the handshake is complete, so the socket is read (after
 * `firstBytes`, if any) until the first answer, alert or close, or a second.
 */
function handshake(servername: string, address: string, port: number, tls: NonNullable<ProbeTarget['tls']>, timeoutMs: number, firstBytes: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let socket: TLSSocket | undefined;
    let grace: NodeJS.Timeout | undefined;
    const finish = (error: Error | undefined, detail?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(grace);
      socket?.destroy();
      if (error) reject(error);
      else resolve(detail ?? 'handshake complete');
    };
    const timer = setTimeout(() => finish(new Error(`the handshake did not complete within ${timeoutMs} ms`)), timeoutMs);
    socket = tlsConnect({
      host: address,
      port,
      ...(isIP(servername) === 0 ? { servername } : {}),
      ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
      ...(tls.cert !== undefined && tls.key !== undefined ? { cert: tls.cert, key: tls.key } : {}),
      rejectUnauthorized: true,
    });
    socket.once('secureConnect', () => {
      const protocol = socket?.getProtocol() ?? 'TLS';
      const peer = socket?.getPeerCertificate();
      const subject = peer?.subject?.CN !== undefined ? `, server certificate CN=${String(peer.subject.CN)}` : '';
      const done = `${protocol} handshake complete${subject}`;
      // Give the peer a short moment to refuse the client certificate (TLS 1.3 alerts come after the handshake).
      grace = setTimeout(() => finish(undefined, done), Math.min(1000, timeoutMs));
      socket?.once('data', () => finish(undefined, done));
      socket?.once('end', () => finish(undefined, `${done} (the peer then closed the probe)`));
      if (firstBytes !== undefined) socket?.write(firstBytes);
    });
    socket.once('error', (error) => finish(error));
  });
}

function tlsFix(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const text = reason(error);
  if (code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || code === 'SELF_SIGNED_CERT_IN_CHAIN' || code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY') {
    return "the peer's certificate is not signed by the configured CA: set the right CA file (tls.ca) or ask the operator for the CA that signed it";
  }
  if (code === 'CERT_HAS_EXPIRED') return "the peer's certificate has expired (or this clock is wrong): check the clock, then tell the operator";
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return "the peer's certificate is not for this host name: check the URL's host";
  if (/certificate required|alert number 116|bad certificate|unknown ca|alert number 48|alert number 42/i.test(text)) {
    return 'the peer refused the client certificate: check tls.cert/tls.key (or the enrollment) and that the operator trusts its CA';
  }
  return 'check that the port speaks TLS and that the peer accepts this gateway';
}

export function reason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
}

