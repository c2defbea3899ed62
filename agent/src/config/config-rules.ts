import type { ConfigProblem } from '../errors.js';
import { isValidPasswordHash } from '../auth/password-hash.js';
import { CONFIG_DEFAULTS } from './config-schema.js';
import { field, isRecord, stationEntries } from './config-values.js';

/**
 * Rules that span values. They run on the raw value even when the schema
 * failed, so every access is guarded.
 */

/** The URL's scheme when it passed the schema's pattern, for the rules that depend on it. */
function checkUrl(value: unknown, path: string, problems: ConfigProblem[], pattern: RegExp, appended: boolean): string | undefined {
  if (typeof value !== 'string' || !pattern.test(value)) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push({ path, message: 'is not a valid URL' });
    return undefined;
  }
  // Credentials in a URL end up in logs and `status` output; per-station
  // credentials have their own keys.
  if (url.username !== '' || url.password !== '') {
    problems.push({ path, message: 'must not contain credentials (use stations.list[].upstream.username/password)' });
  }
  if (appended && (url.search !== '' || url.hash !== '')) {
    problems.push({ path, message: 'must not have a query or fragment: the station id is appended to it' });
  }
  return url.protocol;
}

export function crossFieldProblems(document: unknown): ConfigProblem[] {
  const problems: ConfigProblem[] = [];

  const seen = new Map<string, string>();
  for (const { station, path } of stationEntries(document)) {
    const id = station['id'];
    if (typeof id === 'string') {
      const first = seen.get(id);
      if (first !== undefined) problems.push({ path: `${path}.id`, message: `duplicate station id "${id}" (first at ${first})` });
      else seen.set(id, `${path}.id`);
    }
    const passwordHash = station['passwordHash'];
    if (typeof passwordHash === 'string' && passwordHash !== '' && !isValidPasswordHash(passwordHash)) {
      problems.push({
        path: `${path}.passwordHash`,
        message: 'must be scrypt$N$r$p$salt$hash as printed by "pleevi-edge password hash"',
      });
    }
  }

  const upstream = field(document, 'upstream');
  const upstreamScheme = checkUrl(field(upstream, 'url'), '$.upstream.url', problems, /^wss?:\/\/\S+$/, true);
  if (upstreamScheme === 'ws:') {
    // A ws:// CPMS link has no TLS handshake to use these for: almost surely a typo in the URL.
    if (isRecord(field(upstream, 'tls'))) {
      problems.push({ path: '$.upstream.tls', message: 'is only used with a wss:// upstream.url' });
    }
    for (const { station, path } of stationEntries(document)) {
      const stationUpstream = field(station, 'upstream');
      if (field(stationUpstream, 'cert') !== undefined || field(stationUpstream, 'key') !== undefined) {
        problems.push({ path: `${path}.upstream.cert`, message: 'a client certificate is only used with a wss:// upstream.url' });
      }
    }
  }

  const mqtt = field(document, 'mqtt');
  const mqttScheme = checkUrl(field(mqtt, 'url'), '$.mqtt.url', problems, /^mqtts?:\/\/\S+$/, false);
  if (mqttScheme === 'mqtt:' && isRecord(field(mqtt, 'tls'))) {
    problems.push({ path: '$.mqtt.tls', message: 'is only used with an mqtts:// mqtt.url' });
  }

  const provisioning = field(document, 'provisioning');
  checkUrl(field(provisioning, 'url'), '$.provisioning.url', problems, /^https?:\/\/\S+$/, false);
  checkUrl(field(provisioning, 'claimBaseUrl'), '$.provisioning.claimBaseUrl', problems, /^https?:\/\/\S+$/, false);

  const listen = field(document, 'listen');
  const listenTls = field(listen, 'tls');
  for (const { station, path } of stationEntries(document)) {
    if (station['profile'] === 3 && field(listenTls, 'clientCa') === undefined) {
      problems.push({ path: `${path}.profile`, message: 'profile 3 needs listen.tls.clientCa: the CA that signs the station certificates' });
    }
  }
  if (isRecord(listenTls)) {
    const plainPort = field(listen, 'port') ?? CONFIG_DEFAULTS.listen.port;
    const tlsPort = listenTls['port'] ?? CONFIG_DEFAULTS.listen.tlsPort;
    if (plainPort === tlsPort && tlsPort !== 0) {
      problems.push({ path: '$.listen.tls.port', message: `must differ from listen.port (both ${String(tlsPort)})` });
    }
  }
  return problems;
}

