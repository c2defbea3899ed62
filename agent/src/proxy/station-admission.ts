import type { IncomingMessage } from 'node:http';
import type { GatewayConfig, StationConfig } from '../config/gateway-config.js';
import { verifyPassword } from '../auth/password-hash.js';
import { GateFullError } from '../errors.js';
import { stationIdProblem } from '../ocpp/station-identity.js';
import type { ConcurrencyGate } from '../util/concurrency-gate.js';
import type { AuthFailureLimiter } from './auth-failure-limiter.js';
import { profileRefusal } from './station-profile-check.js';

export type Admission =
  | { readonly admitted: true; readonly stationId: string; readonly station?: StationConfig; readonly protocols: string[] }
  | { readonly admitted: false; readonly status: number; readonly reason: string; readonly headers?: Record<string, string> };

/** The OCPP subprotocols the gateway relays (docs/station-interface.md). Others are not offered upstream. */
export const RELAYED_SUBPROTOCOLS: ReadonlySet<string> = new Set(['ocpp1.6', 'ocpp2.0', 'ocpp2.0.1', 'ocpp2.1']);

const WEBSOCKET_KEY = /^[+/0-9A-Za-z]{22}==$/;
/**
 * `Sec-WebSocket-Protocol`: a comma-separated list of tokens (RFC 6455
 * section 4.1, token as in RFC 7230 section 3.2.6), checked here as ws checks
 * it when it completes the upgrade, so a station ws would refuse is refused
 * before the CPMS is dialled for it.
 */
const PROTOCOL_LIST = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t]*,[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+)*[ \t]*$/;

function refuse(status: number, reason: string, headers?: Record<string, string>): Admission {
  return headers ? { admitted: false, status, reason, headers } : { admitted: false, status, reason };
}

/** What admission needs besides the request: the config, and the two bounds on password checks. */
export interface AdmissionContext {
  readonly config: GatewayConfig;
  readonly stationsById: ReadonlyMap<string, StationConfig>;
  readonly limiter: AuthFailureLimiter;
  /** Bounds the scrypt hashes in flight: they run on libuv's pool, which DNS lookups share. */
  readonly hashing: ConcurrencyGate;
}

/** How long a station told to wait (429 is the limiter's own figure) should wait when password checks are saturated. */
const HASHING_BUSY_RETRY_AFTER_S = 5;

/**
 * Decide whether a station's WebSocket upgrade may proceed, before any
 * upstream connection is opened: path and station id (docs/station-interface.md),
 * allow-list (404 for unknown ids, as CSMSs answer), the station's configured
 * security profile (station-profile-check.ts), and Profile 1 Basic Auth
 * checked locally when a password is configured (401 on a wrong one).
 */
export async function admitStation(request: IncomingMessage, context: AdmissionContext): Promise<Admission> {
  const { config, stationsById, limiter } = context;
  const key = request.headers['sec-websocket-key'];
  const version = request.headers['sec-websocket-version'];
  if (request.method !== 'GET' || request.headers.upgrade?.toLowerCase() !== 'websocket' || typeof key !== 'string' || !WEBSOCKET_KEY.test(key) || (version !== '13' && version !== '8')) {
    return refuse(400, 'not a valid WebSocket upgrade');
  }
  const protocolHeader = request.headers['sec-websocket-protocol'];
  if (protocolHeader !== undefined && !isProtocolList(protocolHeader)) return refuse(400, 'Sec-WebSocket-Protocol is not a list of distinct tokens');
  const stationId = stationIdFromPath(request.url ?? '', config.listen.path);
  if (stationId === undefined) return refuse(404, `path is not ${config.listen.path}/<stationId>`);
  const idProblem = stationIdProblem(stationId);
  if (idProblem) return refuse(400, idProblem);
  const station = stationsById.get(stationId);
  if (!station && !config.stations.allowUnknown) return refuse(404, 'station is not on the allow-list');
  const weaker = profileRefusal(request, stationId, station);
  if (weaker) return refuse(weaker.status, weaker.reason, weaker.headers);

  if (station && (station.password !== undefined || station.passwordHash !== undefined)) {
    // Keyed by address *and* id: stations behind one NAT share an address, and
    // a guesser must not be able to lock a real station out from elsewhere.
    const limiterKey = `${request.socket.remoteAddress ?? 'unknown'}|${stationId}`;
    const waitMs = limiter.retryAfterMs(limiterKey);
    if (waitMs > 0) {
      return refuse(429, 'too many failed password attempts', { 'retry-after': String(Math.ceil(waitMs / 1000)) });
    }
    // Counted as a failure *before* the check: scrypt is asynchronous, and a
    // burst of parallel guesses would otherwise all pass the limiter before the
    // first one is judged. A right password takes the count back.
    limiter.recordFailure(limiterKey);
    const credentials = parseBasicAuth(request.headers.authorization);
    let ok: boolean;
    try {
      // OCPP security: the Basic Auth username SHALL equal the station identity.
      ok = credentials !== undefined && credentials.username === stationId && (await checkPassword(credentials.password, station, context.hashing));
    } catch (error: unknown) {
      if (error instanceof GateFullError) return refuse(503, 'too many password checks in progress', { 'retry-after': String(HASHING_BUSY_RETRY_AFTER_S) });
      throw error;
    }
    if (!ok) {
      return refuse(401, credentials ? 'wrong station credentials' : 'station credentials required', {
        'www-authenticate': 'Basic realm="pleevi-edge", charset="UTF-8"',
      });
    }
    limiter.recordSuccess(limiterKey);
  }

  const offered = String(request.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((protocol) => protocol.trim())
    .filter((protocol) => RELAYED_SUBPROTOCOLS.has(protocol));
  return station ? { admitted: true, stationId, station, protocols: offered } : { admitted: true, stationId, protocols: offered };
}

function isProtocolList(header: string): boolean {
  if (!PROTOCOL_LIST.test(header)) return false;
  const names = header.split(',').map((name) => name.trim());
  return new Set(names).size === names.length;
}

/** A plain configured password is compared at once; a hash costs an scrypt on the thread pool, so it takes a slot of `hashing`. */
function checkPassword(password: string, station: StationConfig, hashing: ConcurrencyGate): Promise<boolean> {
  if (station.passwordHash === undefined) return verifyPassword(password, station);
  return hashing.run(() => verifyPassword(password, station));
}

/** The station id is the last path segment after the prefix, percent-decoded; undefined when the path does not match. */
export function stationIdFromPath(url: string, prefix: string): string | undefined {
  const pathname = url.split('?', 1)[0] ?? '';
  const base = `${prefix}/`;
  if (!pathname.startsWith(base)) return undefined;
  const encoded = pathname.slice(base.length);
  if (encoded.length === 0 || encoded.includes('/')) return undefined;
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}

function parseBasicAuth(header: string | undefined): { username: string; password: string } | undefined {
  if (!header) return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
