/**
 * A WebSocket upgrade written by hand on a plain TCP socket: for requests no
 * WebSocket client would send (hostile paths, broken headers) and to watch
 * what the gateway does with the socket after it answers.
 */
import { connect, type Socket } from 'node:net';

export interface RawUpgradeAnswer {
  /** HTTP status of the answer (101 when the upgrade went through). */
  readonly status: number;
  /** The answer's head, lower-cased header names. */
  readonly head: string;
  /** The client socket, still open on our side (allowHalfOpen). */
  readonly socket: Socket;
}

export interface RawUpgradeOptions {
  readonly protocols?: string;
  readonly authorization?: string;
}

export function upgradeRequest(path: string, options: RawUpgradeOptions = {}): string {
  const lines = [
    `GET ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version: 13',
    `Sec-WebSocket-Protocol: ${options.protocols ?? 'ocpp1.6'}`,
  ];
  if (options.authorization) lines.push(`Authorization: ${options.authorization}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Send one upgrade request and resolve with the answer's status once its head has arrived. */
export function rawUpgrade(port: number, path: string, options: RawUpgradeOptions = {}): Promise<RawUpgradeAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let received = Buffer.alloc(0);
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.removeAllListeners('data');
      socket.removeListener('error', reject);
      socket.on('error', () => undefined);
      const head = received.subarray(0, end).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, head: head.toLowerCase(), socket });
    });
    socket.once('connect', () => socket.write(upgradeRequest(path, options)));
  });
}

/** Resolves once the peer has reset or fully closed the connection (our side stays open until then). */
export function peerGone(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    socket.once('close', () => resolve());
    socket.on('error', () => undefined);
    // A destroyed server socket answers this write with a reset; a half-open one takes it silently.
    // The first write after the peer closed draws the reset; the next one fails on it.
    const probe = (): void => {
      const timer = setInterval(() => (socket.writable ? socket.write('still there?') : clearInterval(timer)), 50);
      socket.once('close', () => clearInterval(timer));
    };
    if (socket.readableEnded) probe();
    else socket.once('end', probe);
  });
}

export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}
