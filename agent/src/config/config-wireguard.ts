import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ConfigProblem } from '../errors.js';
import { describeFsError } from './config-tls-files.js';
import { field } from './config-values.js';

/** The gateway's own WireGuard key in `<dataDir>/identity/` when `vpn.wireguard.privateKeyFile` is not set. */
export const WIREGUARD_KEY_FILE = 'wireguard.key';
/** Written by `pleevi-edge vpn run`, read by the daemon: `<dataDir>/vpn-status.json`. */
export const VPN_STATUS_FILE = 'vpn-status.json';

/** 32 bytes in base64, as `wg genkey` prints them. */
export const WIREGUARD_KEY_PATTERN = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/**
 * The key files `vpn.wireguard` names: they must exist and be readable by
 * their owner alone (mode 0600 or stricter), like `wg` itself demands of a
 * key. Their content is checked when this process may read it; the daemon's
 * user may not (a root-owned key is read by `pleevi-edge vpn run` only).
 * Messages name the file, never its content.
 */
export function wireguardKeyProblems(document: unknown, baseDir: string): ConfigProblem[] {
  const wireguard = field(field(document, 'vpn'), 'wireguard');
  const problems: ConfigProblem[] = [];
  const files: Array<[unknown, string]> = [
    [field(wireguard, 'privateKeyFile'), '$.vpn.wireguard.privateKeyFile'],
    [field(field(wireguard, 'peer'), 'presharedKeyFile'), '$.vpn.wireguard.peer.presharedKeyFile'],
  ];
  for (const [value, path] of files) {
    if (typeof value !== 'string' || value === '') continue;
    const problem = keyFileProblem(resolve(baseDir, value));
    if (problem !== undefined) problems.push({ path, message: problem });
  }
  return problems;
}

/** Why the WireGuard key file at `file` cannot be used, or undefined. */
export function keyFileProblem(file: string): string | undefined {
  let mode: number;
  try {
    const stats = statSync(file);
    if (!stats.isFile()) return `${file} is not a regular file`;
    mode = stats.mode & 0o777;
  } catch (error: unknown) {
    return `cannot read ${file}: ${describeFsError(error)}`;
  }
  if ((mode & 0o077) !== 0) {
    return `${file} is readable by others (mode 0${mode.toString(8)}): a private key must be mode 0600 (chmod 600 ${file})`;
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error: unknown) {
    const code = (error as NodeJS.ErrnoException).code;
    // Not ours to read (root's key, read by the VPN supervisor): only its mode is checked here.
    if (code === 'EACCES' || code === 'EPERM') return undefined;
    return `cannot read ${file}: ${describeFsError(error)}`;
  }
  if (!WIREGUARD_KEY_PATTERN.test(text.trim())) return `${file} is not a WireGuard key (32 bytes in base64, as "wg genkey" prints)`;
  return undefined;
}
