import { field, isRecord, stationEntries } from './config-values.js';

/**
 * JSON paths of the secrets written in the config file itself: station
 * passwords, per-station CPMS passwords and private keys given as inline PEM
 * (a key given as a file name is that file's business). A `passwordHash` is
 * not listed: it is what keeps the password out of the file.
 */
export function secretPathsIn(document: unknown): string[] {
  const paths: string[] = [];
  const keyAt = (block: unknown, path: string): void => {
    const key = field(block, 'key');
    if (typeof key === 'string' && key.includes('-----BEGIN ')) paths.push(`${path}.key`);
  };
  keyAt(field(field(document, 'listen'), 'tls'), '$.listen.tls');
  keyAt(field(field(document, 'upstream'), 'tls'), '$.upstream.tls');
  for (const { station, path } of stationEntries(document)) {
    if (typeof station['password'] === 'string') paths.push(`${path}.password`);
    const upstream = station['upstream'];
    if (isRecord(upstream) && typeof upstream['password'] === 'string') paths.push(`${path}.upstream.password`);
    keyAt(upstream, `${path}.upstream`);
  }
  keyAt(field(field(document, 'mqtt'), 'tls'), '$.mqtt.tls');
  return paths;
}
