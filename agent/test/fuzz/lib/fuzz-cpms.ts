/**
 * The CPMS the fuzz suite attacks through: a plain HTTP server that records
 * every request it is asked for (URL, Authorization, time) before `ws`
 * answers the upgrade, counts TCP connections (all of them, and the most
 * open at once), and lets each test decide per handshake: accept, refuse,
 * or never answer. Frames are not kept (the heap checks would count them),
 * except on the paths a test asks to record.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

export interface UpstreamRequest {
  readonly url: string;
  readonly authorization: string | undefined;
  readonly seq: number;
}

export type HandshakeDecision = { readonly accept: true } | { readonly refuse: number } | { readonly blackhole: true };

export interface CpmsConnection {
  readonly path: string;
  readonly socket: WebSocket;
  readonly seq: number;
  /** Frames, only on paths in `recordPaths`. */
  readonly frames: Buffer[];
  framesSeen: number;
  open: boolean;
}

export interface FuzzCpmsOptions {
  /** Default: accept every handshake. */
  readonly decide?: (request: IncomingMessage) => HandshakeDecision;
  /** Called for every frame from a station; default: answer CALLs with `[3,"<id>",{}]`. */
  readonly onFrame?: (connection: CpmsConnection, data: Buffer, isBinary: boolean) => void;
  /** Paths whose frames are kept in `frames`. */
  readonly recordPaths?: ReadonlySet<string>;
}

export interface FuzzCpms {
  readonly url: string;
  readonly port: number;
  readonly requests: UpstreamRequest[];
  readonly connections: CpmsConnection[];
  /** TCP connections now open from the gateway, and the most ever open at once. */
  readonly tcp: { open: number; peak: number; total: number };
  openConnections(path?: string): CpmsConnection[];
  /** Resolves with the next accepted connection on `path`. */
  nextConnection(path: string): Promise<CpmsConnection>;
  resetPeak(): void;
  close(): Promise<void>;
}

const CALL_ID = /^\s*\[\s*2\s*,\s*"((?:[^"\\]|\\.)*)"/;

export function defaultAnswer(connection: CpmsConnection, data: Buffer, isBinary: boolean): void {
  if (isBinary) return;
  const match = CALL_ID.exec(data.toString('utf8', 0, Math.min(data.length, 512)));
  if (match && connection.socket.readyState === connection.socket.OPEN) connection.socket.send(`[3,"${match[1] ?? ''}",{}]`);
}

export async function startFuzzCpms(options: FuzzCpmsOptions = {}): Promise<FuzzCpms> {
  const requests: UpstreamRequest[] = [];
  const connections: CpmsConnection[] = [];
  const sockets = new Set<Socket>();
  const held = new Set<Duplex>();
  const tcp = { open: 0, peak: 0, total: 0 };
  const waiters: Array<{ path: string; resolve: (connection: CpmsConnection) => void }> = [];
  let seq = 0;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 64 * 1024 * 1024,
    handleProtocols: (offered) => {
      for (const protocol of ['ocpp1.6', 'ocpp2.0.1', 'ocpp2.0', 'ocpp2.1']) if (offered.has(protocol)) return protocol;
      return false;
    },
  });
  const server: Server = createServer((_request, response) => {
    response.writeHead(426).end();
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    tcp.open += 1;
    tcp.total += 1;
    tcp.peak = Math.max(tcp.peak, tcp.open);
    socket.once('close', () => {
      sockets.delete(socket);
      tcp.open -= 1;
    });
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    seq += 1;
    const url = request.url ?? '';
    requests.push({ url, authorization: request.headers.authorization, seq });
    socket.on('error', () => undefined);
    const decision = options.decide?.(request) ?? { accept: true };
    if ('blackhole' in decision) {
      held.add(socket);
      socket.once('close', () => held.delete(socket));
      // Never answer, but let go when the gateway gives up (the HTTP server's sockets are half-open).
      socket.once('end', () => socket.destroy());
      return;
    }
    if ('refuse' in decision) {
      socket.end(`HTTP/1.1 ${decision.refuse} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    const mySeq = seq;
    wss.handleUpgrade(request, socket, head, (ws) => {
      const connection: CpmsConnection = { path: url, socket: ws, seq: mySeq, frames: [], framesSeen: 0, open: true };
      connections.push(connection);
      ws.on('error', () => undefined);
      ws.on('close', () => {
        connection.open = false;
      });
      ws.on('message', (data, isBinary) => {
        const buffer = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
        connection.framesSeen += 1;
        if (options.recordPaths?.has(url)) connection.frames.push(buffer);
        (options.onFrame ?? defaultAnswer)(connection, buffer, isBinary);
      });
      const index = waiters.findIndex((waiter) => waiter.path === url);
      if (index >= 0) waiters.splice(index, 1)[0]?.resolve(connection);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/ocpp`,
    port,
    requests,
    connections,
    tcp,
    openConnections: (path) => connections.filter((connection) => connection.open && (path === undefined || connection.path === path)),
    nextConnection: (path) => new Promise((resolve) => waiters.push({ path, resolve })),
    resetPeak: () => {
      tcp.peak = tcp.open;
    },
    close: async () => {
      for (const connection of connections) connection.socket.terminate();
      for (const socket of held) socket.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `<base>/<one segment of encodeURIComponent's alphabet>`, and the segment is no `.`/`..`. */
export function pathViolation(url: string, basePath: string): string | undefined {
  const [pathname, query] = [url.split('?', 1)[0] ?? '', url.includes('?') ? 'query' : undefined];
  if (query) return `has a query: ${url}`;
  if (!pathname.startsWith(`${basePath}/`)) return `not under ${basePath}/: ${JSON.stringify(url)}`;
  const segment = pathname.slice(basePath.length + 1);
  if (!/^[A-Za-z0-9\-_.!~*'()%]+$/.test(segment)) return `segment has characters outside encodeURIComponent's output: ${JSON.stringify(url)}`;
  if (segment === '.' || segment === '..') return `segment is ${segment}: ${JSON.stringify(url)}`;
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    return `segment does not decode: ${JSON.stringify(url)}`;
  }
  if (decoded === '.' || decoded === '..') return `segment decodes to ${decoded}: ${JSON.stringify(url)}`;
  if (/[/\\]/.test(decoded)) return `segment decodes to a path separator: ${JSON.stringify(url)}`;
  if (/[\u0000-\u001f\u007f-\u009f]/.test(decoded)) return `segment decodes to a control character: ${JSON.stringify(url)}`;
  if (encodeURIComponent(decoded) !== segment) return `segment is not the canonical encoding of ${JSON.stringify(decoded)}: ${JSON.stringify(url)}`;
  return undefined;
}
