import { WebSocket, type ClientOptions } from 'ws';
import type { IncomingMessage } from 'node:http';
import { stationIdProblem } from '../ocpp/station-identity.js';
import {
  InvalidStationIdError,
  UpstreamNoSubprotocolError,
  UpstreamRefusedError,
  UpstreamTimeoutError,
  UpstreamUnreachableError,
} from '../errors.js';
import type { StationConfig, UpstreamConfig } from '../config/gateway-config.js';
import type { UpstreamTls } from './upstream-tls.js';
import type { SecureContext } from 'node:tls';
import { upstreamHopSecurity, type HopSecurity } from './hop-security.js';

export interface EarlyFrame {
  readonly data: Buffer;
  readonly isBinary: boolean;
}

export interface UpstreamConnection {
  readonly socket: WebSocket;
  /** The subprotocol the CPMS chose ('' when the station offered none). */
  readonly protocol: string;
  /** Frames the CPMS sent before the link took the socket over, in order. */
  readonly early: EarlyFrame[];
  /** The hop's profile, TLS version, cipher and certificates (hop-security.ts). */
  readonly security: HopSecurity;
}

export interface DialRequest {
  readonly stationId: string;
  readonly protocols: readonly string[];
  /** The station's own Authorization header, passed through unless per-station credentials replace it. */
  readonly stationAuthorization?: string;
  readonly station?: StationConfig;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Reused TLS contexts and sessions for `wss://` (upstream-tls.ts); without it each dial builds its own. */
  readonly tls?: UpstreamTls;
}

/** Frames the CPMS may send toward the station; larger than the station limit (SendLocalList can be big). */
const UPSTREAM_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/**
 * Cellular sites pay per byte: offer RFC 7692 compression to the CPMS. Without
 * context takeover ws compresses only messages over `threshold` (with
 * takeover it compresses every message, which the benchmark measured at 4x
 * the CPU per frame): Heartbeats and small CALLRESULTs go as they are, boot
 * notifications, meter values and local lists shrink. Small windows keep the
 * zlib state small on a Raspberry Pi.
 */
const UPSTREAM_DEFLATE = {
  clientNoContextTakeover: true,
  serverNoContextTakeover: true,
  clientMaxWindowBits: 11,
  serverMaxWindowBits: 11,
  threshold: 512,
  zlibDeflateOptions: { memLevel: 4 },
} as const;

/** How much of a refusal body is passed back to the station. */
const MAX_REFUSAL_BODY_BYTES = 4096;

/**
 * docs/station-interface.md "The upstream connection": `<upstream.url>/<percent-encoded station id>`.
 * The listener admits only ids that make one path segment (ocpp/station-identity.ts); this checks
 * it once more where it matters, so no id can ever point the CPMS dial (with the gateway's client
 * certificate) at another path.
 */
export function upstreamUrlFor(baseUrl: string, stationId: string): string {
  const base = baseUrl.replace(/\/+$/, '');
  const segment = encodeURIComponent(stationId);
  const url = `${base}/${segment}`;
  const problem = stationIdProblem(stationId);
  if (problem || new URL(url).pathname !== `${new URL(base).pathname.replace(/\/+$/, '')}/${segment}`) {
    throw new InvalidStationIdError(stationId, problem ?? 'it does not stay one path segment of the CPMS URL');
  }
  return url;
}

/**
 * Open the upstream WebSocket for one station, during the station's own
 * handshake (docs/ocpp-notes.md "Connection"): the CPMS's subprotocol choice and any
 * HTTP refusal can then be answered to the station as they are.
 *
 * TLS verification is always on (`rejectUnauthorized` is never set false);
 * a custom CA root replaces the system roots when configured.
 */
export function dialUpstream(upstream: UpstreamConfig, request: DialRequest): Promise<UpstreamConnection> {
  const headers: Record<string, string> = {};
  const credentials = request.station?.upstream;
  if (credentials?.username !== undefined && credentials.password !== undefined) {
    // Per-station upstream credentials: a Profile 0 station carried as Profile 1/2.
    headers.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
  } else if (request.stationAuthorization && credentials?.cert === undefined) {
    // Only a station without credentials of its own toward the CPMS passes its
    // header on: one that authenticates upstream with its own certificate
    // keeps its LAN password (meant for the gateway) on the LAN.
    headers.authorization = request.stationAuthorization;
  }
  // ws hands these options to https.request and tls.connect, which take a ready `secureContext`.
  const options: ClientOptions & { secureContext?: SecureContext } = {
    headers,
    handshakeTimeout: request.timeoutMs,
    maxPayload: UPSTREAM_MAX_FRAME_BYTES,
    followRedirects: false,
    perMessageDeflate: upstream.permessageDeflate ? UPSTREAM_DEFLATE : false,
    rejectUnauthorized: true,
  };
  const cert = credentials?.cert ?? upstream.tls.cert;
  const key = credentials?.cert ? credentials.key : upstream.tls.key;
  if (upstream.url.startsWith('wss:') && request.tls) {
    // One parsed context and a TLS session cache per identity (upstream-tls.ts).
    const setup = request.tls.setupFor(upstream.tls.ca, cert && key ? cert : undefined, cert && key ? key : undefined);
    options.secureContext = setup.secureContext;
    options.agent = setup.agent;
  } else {
    if (upstream.tls.ca) options.ca = upstream.tls.ca;
    if (cert && key) {
      options.cert = cert;
      options.key = key;
    }
  }

  let url: string;
  try {
    url = upstreamUrlFor(upstream.url, request.stationId);
  } catch (error: unknown) {
    return Promise.reject(error);
  }
  return new Promise<UpstreamConnection>((resolve, reject) => {
    let settled = false;
    const early: EarlyFrame[] = [];
    const socket = new WebSocket(url, [...request.protocols], options);
    let security: HopSecurity | undefined;
    // The 101 answer's socket is the TLS session with the CPMS: read it before ws takes it over.
    socket.once('upgrade', (response: IncomingMessage) => {
      security = upstreamHopSecurity(response.socket, headers.authorization);
    });

    const settle = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      request.signal?.removeEventListener('abort', onAbort);
      // The link installs its own handlers; drop these so the closures (and the
      // request they hold) are not kept alive for the connection's life.
      socket.removeListener('error', onHandshakeError);
      socket.on('error', ignoreLateError);
      if (error) {
        socket.removeAllListeners('message');
        reject(error);
      } else {
        resolve({ socket, protocol: socket.protocol, early, security: security ?? upstreamHopSecurity(undefined, headers.authorization) });
      }
    };
    const onAbort = (): void => {
      socket.terminate();
      settle(new UpstreamUnreachableError('station went away during the handshake'));
    };
    request.signal?.addEventListener('abort', onAbort, { once: true });

    // The CPMS may speak first (e.g. a TriggerMessage right after accepting):
    // keep those frames until the station link is ready to relay them.
    socket.on('message', function keepEarly(data, isBinary) {
      early.push({ data: Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer), isBinary });
    });
    socket.once('open', () => settle(undefined));
    socket.once('unexpected-response', (_req, response: IncomingMessage) => {
      readRefusal(response)
        .then((body) => settle(new UpstreamRefusedError(response.statusCode ?? 502, refusalHeaders(response), body)))
        .catch(() => settle(new UpstreamRefusedError(response.statusCode ?? 502, refusalHeaders(response), Buffer.alloc(0))))
        .finally(() => socket.terminate());
    });
    const onHandshakeError = (error: Error): void => {
      if (settled) return;
      const message = error.message;
      if (/handshake has timed out/i.test(message)) settle(new UpstreamTimeoutError(request.timeoutMs));
      // ws's wording when the CPMS answers 101 without Sec-WebSocket-Protocol (ws lib/websocket.js).
      else if (/sent no subprotocol/i.test(message)) settle(new UpstreamNoSubprotocolError());
      else settle(new UpstreamUnreachableError(`CPMS unreachable: ${describeNetworkError(error)}`, { cause: error }));
    };
    socket.on('error', onHandshakeError);
  });
}

/** Errors after the handshake settled: the link's own handler logs them; this one only keeps a late one from crashing the process. */
function ignoreLateError(): void {}

function describeNetworkError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code ? `${code} ${error.message}` : error.message;
}

/** Headers of a refusal worth passing to the station (the challenge, the retry hint). */
function refusalHeaders(response: IncomingMessage): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of ['www-authenticate', 'retry-after', 'content-type']) {
    const value = response.headers[name];
    if (typeof value === 'string') kept[name] = value;
  }
  return kept;
}

function readRefusal(response: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      if (size < MAX_REFUSAL_BODY_BYTES) chunks.push(chunk.subarray(0, MAX_REFUSAL_BODY_BYTES - size));
      size += chunk.length;
    });
    response.on('end', () => resolve(Buffer.concat(chunks)));
    response.on('error', reject);
    setTimeout(() => resolve(Buffer.concat(chunks)), 1000).unref();
  });
}
