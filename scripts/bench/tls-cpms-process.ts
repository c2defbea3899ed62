/**
 * The bench CPMS over `wss://` with mutual TLS, in its own process: what a
 * production CPMS looks like to the gateway (docs/station-interface.md "The
 * upstream connection"). It requires a client certificate signed by the
 * bench root and answers every CALL at once, like cpms-process.ts.
 *
 * It also counts the handshakes in flight on its side: from the TCP accept
 * to the WebSocket being open (TLS handshake, then the HTTP upgrade), or to
 * the socket closing first. Its peak is what a reconnect storm does to a CPMS.
 *
 * argv: <folder with ca.pem, server.pem, server.key>
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { reportStartFailure, serveBench } from './child-ipc.js';

let callsAnswered = 0;
let connections = 0;
let handshakesDone = 0;
let tlsFailures = 0;
/** Handshakes that resumed an earlier TLS session (no certificates exchanged, no RSA signature). */
let sessionsReused = 0;
let peakConnections = 0;
/** Sockets accepted whose WebSocket is not open yet, by remote port (the TCP and the TLS socket share it). */
const inFlight = new Set<string>();
let peakInFlight = 0;

function keyOf(socket: Socket): string {
  return `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`;
}

function answer(socket: WebSocket, data: RawData): void {
  let frame: unknown;
  try {
    frame = JSON.parse(data.toString());
  } catch {
    return;
  }
  if (!Array.isArray(frame) || frame[0] !== 2 || typeof frame[1] !== 'string') return;
  callsAnswered += 1;
  const currentTime = new Date().toISOString();
  const result = frame[2] === 'BootNotification' ? { status: 'Accepted', currentTime, interval: 300 } : frame[2] === 'Heartbeat' ? { currentTime } : {};
  socket.send(JSON.stringify([3, frame[1], result]));
}

function start(): void {
  const [dir] = process.argv.slice(2);
  if (!dir) throw new Error('usage: tls-cpms-process <certificate folder>');
  const server = createServer({
    cert: readFileSync(join(dir, 'server.pem')),
    key: readFileSync(join(dir, 'server.key')),
    ca: readFileSync(join(dir, 'ca.pem')),
    requestCert: true,
    rejectUnauthorized: true,
  });
  server.on('connection', (socket: Socket) => {
    const key = keyOf(socket);
    inFlight.add(key);
    if (inFlight.size > peakInFlight) peakInFlight = inFlight.size;
    socket.once('close', () => inFlight.delete(key));
  });
  server.on('tlsClientError', () => {
    tlsFailures += 1;
  });
  const wss = new WebSocketServer({
    server,
    clientTracking: true,
    perMessageDeflate: false,
    handleProtocols: (offered) => (offered.has('ocpp1.6') ? 'ocpp1.6' : false),
  });
  wss.on('connection', (socket, request) => {
    inFlight.delete(keyOf(request.socket));
    handshakesDone += 1;
    if ((request.socket as TLSSocket).isSessionReused()) sessionsReused += 1;
    connections += 1;
    if (connections > peakConnections) peakConnections = connections;
    socket.on('message', (data) => answer(socket, data));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      connections -= 1;
    });
  });
  server.once('error', reportStartFailure);
  server.listen(0, '127.0.0.1', () => {
    serveBench((server.address() as AddressInfo).port, {
      counters: () => ({ callsAnswered, connections, peakConnections, handshakesDone, handshakesInFlight: inFlight.size, peakHandshakesInFlight: peakInFlight, tlsFailures, sessionsReused }),
      stop: () =>
        new Promise<void>((resolve) => {
          for (const client of wss.clients) client.terminate();
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    });
  });
}

try {
  start();
} catch (error: unknown) {
  reportStartFailure(error);
}
