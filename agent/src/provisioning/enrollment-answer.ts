/**
 * What the enrollment service answers (docs/provisioning.md "The enrollment
 * API"), read from untrusted JSON and checked before anything of it is
 * stored: the certificate is for the gateway's own key, signed by a CA of the
 * bundle, CN = the gateway id, with extended key usage clientAuth; the
 * optional LAN server certificate is for the same key, from the same CAs,
 * with serverAuth. A refusal is an EnrollmentError naming the check; it never
 * holds key material (only subjects, serial numbers and fingerprints).
 */
import { X509Certificate, createPublicKey } from 'node:crypto';
import { EnrollmentError } from '../errors.js';

/** `200` to `POST /v1/enroll`. */
export interface EnrollmentAnswer {
  readonly certificate: string;
  readonly caBundle: string;
  readonly serverCertificate?: string;
  /** A configuration object in the shape of the configuration file; validated by the caller. */
  readonly config: Readonly<Record<string, unknown>>;
}

/** `200` to `POST /v1/renew`. */
export interface RenewalAnswer {
  readonly certificate: string;
  readonly serverCertificate?: string;
}

const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The answer's shape, or a description of what is wrong with it. */
export function parseEnrollmentAnswer(value: unknown): EnrollmentAnswer | string {
  const record = asRecord(value);
  if (record === undefined) return 'the answer is not a JSON object';
  const { certificate, caBundle, serverCertificate, config } = record;
  if (typeof certificate !== 'string') return 'the answer has no "certificate" string';
  if (typeof caBundle !== 'string') return 'the answer has no "caBundle" string';
  if (serverCertificate !== undefined && serverCertificate !== null && typeof serverCertificate !== 'string') return '"serverCertificate" is not a string';
  const configRecord = asRecord(config);
  if (configRecord === undefined) return 'the answer has no "config" object';
  return { certificate, caBundle, config: configRecord, ...(typeof serverCertificate === 'string' ? { serverCertificate } : {}) };
}

export function parseRenewalAnswer(value: unknown): RenewalAnswer | string {
  const record = asRecord(value);
  if (record === undefined) return 'the answer is not a JSON object';
  const { certificate, serverCertificate } = record;
  if (typeof certificate !== 'string') return 'the answer has no "certificate" string';
  if (serverCertificate !== undefined && serverCertificate !== null && typeof serverCertificate !== 'string') return '"serverCertificate" is not a string';
  return { certificate, ...(typeof serverCertificate === 'string' ? { serverCertificate } : {}) };
}

/** Throws an EnrollmentError unless the answer's certificates are for this key and gateway and chain to its CA bundle. */
export function verifyEnrollmentAnswer(answer: EnrollmentAnswer, keyPem: string, gatewayId: string): void {
  verifyCertificates(answer, answer.caBundle, keyPem, gatewayId);
}

/** The same checks for a renewed certificate, against the CA bundle stored at enrollment. */
export function verifyRenewalAnswer(answer: RenewalAnswer, caBundlePem: string, keyPem: string, gatewayId: string): void {
  verifyCertificates(answer, caBundlePem, keyPem, gatewayId);
}

function verifyCertificates(answer: RenewalAnswer, caBundlePem: string, keyPem: string, gatewayId: string): void {
  const issuers = parseCaBundle(caBundlePem);
  const spki = createPublicKey(keyPem).export({ type: 'spki', format: 'der' });
  const client = checkLeaf('client certificate', answer.certificate, spki, issuers, OID_CLIENT_AUTH, 'clientAuth');
  const commonNames = subjectCommonNames(client);
  if (commonNames.length !== 1 || commonNames[0] !== gatewayId) {
    throw new EnrollmentError('wrong-subject', `the client certificate's subject CN is ${JSON.stringify(commonNames.join(','))}, not the gateway id ${JSON.stringify(gatewayId)}`);
  }
  if (answer.serverCertificate !== undefined) checkLeaf('server certificate', answer.serverCertificate, spki, issuers, OID_SERVER_AUTH, 'serverAuth');
}

/** The CA certificates of a bundle; an EnrollmentError when there is none or one is unreadable. */
export function parseCaBundle(caBundlePem: string): X509Certificate[] {
  const blocks = caBundlePem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new EnrollmentError('malformed-answer', 'the CA bundle holds no PEM certificate');
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error: unknown) {
      throw new EnrollmentError('malformed-answer', `certificate ${index + 1} of the CA bundle cannot be read`, { cause: error });
    }
  });
}

function checkLeaf(what: string, pem: string, spki: Buffer, issuers: readonly X509Certificate[], usageOid: string, usageName: string): X509Certificate {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch (error: unknown) {
    throw new EnrollmentError('malformed-answer', `the ${what} is not a readable PEM certificate`, { cause: error });
  }
  const named = `the ${what} (serial ${certificate.serialNumber})`;
  if (!certificate.publicKey.export({ type: 'spki', format: 'der' }).equals(spki)) {
    throw new EnrollmentError('key-mismatch', `${named} is for another key than the gateway's`);
  }
  const issuer = issuers.find((candidate) => candidate.ca && certificate.checkIssued(candidate) && certificate.verify(candidate.publicKey));
  if (issuer === undefined) {
    throw new EnrollmentError('untrusted-issuer', `${named} is not signed by a CA of the CA bundle (its issuer is ${oneLine(certificate.issuer)})`);
  }
  if (!(certificate.keyUsage ?? []).includes(usageOid)) {
    throw new EnrollmentError('missing-usage', `${named} does not have the extended key usage ${usageName}`);
  }
  return certificate;
}

/** The CN values of the subject (Node gives the subject as `key=value` lines). */
export function subjectCommonNames(certificate: X509Certificate): string[] {
  return certificate.subject
    .split('\n')
    .filter((line) => line.startsWith('CN='))
    .map((line) => line.slice(3));
}

function oneLine(name: string): string {
  return name.replaceAll('\n', ', ');
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
