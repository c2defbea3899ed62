import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** How long a refused client gets to read the refusal before its socket is destroyed anyway. */
const REFUSAL_LINGER_MS = 2_000;

/**
 * Answer a WebSocket upgrade with a plain HTTP response and close the socket.
 * Used for local refusals (400/401/404/429/503) and for the CPMS's own
 * refusal, which the station receives with its status and challenge unchanged.
 *
 * `end()` alone only half-closes: a client that never closes its side would
 * keep the socket (and a file descriptor) for as long as it likes. So the
 * socket is destroyed once the response is flushed, or after a short linger
 * when the client does not even read it.
 */
export function writeHttpRefusal(socket: Duplex, status: number, headers: Record<string, string> = {}, body?: Buffer): void {
  if (socket.destroyed) return;
  const payload = body && body.length > 0 ? body : Buffer.from(`${STATUS_CODES[status] ?? 'Error'}\n`);
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`, 'Connection: close'];
  if (!('content-type' in headers)) lines.push('Content-Type: text/plain; charset=utf-8');
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value.replace(/[\r\n]/g, ' ')}`);
  lines.push(`Content-Length: ${payload.length}`);
  const linger = setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS);
  linger.unref();
  socket.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), payload]), () => {
    clearTimeout(linger);
    socket.destroy();
  });
}
