/**
 * Gateway certificates (docs/provisioning.md "Certificates"), signed with
 * node-forge from the gateway's CSR: subject CN = the gateway id, a random
 * 128-bit serial, notBefore 5 minutes in the past for clock skew. The client
 * certificate has extendedKeyUsage clientAuth; the optional server
 * certificate (same key) has serverAuth and the LAN addresses and
 * `<gatewayId>.local` as subject alternative names.
 */
import forge from 'node-forge';
import { isIP } from 'node:net';
import { ApiError } from './errors.js';
import { randomSerialHex, type CertificateAuthority } from './certificate-authority.js';

export const BACKDATE_MS = 5 * 60_000;

export interface IssuedCertificate {
  readonly pem: string;
  /** Lower-case hex without leading zeros, as the CRL and `list` show it. */
  readonly serial: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

/** The CSR's public key, once its signature and its CN (= gatewayId) are checked. 400 otherwise. */
export function verifiedCsrKey(csrPem: unknown, gatewayId: string): forge.pki.rsa.PublicKey {
  if (typeof csrPem !== 'string' || csrPem.length > 16_384) throw new ApiError(400, 'invalid_csr', 'csr must be a PEM certificate signing request');
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = forge.pki.certificationRequestFromPem(csrPem);
  } catch {
    throw new ApiError(400, 'invalid_csr', 'csr is not a PEM RSA certificate signing request');
  }
  let signed = false;
  try {
    signed = csr.verify();
  } catch {
    signed = false;
  }
  if (!signed) throw new ApiError(400, 'invalid_csr', 'the CSR signature does not verify');
  const commonName = csr.subject.getField('CN') as { value?: unknown } | null;
  if (commonName?.value !== gatewayId) throw new ApiError(400, 'csr_subject_mismatch', 'the CSR subject CN must be the gateway id');
  return csr.publicKey as forge.pki.rsa.PublicKey;
}

export interface IssueOptions {
  /** The subject CN: the gateway id (the service's own certificate: its name). */
  readonly gatewayId: string;
  readonly publicKey: forge.pki.rsa.PublicKey;
  readonly lifetimeS: number;
  readonly now: number;
}

export function issueClientCertificate(ca: CertificateAuthority, options: IssueOptions): IssuedCertificate {
  return issue(ca, options, [{ name: 'extKeyUsage', clientAuth: true }], { digitalSignature: true, keyEncipherment: true });
}

/** `names`: IP literals become IP SANs, anything else a DNS SAN. */
export function issueServerCertificate(ca: CertificateAuthority, options: IssueOptions & { names: readonly string[] }): IssuedCertificate {
  const altNames = options.names.map((name) => (isIP(name) !== 0 ? { type: 7, ip: name } : { type: 2, value: name }));
  return issue(ca, options, [{ name: 'extKeyUsage', serverAuth: true }, { name: 'subjectAltName', altNames }], { digitalSignature: true, keyEncipherment: true });
}

function issue(ca: CertificateAuthority, options: IssueOptions, extensions: object[], keyUsage: object): IssuedCertificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = options.publicKey;
  cert.serialNumber = randomSerialHex();
  const notBefore = Math.floor((options.now - BACKDATE_MS) / 1000) * 1000;
  const notAfter = Math.floor((options.now + options.lifetimeS * 1000) / 1000) * 1000;
  cert.validity.notBefore = new Date(notBefore);
  cert.validity.notAfter = new Date(notAfter);
  cert.setSubject([{ name: 'commonName', value: options.gatewayId }]);
  cert.setIssuer(ca.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', critical: true, ...keyUsage },
    ...extensions,
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.keyIdentifier },
  ]);
  cert.sign(ca.key, forge.md.sha256.create());
  return { pem: forge.pki.certificateToPem(cert), serial: serialOf(cert.serialNumber), notBefore, notAfter };
}

export function serialOf(hex: string): string {
  return BigInt(`0x${hex}`).toString(16);
}
