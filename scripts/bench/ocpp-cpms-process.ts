/**
 * The CPMS of the observed phases (site day, mix), in its own process: a
 * plain `ws` server on 127.0.0.1 that speaks OCPP 1.6 and 2.0.1 and answers
 * every CALL at once with a CALLRESULT the gateway's session bookkeeping can
 * read (a StartTransaction.conf carries a transactionId, an Authorize an
 * idTagInfo). The relay bench's CPMS (cpms-process.ts) answers `{}` to
 * everything, which is all a Heartbeat needs.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { reportStartFailure, serveBench } from './child-ipc.js';

const PROTOCOLS = ['ocpp2.0.1', 'ocpp1.6'] as const;
let callsAnswered = 0;
let framesIgnored = 0;
let connections = 0;
let nextTransactionId = 1;

function answer(socket: WebSocket, data: RawData): void {
  let frame: unknown;
  try {
    frame = JSON.parse(data.toString());
  } catch {
    framesIgnored += 1;
    return;
  }
  if (!Array.isArray(frame) || frame[0] !== 2 || typeof frame[1] !== 'string') {
    framesIgnored += 1;
    return;
  }
  callsAnswered += 1;
  socket.send(JSON.stringify([3, frame[1], resultFor(frame[2], socket.protocol === 'ocpp1.6')]));
}

function resultFor(action: unknown, v16: boolean): Record<string, unknown> {
  const currentTime = new Date().toISOString();
  switch (action) {
    case 'BootNotification':
      return { status: 'Accepted', currentTime, interval: 300 };
    case 'Heartbeat':
      return { currentTime };
    case 'Authorize':
      return v16 ? { idTagInfo: { status: 'Accepted' } } : { idTokenInfo: { status: 'Accepted' } };
    case 'StartTransaction':
      nextTransactionId += 1;
      return { transactionId: nextTransactionId, idTagInfo: { status: 'Accepted' } };
    case 'StopTransaction':
      return { idTagInfo: { status: 'Accepted' } };
    default:
      return {};
  }
}

function start(): void {
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    clientTracking: true,
    perMessageDeflate: false,
    handleProtocols: (offered) => PROTOCOLS.find((protocol) => offered.has(protocol)) ?? false,
  });
  server.on('connection', (socket) => {
    connections += 1;
    socket.on('message', (data) => answer(socket, data));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      connections -= 1;
    });
  });
  server.once('error', reportStartFailure);
  server.once('listening', () => {
    serveBench((server.address() as AddressInfo).port, {
      counters: () => ({ callsAnswered, framesIgnored, connections }),
      stop: () =>
        new Promise<void>((resolve) => {
          for (const client of server.clients) client.terminate();
          server.close(() => resolve());
        }),
    });
  });
}

start();
