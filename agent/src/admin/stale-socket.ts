import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { nonSocketAt } from '../config/config-admin-socket.js';
import { describeError, GatewayError } from '../errors.js';

/**
 * Make room for the admin socket: a socket file left by a killed daemon
 * would make listen() fail with EADDRINUSE, so it is removed, but only that.
 * Anything else at the path (a file, a folder, a symlink, which is never
 * followed) is someone's data and stops the start; so does a socket that a
 * running daemon still answers on, which would otherwise lose its socket to
 * this one.
 */
export async function clearStaleSocket(socketPath: string): Promise<void> {
  const what = nonSocketAt(socketPath);
  if (what !== undefined) {
    throw new GatewayError('PE_ERR_ADMIN_SOCKET', `admin.socket ${socketPath} is ${what}, not a unix socket; refusing to delete it: set admin.socket to a free path`);
  }
  const answer = await probe(socketPath);
  if (answer === 'absent') return;
  if (answer === 'answers') {
    throw new GatewayError('PE_ERR_ADMIN_SOCKET', `admin.socket ${socketPath}: another pleevi-edge daemon is running and answers on it; stop it first, or give this one another admin.socket`);
  }
  try {
    rmSync(socketPath, { force: true });
  } catch (error: unknown) {
    throw new GatewayError('PE_ERR_ADMIN_SOCKET', `admin.socket ${socketPath}: cannot remove the stale socket: ${describeError(error)}`, { cause: error });
  }
}

/**
 * One connect attempt, which on a local socket is answered at once: refused
 * means nobody listens (a stale file), connected means a daemon is there.
 */
function probe(socketPath: string): Promise<'absent' | 'stale' | 'answers'> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve('answers');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      socket.destroy();
      resolve(error.code === 'ENOENT' ? 'absent' : 'stale');
    });
  });
}
