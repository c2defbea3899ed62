import { join, resolve } from 'node:path';

/** Where `dataDir` and `admin.socket` end up: the file's value, else systemd's directories, else defaults. */

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** systemd passes `StateDirectory=a b` as `STATE_DIRECTORY=/var/lib/a:/var/lib/b`; the first is ours. */
function firstDirectory(value: string | undefined): string | undefined {
  return nonEmpty(value?.split(':')[0]);
}

/** `dataDir` relative to the config file's folder, else `$STATE_DIRECTORY`, else `./var` in the working directory. */
export function resolveDataDir(dataDir: string | undefined, baseDir: string, env: NodeJS.ProcessEnv): string {
  if (dataDir !== undefined) return resolve(baseDir, dataDir);
  return resolve(firstDirectory(env['STATE_DIRECTORY']) ?? join(process.cwd(), 'var'));
}

/** `admin.socket` relative to the config file's folder, else `admin.sock` in `$RUNTIME_DIRECTORY`, else in `dataDir`. */
export function resolveAdminSocket(socket: string | undefined, dataDir: string, baseDir: string, env: NodeJS.ProcessEnv): string {
  if (socket !== undefined) return resolve(baseDir, socket);
  const runtimeDir = firstDirectory(env['RUNTIME_DIRECTORY']);
  return join(runtimeDir !== undefined ? resolve(runtimeDir) : dataDir, 'admin.sock');
}
