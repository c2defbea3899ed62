import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Answer a WebSocket upgrade with a plain HTTP response and close the socket.
 * Used for local refusals (400/401/404/429) and for the CPMS's own refusal,
 * which the station receives with its status and challenge unchanged.
 */
export function writeHttpRefusal(socket: Duplex, status: number, headers: Record<string, string> = {}, body?: Buffer): void {
  if (socket.destroyed) return;
  const payload = body && body.length > 0 ? body : Buffer.from(`${STATUS_CODES[status] ?? 'Error'}\n`);
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`, 'Connection: close'];
  if (!('content-type' in headers)) lines.push('Content-Type: text/plain; charset=utf-8');
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value.replace(/[\r\n]/g, ' ')}`);
  lines.push(`Content-Length: ${payload.length}`);
  socket.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), payload]));
}
