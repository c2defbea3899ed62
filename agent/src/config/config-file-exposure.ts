import { readFileSync, statSync, type Stats } from 'node:fs';
import type { DeviceConfig } from './gateway-config.js';

/** The group systemd/pleevi-edge.service runs the daemon as: it must be able to read the file. */
export const SERVICE_GROUP = 'pleevi-edge';

export interface ConfigFileExposure {
  readonly file: string;
  /** e.g. `0644`. */
  readonly mode: string;
  /** `every user on this machine`, `group 1000`, ... */
  readonly readableBy: string;
  /** JSON paths of the secrets in the file, never their values. */
  readonly secrets: readonly string[];
  /** What to run to fix it. */
  readonly fix: string;
}

/**
 * The config file holds passwords or keys and other users can read it: a
 * file made by `sudo tee` is 0644, readable by everyone on the gateway. The
 * file may be readable by its owner and by the gateway's own group (the
 * daemon runs as `pleevi-edge` and must read it), by nobody else.
 */
export function configFileExposure(config: DeviceConfig): ConfigFileExposure | undefined {
  const file = config.source;
  const secrets = config.secretsInFile ?? [];
  if (file === undefined || secrets.length === 0) return undefined;
  let stats: Stats;
  try {
    stats = statSync(file);
  } catch {
    // It was just read; if it is gone now there is nothing to warn about.
    return undefined;
  }
  const readableBy = (stats.mode & 0o004) !== 0 ? 'every user on this machine' : (stats.mode & 0o040) !== 0 && !isGatewayGroup(stats.gid) ? `every member of group ${stats.gid}` : undefined;
  if (readableBy === undefined) return undefined;
  return {
    file,
    mode: `0${(stats.mode & 0o777).toString(8)}`,
    readableBy,
    secrets,
    fix: `sudo chown root:${SERVICE_GROUP} ${file} && sudo chmod 640 ${file} (or chmod 600 when the gateway's own user owns the file)`,
  };
}

/** The group the daemon runs as: the service's group by name, or the group running this command (unless root's). */
function isGatewayGroup(gid: number): boolean {
  const own = process.getgid?.();
  if (own !== undefined && own !== 0 && own === gid) return true;
  return serviceGroupId() === gid;
}

/** The gid of SERVICE_GROUP from /etc/group, when it is there. */
function serviceGroupId(): number | undefined {
  let groups: string;
  try {
    groups = readFileSync('/etc/group', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of groups.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === SERVICE_GROUP && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return undefined;
}
