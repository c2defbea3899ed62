import { lstatSync, type Stats } from 'node:fs';
import type { ConfigProblem } from '../errors.js';
import { resolveAdminSocket, resolveDataDir } from './config-paths.js';
import { field } from './config-values.js';

/**
 * What sits at the admin socket's path when it is not a unix socket, in
 * words ("a regular file"), or undefined when the path is free or holds a
 * socket. The daemon must delete a socket file left by a killed daemon
 * before it can listen there; anything else at that path is someone's data
 * (`admin.socket` pointed at the database once deleted the database), so
 * `config check` reports it and the daemon refuses to start instead.
 *
 * lstat, not stat: a symlink is reported as a symlink, never followed.
 */
export function nonSocketAt(path: string): string | undefined {
  let stats: Stats;
  try {
    stats = lstatSync(path);
  } catch (error: unknown) {
    // Nothing there, or a path that cannot be looked at (a parent that is a
    // file, no permission): nothing the daemon could delete either; listen()
    // reports why it cannot create the socket.
    return undefined;
  }
  if (stats.isSocket()) return undefined;
  if (stats.isFile()) return 'a regular file';
  if (stats.isDirectory()) return 'a folder';
  if (stats.isSymbolicLink()) return 'a symbolic link';
  if (stats.isFIFO()) return 'a named pipe';
  if (stats.isBlockDevice() || stats.isCharacterDevice()) return 'a device';
  return 'not a unix socket';
}

/**
 * The config problem when something other than a socket sits where the
 * admin socket goes. Runs on the raw value (even when the schema failed), so
 * an unusable `dataDir` or `admin.socket` is left to the schema to report.
 */
export function adminSocketProblems(document: unknown, baseDir: string, env: NodeJS.ProcessEnv): ConfigProblem[] {
  const dataDir = field(document, 'dataDir');
  const socket = field(field(document, 'admin'), 'socket');
  if (!isPathOrAbsent(dataDir) || !isPathOrAbsent(socket)) return [];
  const path = resolveAdminSocket(socket, resolveDataDir(dataDir, baseDir, env), baseDir, env);
  const what = nonSocketAt(path);
  if (what === undefined) return [];
  const which = socket === undefined ? ' (the default admin.socket)' : '';
  return [
    {
      path: '$.admin.socket',
      message: `${path}${which} is ${what}, not a unix socket; the daemon will not delete it to listen there: set admin.socket to a free path`,
    },
  ];
}

function isPathOrAbsent(value: unknown): value is string | undefined {
  return value === undefined || (typeof value === 'string' && value !== '');
}
