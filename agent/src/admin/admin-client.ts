import { request } from 'node:http';
import { GatewayError } from '../errors.js';

/** GET a route of the running daemon's admin API; a clear error when the daemon is not running. */
export function adminGet(socketPath: string, route: string, timeoutMs = 5000): Promise<unknown> {
  return adminCall(socketPath, 'GET', route, timeoutMs);
}

/** POST to a route of the admin API: an action (no body) whose answer is JSON. */
export function adminPost(socketPath: string, route: string, timeoutMs = 5000): Promise<unknown> {
  return adminCall(socketPath, 'POST', route, timeoutMs);
}

function adminCall(socketPath: string, method: 'GET' | 'POST', route: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: route, method, timeout: timeoutMs }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        try {
          const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          if (response.statusCode === 200) resolve(body);
          else reject(new GatewayError('PE_ERR_ADMIN', `admin API answered ${response.statusCode} for ${route}`));
        } catch (error: unknown) {
          reject(new GatewayError('PE_ERR_ADMIN', `admin API sent an unreadable answer for ${route}`, { cause: error }));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (error: NodeJS.ErrnoException) => {
      const hint = error.code === 'ENOENT' || error.code === 'ECONNREFUSED' ? ' (is the daemon running? `systemctl status pleevi-edge`)' : '';
      reject(new GatewayError('PE_ERR_DAEMON_UNREACHABLE', `cannot reach the daemon at ${socketPath}: ${error.message}${hint}`, { cause: error }));
    });
    req.end();
  });
}
