import { createServer, type Server } from 'node:http';
import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { GatewayError } from '../errors.js';
import { clearStaleSocket } from './stale-socket.js';
import type { Logger } from '../util/logger.js';

/** sun_path is 108 bytes on Linux, including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;

/** `/v1/status` for a GET route, `POST /v1/...` for an action. */
export type AdminRoutes = ReadonlyMap<string, () => unknown>;

/**
 * The admin API: HTTP over a unix socket, JSON out (README.md "CLI"). Only
 * local users with access to the socket (mode 0660) can reach it; it is never
 * exposed on the network.
 */
export async function startAdminServer(socketPath: string, routes: AdminRoutes, logger: Logger): Promise<Server> {
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
    throw new GatewayError('PE_ERR_ADMIN_SOCKET', `admin.socket path is longer than ${MAX_SOCKET_PATH_BYTES} bytes (a unix socket limit): ${socketPath}`);
  }
  mkdirSync(dirname(socketPath), { recursive: true });
  await clearStaleSocket(socketPath);
  const server = createServer((request, response) => {
    const url = request.url ?? '';
    const handler = request.method === 'GET' ? routes.get(url) : request.method === 'POST' ? routes.get(`POST ${url}`) : undefined;
    if (!handler) {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { code: 'PE_ERR_NOT_FOUND', message: `no admin route ${request.method} ${request.url}` } }));
      return;
    }
    try {
      const body = JSON.stringify(handler());
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(body);
    } catch (error: unknown) {
      logger.error({ err: error, route: request.url }, 'admin route failed');
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { code: 'PE_ERR_INTERNAL', message: 'admin route failed; see the daemon log' } }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(socketPath, 0o660);
  return server;
}
