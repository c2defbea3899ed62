/**
 * Byte-level peers built on plain `ws`: they record exactly what arrived, so
 * the tests can compare bytes (ocpp-rpc would re-serialize them).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

export interface ReceivedFrame {
  readonly data: Buffer;
  readonly isBinary: boolean;
}

export interface RawCpmsConnection {
  readonly path: string;
  readonly protocol: string;
  readonly socket: WebSocket;
  readonly received: ReceivedFrame[];
  /** Resolves when at least `count` frames have arrived. */
  waitFor(count: number): Promise<ReceivedFrame[]>;
}

export interface RawCpms {
  readonly url: string;
  readonly port: number;
  readonly connections: RawCpmsConnection[];
  nextConnection(): Promise<RawCpmsConnection>;
  close(): Promise<void>;
  readonly server: WebSocketServer;
}

export interface RawCpmsOptions {
  /** Frames the CPMS sends the instant a connection opens. */
  readonly greeting?: readonly string[];
  /** Answer every CALL with `[3,id,{}]`. */
  readonly echoCalls?: boolean;
  readonly port?: number;
  readonly protocols?: readonly string[];
}

export async function startRawCpms(options: RawCpmsOptions = {}): Promise<RawCpms> {
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port: options.port ?? 0,
    handleProtocols: (offered) => {
      for (const protocol of options.protocols ?? ['ocpp1.6', 'ocpp2.0.1']) if (offered.has(protocol)) return protocol;
      return false;
    },
  });
  await once(server, 'listening');
  const connections: RawCpmsConnection[] = [];
  const waiting: Array<(connection: RawCpmsConnection) => void> = [];
  server.on('connection', (socket, request) => {
    const received: ReceivedFrame[] = [];
    const waiters: Array<{ count: number; resolve: (frames: ReceivedFrame[]) => void }> = [];
    socket.on('message', (data, isBinary) => {
      const buffer = data as Buffer;
      received.push({ data: buffer, isBinary });
      if (options.echoCalls && !isBinary) {
        const match = /^\[\s*2\s*,\s*"([^"]+)"/.exec(buffer.toString());
        if (match) socket.send(`[3,"${match[1]}",{}]`);
      }
      for (const waiter of waiters.filter((w) => received.length >= w.count)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(received);
      }
    });
    for (const frame of options.greeting ?? []) socket.send(frame);
    const connection: RawCpmsConnection = {
      path: request.url ?? '',
      protocol: socket.protocol,
      socket,
      received,
      waitFor: (count) =>
        received.length >= count ? Promise.resolve(received) : new Promise((resolve) => waiters.push({ count, resolve })),
    };
    connections.push(connection);
    waiting.shift()?.(connection);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/ocpp`,
    port,
    connections,
    server,
    nextConnection: () => new Promise((resolve) => waiting.push(resolve)),
    close: async () => {
      for (const client of server.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface RawStation {
  readonly socket: WebSocket;
  readonly received: ReceivedFrame[];
  waitFor(count: number): Promise<ReceivedFrame[]>;
  closed: Promise<{ code: number; reason: string }>;
}

/** A raw station; `onOpen` frames are sent in the same tick the socket opens. */
export async function connectRawStation(url: string, protocols: readonly string[] = ['ocpp1.6'], onOpen: readonly (string | Buffer)[] = []): Promise<RawStation> {
  const socket = new WebSocket(url, [...protocols]);
  const received: ReceivedFrame[] = [];
  const waiters: Array<{ count: number; resolve: (frames: ReceivedFrame[]) => void }> = [];
  socket.on('message', (data, isBinary) => {
    received.push({ data: data as Buffer, isBinary });
    for (const waiter of waiters.filter((w) => received.length >= w.count)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(received);
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  socket.once('open', () => {
    for (const frame of onOpen) socket.send(frame, { binary: Buffer.isBuffer(frame) });
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return {
    socket,
    received,
    closed,
    waitFor: (count) => (received.length >= count ? Promise.resolve(received) : new Promise((resolve) => waiters.push({ count, resolve }))),
  };
}
