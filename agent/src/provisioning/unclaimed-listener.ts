import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { DeviceConfig } from '../config/gateway-config.js';
import { writeHttpRefusal } from '../proxy/http-refusal.js';
import type { Logger } from '../util/logger.js';
import { RateLimitedLog } from '../util/rate-limited-log.js';
import { serveLanPage, type LanPageView } from './lan-page.js';

/** What a station is told to wait before it tries again while the gateway is unclaimed. */
export const UNCLAIMED_RETRY_AFTER_S = 60;
const REQUEST_TIMEOUT_MS = 10_000;
const MAX_CONNECTIONS = 256;

/**
 * The station port of an unclaimed gateway (docs/provisioning.md "Before
 * the claim"). It has no CPMS to relay to yet, so a station's WebSocket
 * handshake is answered at once with 503 and Retry-After (not refused
 * silently, not left hanging), and `GET /` is the LAN page with the claim
 * QR code. It gives the port back when enrollment brings a configuration
 * and the relay takes it over.
 */
export class UnclaimedListener {
  private server: Server | undefined;
  private readonly refusals = new RateLimitedLog(60_000);

  constructor(
    private readonly config: DeviceConfig,
    private readonly view: () => LanPageView,
    private readonly logger: Logger,
  ) {}

  async listen(): Promise<number> {
    const server = createServer({ headersTimeout: REQUEST_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1_000 }, (request, response) => this.onRequest(request, response));
    server.maxConnections = MAX_CONNECTIONS;
    server.on('connection', (socket: Socket) => socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy()));
    server.on('upgrade', (request: IncomingMessage, socket: Duplex) => this.onUpgrade(request, socket));
    server.on('clientError', (_error, socket: Duplex) => writeHttpRefusal(socket, 400));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.listen.port, this.config.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    return typeof address === 'object' && address !== null ? address.port : this.config.listen.port;
  }

  /** Stop listening and drop every connection: the relay binds the same port next. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private onRequest(request: IncomingMessage, response: ServerResponse): void {
    try {
      if (serveLanPage(request, response, this.view)) return;
    } catch (error: unknown) {
      this.logger.error({ err: error }, 'the LAN page could not be built');
      response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      response.end('the page could not be built; see the gateway log\n');
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
    response.end('Not found. This gateway is waiting to be claimed: its page is at /\n');
  }

  private onUpgrade(request: IncomingMessage, socket: Duplex): void {
    this.refusals.warn(this.logger, { remoteAddress: request.socket.remoteAddress, path: request.url?.slice(0, 200) }, 'a station connected before the gateway is claimed; answering 503 with Retry-After');
    writeHttpRefusal(socket, 503, { 'retry-after': String(UNCLAIMED_RETRY_AFTER_S) }, Buffer.from('This gateway is waiting to be claimed and enrolled; it relays stations once it is. Try again later.\n'));
  }
}
