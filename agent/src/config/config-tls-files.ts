import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { ConfigProblem } from '../errors.js';
import { field, isRecord, stationEntries } from './config-values.js';

/** Reading the PEM files a config names (or inline PEM), each checked by OpenSSL. */

type PemKind = 'ca' | 'cert' | 'key' | 'clientCa' | 'crl';

const PEM_MARKERS: Readonly<Record<PemKind, { pattern: RegExp; what: string }>> = {
  ca: { pattern: /-----BEGIN CERTIFICATE-----/, what: 'a PEM certificate' },
  cert: { pattern: /-----BEGIN CERTIFICATE-----/, what: 'a PEM certificate' },
  key: { pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----/, what: 'a PEM private key' },
  clientCa: { pattern: /-----BEGIN CERTIFICATE-----/, what: 'a PEM certificate' },
  crl: { pattern: /-----BEGIN X509 CRL-----/, what: 'a PEM certificate revocation list' },
};

/** Every place a TLS file may be named, with the kinds it accepts. */
function tlsLocations(document: unknown): Array<{ block: Record<string, unknown>; path: string; kinds: readonly PemKind[] }> {
  const locations: Array<{ block: Record<string, unknown>; path: string; kinds: readonly PemKind[] }> = [];
  const add = (block: unknown, path: string, kinds: readonly PemKind[]): void => {
    if (isRecord(block)) locations.push({ block, path, kinds });
  };
  add(field(field(document, 'listen'), 'tls'), '$.listen.tls', ['cert', 'key', 'clientCa', 'crl']);
  add(field(field(document, 'upstream'), 'tls'), '$.upstream.tls', ['ca', 'cert', 'key']);
  for (const { station, path } of stationEntries(document)) add(station['upstream'], `${path}.upstream`, ['cert', 'key']);
  add(field(field(document, 'mqtt'), 'tls'), '$.mqtt.tls', ['ca', 'cert', 'key']);
  add(field(document, 'provisioning'), '$.provisioning', ['ca']);
  return locations;
}

/**
 * Read every named PEM file (or take inline PEM text as is), check that it is
 * PEM of the right kind and that OpenSSL accepts cert, key and CA together.
 * Returns PEM text by JSON path, e.g. `$.listen.tls.cert`.
 */
export function readTlsFiles(document: unknown, baseDir: string, problems: ConfigProblem[]): Map<string, string> {
  const pem = new Map<string, string>();
  for (const { block, path, kinds } of tlsLocations(document)) {
    const loaded: Partial<Record<PemKind, string>> = {};
    for (const kind of kinds) {
      const source = block[kind];
      if (typeof source !== 'string' || source === '') continue;
      const text = readPem(source, kind, `${path}.${kind}`, baseDir, problems);
      if (text === undefined) continue;
      loaded[kind] = text;
      pem.set(`${path}.${kind}`, text);
    }
    if (loaded.cert === undefined && loaded.key === undefined && loaded.ca === undefined && loaded.clientCa === undefined) continue;
    if ((loaded.cert === undefined) !== (loaded.key === undefined)) continue; // the half that failed is reported already
    try {
      // Catches a key that does not belong to the certificate, or an encrypted key, now instead of at the first handshake.
      createSecureContext({ cert: loaded.cert, key: loaded.key, ca: loaded.ca ?? loaded.clientCa, ...(loaded.crl !== undefined ? { crl: loaded.crl } : {}) });
    } catch (error: unknown) {
      problems.push({ path, message: `rejected by OpenSSL: ${error instanceof Error ? error.message : String(error)}` });
    }
  }
  return pem;
}

function readPem(source: string, kind: PemKind, path: string, baseDir: string, problems: ConfigProblem[]): string | undefined {
  const marker = PEM_MARKERS[kind];
  if (source.includes('-----BEGIN ')) {
    if (marker.pattern.test(source)) return source;
    problems.push({ path, message: `inline text is not ${marker.what}` });
    return undefined;
  }
  const file = resolve(baseDir, source);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error: unknown) {
    problems.push({ path, message: `cannot read ${file}: ${describeFsError(error)}` });
    return undefined;
  }
  if (!marker.pattern.test(text)) {
    problems.push({ path, message: `${file} is not ${marker.what}` });
    return undefined;
  }
  return text;
}

export function describeFsError(error: unknown): string {
  const code = isRecord(error) ? error['code'] : undefined;
  switch (code) {
    case 'ENOENT':
      return 'file not found';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

