import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { enrolledFilesIn } from '../config/layered-config.js';
import { CA_BUNDLE_FILE } from '../provisioning/enrolled-identity.js';
import type { DiagContext } from './diag-context.js';

/**
 * Every certificate the gateway uses, by where it comes from: the enrolled
 * identity's files and the TLS values of the configuration (which hold PEM
 * text once loaded). `leaf` certificates are the gateway's own (client or
 * server), judged for expiry by `diag check`; `ca` ones are trust anchors,
 * listed in the support bundle only. Never a key.
 */
export interface ConfiguredCertificate {
  /** e.g. `identity/gateway.crt`, `$.upstream.tls.cert`; several when the same text is used in several places. */
  readonly sources: readonly string[];
  readonly role: 'leaf' | 'ca';
  readonly pem: string;
}

export interface CertificateFacts {
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly fingerprint256: string;
}

export function configuredCertificates(context: DiagContext): ConfiguredCertificate[] {
  const found: ConfiguredCertificate[] = [];
  const add = (source: string, role: ConfiguredCertificate['role'], pem: string | undefined): void => {
    if (pem === undefined || pem === '') return;
    const same = found.findIndex((entry) => entry.pem === pem && entry.role === role);
    if (same >= 0) {
      const entry = found[same];
      if (entry) found[same] = { ...entry, sources: [...entry.sources, source] };
    } else {
      found.push({ sources: [source], role, pem });
    }
  };
  const loaded = context.loaded;
  if (loaded === undefined) return found;
  const config = loaded.config;
  const files = enrolledFilesIn(config.dataDir);
  if (files.enrolled) {
    add('identity/gateway.crt', 'leaf', readText(files.certificatePath));
    if (files.serverCertificatePath !== undefined) add('identity/server.crt', 'leaf', readText(files.serverCertificatePath));
    add(`identity/${CA_BUNDLE_FILE}`, 'ca', readText(join(config.dataDir, 'identity', CA_BUNDLE_FILE)));
  }
  add('$.listen.tls.cert', 'leaf', config.listen.tls?.cert);
  add('$.provisioning.ca', 'ca', config.provisioning?.ca);
  if (loaded.kind === 'ready') {
    const ready = loaded.config;
    add('$.upstream.tls.cert', 'leaf', ready.upstream.tls.cert);
    add('$.upstream.tls.ca', 'ca', ready.upstream.tls.ca);
    ready.stations.list.forEach((station, index) => add(`$.stations.list[${index}].upstream.cert`, 'leaf', station.upstream?.cert));
    add('$.mqtt.tls.cert', 'leaf', ready.mqtt?.tls.cert);
    add('$.mqtt.tls.ca', 'ca', ready.mqtt?.tls.ca);
  }
  return found;
}

/** Each certificate in a PEM text (a chain or a CA bundle holds several), parsed; unparseable blocks are reported as errors. */
export function certificatesIn(pem: string): Array<{ certificate: X509Certificate } | { error: string }> {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => {
    try {
      return { certificate: new X509Certificate(block) };
    } catch (error: unknown) {
      return { error: error instanceof Error ? error.message : String(error) };
    }
  });
}

export function certificateFacts(certificate: X509Certificate): CertificateFacts {
  return {
    subject: oneLine(certificate.subject),
    issuer: oneLine(certificate.issuer),
    serialNumber: certificate.serialNumber,
    notBefore: new Date(certificate.validFrom).toISOString(),
    notAfter: new Date(certificate.validTo).toISOString(),
    fingerprint256: certificate.fingerprint256,
  };
}

function oneLine(name: string): string {
  return name.split('\n').filter((part) => part !== '').join(', ');
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
