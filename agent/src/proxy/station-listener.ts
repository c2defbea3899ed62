import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { GatewayConfig, StationConfig, TlsFiles, UpstreamConfig } from '../config/gateway-config.js';
import {
  describeError,
  GateFullError,
  InvalidStationIdError,
  UpstreamNoSubprotocolError,
  UpstreamRefusedError,
  UpstreamTimeoutError,
  UpstreamUnreachableError,
} from '../errors.js';
import type { InspectionPipeline } from '../ocpp/inspection-pipeline.js';
import { serveLanPage, type LanPageView } from '../provisioning/lan-page.js';
import type { Logger } from '../util/logger.js';
import { ConcurrencyGate } from '../util/concurrency-gate.js';
import { AuthFailureLimiter } from './auth-failure-limiter.js';
import { CloseCode } from './close-codes.js';
import { writeHttpRefusal } from './http-refusal.js';
import type { RelayMetrics } from './relay-metrics.js';
import { admitStation, type Admission } from './station-admission.js';
import { StationLink } from './station-link.js';
import { stationHopSecurity, type ConnectionSecurity } from './hop-security.js';
import type { LocalAnswerer } from '../ocpp/local-answerer.js';
import { UpstreamTls } from './upstream-tls.js';
import { dialUpstream, type DialRequest, type UpstreamConnection } from './upstream-dialer.js';

/** How long links' upstreams may take to close at shutdown. */
const SHUTDOWN_WAIT_MS = 2_000;
/**
 * A client has this long from its first byte (and from connecting, over TLS
 * for its TLS handshake) to send the whole upgrade request; slow-header
 * connections would otherwise hold a socket for minutes (Node's defaults).
 */
export const HANDSHAKE_HEADERS_TIMEOUT_MS = 10_000;
/** How often Node checks the headers timeout of open connections. */
const CONNECTIONS_CHECK_INTERVAL_MS = 1_000;
/** Handshakes that may wait for an upstream dial slot; beyond, 503 at once (each holds a socket). */
const MAX_WAITING_HANDSHAKES = 4_096;
/** Password checks against an scrypt hash in flight at once (libuv's pool has 4 threads, DNS uses them too). */
const MAX_CONCURRENT_HASHES = 2;
const MAX_WAITING_HASHES = 32;
/** Handshakes for one station id that may wait behind the one in progress; beyond, 429. */
const MAX_WAITING_PER_STATION = 2;
/** What a station told to wait because the gateway is busy is asked to wait (seconds). */
const BUSY_RETRY_AFTER_S = 5;

export interface StationListenerDeps {
  readonly config: GatewayConfig;
  readonly pipeline: InspectionPipeline;
  readonly localAnswerers: readonly LocalAnswerer[];
  readonly metrics: RelayMetrics;
  readonly logger: Logger;
  /** Time a client has to send its upgrade request (default HANDSHAKE_HEADERS_TIMEOUT_MS; tests shorten it). */
  readonly handshakeTimeoutMs?: number;
  /** The LAN page at `GET /` (docs/provisioning.md "The LAN page"); without it every plain request gets 426. */
  readonly lanPage?: () => LanPageView;
}

/**
 * The station-facing side: the `ws://` listener (and the `wss://` one for
 * Profile 2 stations), the upgrade handshake with the upstream opened during
 * it, and the registry of live station links.
 */
export class StationListener {
  readonly links = new Map<string, StationLink>();
  private readonly servers: Server[] = [];
  private readonly websocketServer: WebSocketServer;
  /** The subprotocol the CPMS chose for a request, read back by ws's handleProtocols. */
  private readonly chosenProtocols = new WeakMap<IncomingMessage, string>();
  private readonly stationsById: Map<string, StationConfig>;
  private readonly limiter = new AuthFailureLimiter();
  private readonly hashing = new ConcurrencyGate('password checks', MAX_CONCURRENT_HASHES, MAX_WAITING_HASHES);
  /** Bounds upstream handshakes in flight, dials and redials alike (a reconnect storm after a power cut). */
  readonly dials: ConcurrencyGate;
  /**
   * One handshake per station id at a time: a second one for the same id
   * waits until the first is settled, so two handshakes never both reach the
   * CPMS and the link table always knows the one live connection.
   */
  private readonly handshakesById = new Map<string, ConcurrencyGate>();
  private readonly pendingHandshakes = new Set<Duplex>();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private secureServer: HttpsServer | undefined;
  /** The CPMS and the TLS files of the next dial; a renewed client certificate replaces the files. */
  private upstream: UpstreamConfig;
  /** Parsed TLS contexts and session caches reused across dials (a reconnect storm). */
  private readonly upstreamTls = new UpstreamTls();

  constructor(private readonly deps: StationListenerDeps) {
    const { config } = deps;
    this.stationsById = new Map(config.stations.list.map((station) => [station.id, station]));
    this.upstream = config.upstream;
    this.dials = new ConcurrencyGate('upstream handshakes', config.upstream.maxConcurrentHandshakes, MAX_WAITING_HANDSHAKES);
    this.websocketServer = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: config.listen.maxFrameBytes,
      perMessageDeflate: false,
      handleProtocols: (_offered, request) => this.chosenProtocols.get(request) || false,
    });
  }

  /** Start listening; resolves with the bound ports (useful with port 0). */
  async listen(): Promise<{ port: number; tlsPort?: number }> {
    const { listen } = this.deps.config;
    const timeoutMs = this.deps.handshakeTimeoutMs ?? HANDSHAKE_HEADERS_TIMEOUT_MS;
    const limits = { headersTimeout: timeoutMs, requestTimeout: timeoutMs, connectionsCheckingInterval: Math.min(CONNECTIONS_CHECK_INTERVAL_MS, timeoutMs) };
    const lanPage = this.deps.lanPage;
    const onRequest = (request: IncomingMessage, response: ServerResponse): void => {
      if (lanPage && serveLanPage(request, response, lanPage)) return;
      refuseNonUpgrade(request, response);
    };
    const plain = createHttpServer(limits, onRequest);
    const port = await this.bind(plain, listen.port, listen.host, false);
    if (!listen.tls) return { port };
    // With station CAs the listener asks every station for a certificate but lets the handshake finish without one:
    // admission then answers a missing or rejected certificate with an HTTP status and a log line (station-profile-check.ts).
    const stationCas = listen.tls.clientCa ? { ca: listen.tls.clientCa, requestCert: true, rejectUnauthorized: false, ...(listen.tls.crl ? { crl: listen.tls.crl } : {}) } : {};
    const secure = createHttpsServer({ ...limits, cert: listen.tls.cert, key: listen.tls.key, ...stationCas, handshakeTimeout: timeoutMs }, onRequest);
    this.secureServer = secure;
    const tlsPort = await this.bind(secure, listen.tls.port, listen.host, true);
    return { port, tlsPort };
  }

  /** Stop accepting, close every link with 1001 (going away), wait for the sockets. */
  async close(): Promise<void> {
    clearInterval(this.heartbeatTimer);
    for (const server of this.servers) server.close();
    for (const socket of this.pendingHandshakes) socket.destroy();
    const closing = [...this.links.values()].map((link) => {
      const done = link.upstreamClosed();
      link.close(CloseCode.GoingAway, 'gateway shutting down');
      return withTimeout(done, SHUTDOWN_WAIT_MS);
    });
    await Promise.all(closing);
    for (const server of this.servers) server.closeAllConnections();
    this.upstreamTls.close();
  }

  /**
   * A renewed LAN server certificate: new TLS handshakes use it, stations
   * already connected keep their connection (docs/provisioning.md "Renewal").
   */
  replaceServerCertificate(tls: NonNullable<GatewayConfig['listen']['tls']>): void {
    // The whole context is replaced: the station CAs and the CRL go with the new certificate.
    const { cert, key, clientCa, crl } = tls;
    this.secureServer?.setSecureContext({ cert, key, ...(clientCa ? { ca: clientCa } : {}), ...(crl ? { crl } : {}) });
  }

  /** TLS files for the next upstream dials (a renewed client certificate); links already up stay as they are. */
  useUpstreamTls(tls: TlsFiles): void {
    this.upstream = { ...this.upstream, tls };
  }

  private bind(server: Server, port: number, host: string, secure: boolean): Promise<number> {
    this.servers.push(server);
    // headersTimeout only runs once a request has begun: a client that
    // connects (or finishes TLS) and then sends nothing is cut off by this
    // idle limit, lifted as soon as its upgrade request is complete.
    const idleLimitMs = this.deps.handshakeTimeoutMs ?? HANDSHAKE_HEADERS_TIMEOUT_MS;
    server.on(secure ? 'secureConnection' : 'connection', (socket: Socket) => {
      socket.setTimeout(idleLimitMs, () => socket.destroy());
    });
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.onUpgrade(request, socket, head, secure).catch((error: unknown) => {
        this.deps.logger.error({ err: error }, 'station handshake failed unexpectedly');
        writeHttpRefusal(socket, 500);
      });
    });
    server.on('clientError', (error, socket) => {
      this.deps.logger.debug({ err: describeError(error) }, 'bad HTTP from a station');
      writeHttpRefusal(socket, 400);
    });
    if (!this.heartbeatTimer) {
      this.heartbeatTimer = setInterval(() => {
        for (const link of this.links.values()) link.heartbeat();
      }, this.deps.config.listen.pingIntervalMs);
      this.heartbeatTimer.unref();
    }
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  private async onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, secure: boolean): Promise<void> {
    const { logger, metrics } = this.deps;
    const remoteAddress = request.socket.remoteAddress ?? 'unknown';
    // The request is complete: from here the handshake's own limits apply, then ws pings.
    request.socket.setTimeout(0);
    socket.on('error', (error) => logger.debug({ err: describeError(error), remoteAddress }, 'station socket error during handshake'));
    this.pendingHandshakes.add(socket);
    try {
      const admission = await admitStation(request, { config: this.deps.config, stationsById: this.stationsById, limiter: this.limiter, hashing: this.hashing });
      if (!admission.admitted) {
        this.refuse(socket, admission.status, admission.reason, { remoteAddress, url: request.url }, admission.headers);
        if (admission.status === 401) metrics.authFailures += 1;
        return;
      }
      const { stationId } = admission;
      const log = logger.child({ stationId });
      const turn = this.handshakeTurnFor(stationId);
      let release: () => void;
      try {
        release = await turn.acquire();
      } catch {
        this.refuse(socket, 429, 'another handshake for this station id is in progress', { remoteAddress, stationId }, { 'retry-after': '1' });
        return;
      }
      try {
        if (socket.destroyed) return;
        await this.connectStation(request, socket, head, secure, admission, log);
      } finally {
        release();
        if (turn.activeCount === 0 && turn.waitingCount === 0) this.handshakesById.delete(stationId);
      }
    } finally {
      this.pendingHandshakes.delete(socket);
    }
  }

  private handshakeTurnFor(stationId: string): ConcurrencyGate {
    let turn = this.handshakesById.get(stationId);
    if (!turn) {
      turn = new ConcurrencyGate(`handshakes of ${stationId}`, 1, MAX_WAITING_PER_STATION);
      this.handshakesById.set(stationId, turn);
    }
    return turn;
  }

  private refuse(socket: Duplex, status: number, reason: string, fields: Record<string, unknown>, headers?: Record<string, string>): void {
    this.deps.metrics.handshakesRefused += 1;
    this.deps.logger.warn({ ...fields, status, reason }, 'station handshake refused');
    writeHttpRefusal(socket, status, headers);
  }

  /**
   * Dial the CPMS for an admitted station (its turn for this id held), then
   * complete the station's handshake. A connection this id already has is
   * replaced only once the CPMS accepted the new one (docs/station-interface.md):
   * a handshake the CPMS refuses, from a rogue client on the LAN say, leaves
   * the connected station alone.
   */
  private async connectStation(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    secure: boolean,
    admission: Extract<Admission, { admitted: true }>,
    log: Logger,
  ): Promise<void> {
    const { config, metrics } = this.deps;
    const { stationId } = admission;
    const remoteAddress = request.socket.remoteAddress ?? 'unknown';
    const abort = new AbortController();
    // A station that half-closes (FIN) can never complete a WebSocket: ws would
    // drop its socket without a word, so treat it as gone like a closed one.
    const onGone = (): void => abort.abort(new Error('station went away during the handshake'));
    socket.once('close', onGone);
    socket.once('end', onGone);

    const previous = this.links.get(stationId);
    let settleReplacement: (accepted: boolean) => void = () => undefined;
    if (previous) {
      log.info('a new connection for a connected station; the old one stays until the CPMS accepts the new one');
      previous.expectReplacement(
        new Promise<boolean>((resolve) => {
          settleReplacement = resolve;
        }),
      );
    }

    let upstream: UpstreamConnection;
    try {
      upstream = await this.dialWithinLimit(
        {
          stationId,
          protocols: admission.protocols,
          stationAuthorization: request.headers.authorization,
          ...(admission.station ? { station: admission.station } : {}),
          timeoutMs: config.upstream.connectTimeoutMs,
        },
        abort.signal,
        config.upstream.connectTimeoutMs,
      );
    } catch (error: unknown) {
      settleReplacement(false);
      metrics.handshakesRefused += 1;
      this.answerDialFailure(request, socket, head, error, log);
      return;
    } finally {
      socket.off('close', onGone);
      socket.off('end', onGone);
    }
    if (socket.destroyed || !socket.readable || !socket.writable) {
      settleReplacement(false);
      log.info('station left during the handshake; closing its upstream');
      upstream.socket.close(CloseCode.GoingAway);
      return;
    }

    // The CPMS accepted the newcomer: now the old connection goes.
    const replaced = this.links.get(stationId);
    if (replaced) {
      log.info('station reconnected; replacing its previous connection');
      replaced.close(CloseCode.PolicyViolation, 'replaced by a new connection');
    }
    settleReplacement(true);

    this.chosenProtocols.set(request, upstream.protocol);
    // The redial needs only these, not the whole request (kept alive for the link's life otherwise).
    const stationAuthorization = request.headers.authorization;
    const station = admission.station;
    const security: ConnectionSecurity = { station: stationHopSecurity(request, secure), upstream: upstream.security };
    let upgraded = false;
    this.websocketServer.handleUpgrade(request, socket, head, (stationSocket: WebSocket) => {
      upgraded = true;
      const link = new StationLink({
        station: { stationId, protocol: upstream.protocol, remoteAddress, security },
        stationSocket,
        upstreamSocket: upstream.socket,
        earlyUpstreamFrames: upstream.early,
        redial: async (deadline) => {
          const leftMs = Math.max(1, Math.min(config.upstream.connectTimeoutMs, deadline - Date.now()));
          const again = await this.dialWithinLimit(
            {
              stationId,
              protocols: upstream.protocol ? [upstream.protocol] : [],
              stationAuthorization,
              ...(station ? { station } : {}),
              timeoutMs: leftMs,
            },
            undefined,
            leftMs,
          );
          if (again.protocol !== upstream.protocol) {
            again.socket.close(CloseCode.ProtocolError);
            throw new Error(`CPMS chose ${again.protocol || 'no subprotocol'} after reconnect, expected ${upstream.protocol}`);
          }
          return { socket: again.socket, early: again.early };
        },
        outageGraceMs: config.upstream.outageGraceMs,
        maxBufferedBytes: config.listen.maxBufferedBytes,
        callTimeoutMs: config.smartCharging.callTimeoutMs,
        pipeline: this.deps.pipeline,
        localAnswerers: this.deps.localAnswerers,
        metrics,
        logger: log,
        onClosed: (closed) => {
          if (this.links.get(stationId) === closed) this.links.delete(stationId);
        },
      });
      this.links.set(stationId, link);
      log.info({ protocol: upstream.protocol, remoteAddress, secure, profile: security.station.profile, upstreamProfile: security.upstream.profile }, 'station connected');
    });
    // ws completes an upgrade synchronously (no verifyClient, no compression
    // toward stations) or refuses it and drops the socket: then the CPMS
    // connection opened for it must not outlive it (found by the fuzz suite).
    if (!upgraded) {
      log.warn('the station socket could not be upgraded after the CPMS accepted it; closing the upstream');
      upstream.socket.close(CloseCode.GoingAway);
    }
  }

  /**
   * One upstream handshake, holding a slot of `dials` (upstream.maxConcurrentHandshakes)
   * while it runs. Waiting for the slot counts against the same time limit as
   * the handshake: a station never waits longer than `connectTimeoutMs` in all.
   */
  private async dialWithinLimit(request: Omit<DialRequest, 'signal'>, stationGone: AbortSignal | undefined, waitMs: number): Promise<UpstreamConnection> {
    const startedAt = Date.now();
    const waitLimit = AbortSignal.timeout(waitMs);
    const signal = stationGone ? AbortSignal.any([stationGone, waitLimit]) : waitLimit;
    let release: () => void;
    try {
      release = await this.dials.acquire(signal);
    } catch (error: unknown) {
      if (stationGone?.aborted) throw new UpstreamUnreachableError('station went away while waiting for an upstream handshake slot');
      if (error instanceof GateFullError) throw error;
      throw new GateFullError('upstream handshakes', this.dials.maxActive, this.dials.maxWaiting);
    }
    try {
      const timeoutMs = Math.max(1, request.timeoutMs - (Date.now() - startedAt));
      return await dialUpstream(this.upstream, { ...request, tls: this.upstreamTls, timeoutMs, ...(stationGone ? { signal: stationGone } : {}) });
    } finally {
      release();
    }
  }

  /** 401/404 from the CPMS pass through as they are; unreachable is 502, too slow 504. */
  private answerDialFailure(request: IncomingMessage, socket: Duplex, head: Buffer, error: unknown, log: Logger): void {
    if (error instanceof UpstreamRefusedError) {
      log.warn({ status: error.statusCode }, 'CPMS refused the station; passing the refusal on');
      writeHttpRefusal(socket, error.statusCode, { ...error.headers }, error.body);
    } else if (error instanceof UpstreamTimeoutError) {
      log.warn({ err: error.message }, 'CPMS handshake timed out; answering 504');
      writeHttpRefusal(socket, 504);
    } else if (error instanceof InvalidStationIdError) {
      log.warn({ err: error.message }, 'station id refused before dialling the CPMS');
      writeHttpRefusal(socket, 400);
    } else if (error instanceof GateFullError) {
      log.warn({ err: error.message, inProgress: this.dials.activeCount, waiting: this.dials.waitingCount }, 'too many upstream handshakes at once; answering 503');
      writeHttpRefusal(socket, 503, { 'retry-after': String(BUSY_RETRY_AFTER_S) });
    } else if (error instanceof UpstreamNoSubprotocolError) {
      // Answer as the CPMS did: a handshake without a subprotocol, then a close
      // (OCPP-J 1.6 section 3.1.2).
      log.warn('CPMS agreed to none of the offered subprotocols');
      this.chosenProtocols.set(request, '');
      this.websocketServer.handleUpgrade(request, socket, head, (stationSocket) => {
        stationSocket.close(CloseCode.ProtocolError, 'no agreed OCPP subprotocol');
      });
    } else {
      log.warn({ err: describeError(error) }, 'CPMS unreachable; answering 502');
      writeHttpRefusal(socket, 502);
    }
  }
}

function refuseNonUpgrade(_request: IncomingMessage, response: ServerResponse): void {
  // Connection: close: nothing else is served here, so the socket goes with the answer (no idle keep-alive sockets to hoard).
  response.writeHead(426, { 'content-type': 'text/plain; charset=utf-8', upgrade: 'websocket', connection: 'close' });
  response.end('This is an OCPP WebSocket endpoint: connect with ws:// or wss://\n');
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    promise.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      () => resolve(),
    );
  });
}
