/**
 * The bench CPMS, in its own process: a plain `ws` server on 127.0.0.1 that
 * answers every CALL `[2,id,action,payload]` at once with a CALLRESULT
 * `[3,id,{...}]` (OCPP-J 1.6 section 4.2). Deliberately light, so the three
 * paths are compared against the same fast far end.
 *
 * argv: `deflate` to accept permessage-deflate (RFC 7692) when offered.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { reportStartFailure, serveBench } from './child-ipc.js';

const acceptDeflate = process.argv.includes('deflate');
let callsAnswered = 0;
let framesIgnored = 0;
let connections = 0;

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
  socket.send(JSON.stringify([3, frame[1], resultFor(frame[2])]));
}

function resultFor(action: unknown): Record<string, unknown> {
  const currentTime = new Date().toISOString();
  if (action === 'BootNotification') return { status: 'Accepted', currentTime, interval: 300 };
  if (action === 'Heartbeat') return { currentTime };
  return {};
}

function start(): void {
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    clientTracking: true,
    perMessageDeflate: acceptDeflate,
    handleProtocols: (offered) => (offered.has('ocpp1.6') ? 'ocpp1.6' : false),
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
