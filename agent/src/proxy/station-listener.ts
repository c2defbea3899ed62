import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { GatewayConfig, StationConfig } from '../config/gateway-config.js';
import {
  describeError,
  UpstreamNoSubprotocolError,
  UpstreamRefusedError,
  UpstreamTimeoutError,
} from '../errors.js';
import type { InspectionPipeline } from '../ocpp/inspection-pipeline.js';
import type { Logger } from '../util/logger.js';
import { AuthFailureLimiter } from './auth-failure-limiter.js';
import { CloseCode } from './close-codes.js';
import { writeHttpRefusal } from './http-refusal.js';
import type { RelayMetrics } from './relay-metrics.js';
import { admitStation } from './station-admission.js';
import { StationLink } from './station-link.js';
import type { LocalAnswerer } from '../ocpp/local-answerer.js';
import { dialUpstream, type UpstreamConnection } from './upstream-dialer.js';

/** How long a replaced connection's upstream may take to close before the new one dials anyway. */
const REPLACE_WAIT_MS = 2_000;

export interface StationListenerDeps {
  readonly config: GatewayConfig;
  readonly pipeline: InspectionPipeline;
  readonly localAnswerers: readonly LocalAnswerer[];
  readonly metrics: RelayMetrics;
  readonly logger: Logger;
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
  private readonly pendingHandshakes = new Set<Duplex>();
  private heartbeatTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: StationListenerDeps) {
    const { config } = deps;
    this.stationsById = new Map(config.stations.list.map((station) => [station.id, station]));
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
    const plain = createHttpServer(refuseNonUpgrade);
    const port = await this.bind(plain, listen.port, listen.host, false);
    if (!listen.tls) return { port };
    const secure = createHttpsServer({ cert: listen.tls.cert, key: listen.tls.key }, refuseNonUpgrade);
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
      return withTimeout(done, REPLACE_WAIT_MS);
    });
    await Promise.all(closing);
    for (const server of this.servers) server.closeAllConnections();
  }

  private bind(server: Server, port: number, host: string, secure: boolean): Promise<number> {
    this.servers.push(server);
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
    const { config, logger, metrics } = this.deps;
    const remoteAddress = request.socket.remoteAddress ?? 'unknown';
    socket.on('error', (error) => logger.debug({ err: describeError(error), remoteAddress }, 'station socket error during handshake'));
    this.pendingHandshakes.add(socket);
    try {
      const admission = await admitStation(request, config, this.stationsById, this.limiter);
      if (!admission.admitted) {
        metrics.handshakesRefused += 1;
        if (admission.status === 401) metrics.authFailures += 1;
        logger.warn({ remoteAddress, url: request.url, status: admission.status, reason: admission.reason }, 'station handshake refused');
        writeHttpRefusal(socket, admission.status, admission.headers);
        return;
      }
      const { stationId } = admission;
      const log = logger.child({ stationId });

      const previous = this.links.get(stationId);
      if (previous) {
        // OCPP-NOTES: a station that reconnects without closing the old socket is
        // replaced; close the old upstream first so the CPMS sees one connection.
        log.info('station reconnected; replacing its previous connection');
        const closed = previous.upstreamClosed();
        previous.close(CloseCode.PolicyViolation, 'replaced by a new connection');
        await withTimeout(closed, REPLACE_WAIT_MS);
      }

      const abort = new AbortController();
      const onGone = (): void => abort.abort();
      socket.once('close', onGone);
      let upstream: UpstreamConnection;
      try {
        upstream = await dialUpstream(config.upstream, {
          stationId,
          protocols: admission.protocols,
          stationAuthorization: request.headers.authorization,
          station: admission.station,
          timeoutMs: config.upstream.connectTimeoutMs,
          signal: abort.signal,
        });
      } catch (error: unknown) {
        metrics.handshakesRefused += 1;
        this.answerDialFailure(request, socket, head, error, log);
        return;
      } finally {
        socket.off('close', onGone);
      }
      if (socket.destroyed) {
        log.info('station left during the handshake; closing its upstream');
        upstream.socket.close(CloseCode.GoingAway);
        return;
      }

      this.chosenProtocols.set(request, upstream.protocol);
      // The redial needs only these, not the whole request (kept alive for the link's life otherwise).
      const stationAuthorization = request.headers.authorization;
      const station = admission.station;
      this.websocketServer.handleUpgrade(request, socket, head, (stationSocket: WebSocket) => {
        const link = new StationLink({
          station: { stationId, protocol: upstream.protocol, remoteAddress },
          stationSocket,
          upstreamSocket: upstream.socket,
          earlyUpstreamFrames: upstream.early,
          redial: async (deadline) => {
            const again = await dialUpstream(config.upstream, {
              stationId,
              protocols: upstream.protocol ? [upstream.protocol] : [],
              stationAuthorization,
              station,
              timeoutMs: Math.max(1, Math.min(config.upstream.connectTimeoutMs, deadline - Date.now())),
            });
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
        log.info({ protocol: upstream.protocol, remoteAddress, secure }, 'station connected');
      });
    } finally {
      this.pendingHandshakes.delete(socket);
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

function refuseNonUpgrade(_request: IncomingMessage, response: import('node:http').ServerResponse): void {
  response.writeHead(426, { 'content-type': 'text/plain; charset=utf-8', upgrade: 'websocket' });
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
