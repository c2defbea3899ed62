/**
 * Real X.509 material for the TLS tests, made with node-forge at test time so
 * no fixture can expire in the repository and every test can have its own
 * roots, including wrong ones. Everything is returned as PEM text, which is
 * what the gateway's resolved config holds (the loader reads the files).
 *
 * RSA 2048 keys are the slow part, so key pairs are cached in module scope
 * (one test file = one process under tap). Every CA gets a key of its own:
 * two roots sharing a key and a subject would verify each other's
 * signatures, and a "wrong CA" test would then prove nothing. Leaf
 * certificates share one key pair; what the tests check on a leaf is who
 * signed it, its names, its dates and its key usage, never which key it has.
 */
import { randomBytes } from 'node:crypto';
import forge from 'node-forge';

const { pki } = forge;

export interface Pem {
  readonly cert: string;
  readonly key: string;
}

export interface CertificateAuthority extends Pem {
  readonly commonName: string;
}

export interface Validity {
  /** Defaults to one hour ago, so clock skew between hops does not matter. */
  readonly notBefore?: Date;
  /** Defaults to one day after notBefore. */
  readonly notAfter?: Date;
}

export interface CaOptions extends Validity {
  /**
   * Which cached key pair signs; defaults to the common name. Give another
   * slot for an impostor root: same name as the real one, different key.
   */
  readonly keySlot?: string;
}

export interface ServerCertOptions extends Validity {
  /** subjectAltName entries: IPv4/IPv6 literals become IP entries, anything else DNS. */
  readonly hosts?: readonly string[];
  readonly commonName?: string;
}

const keyPairs = new Map<string, Promise<forge.pki.rsa.KeyPair>>();

/**
 * A cached key pair per slot. Asynchronous on purpose: with a callback forge
 * uses node:crypto's native generator on the libuv pool, so roots created
 * with Promise.all are generated in parallel.
 */
function keyPair(slot: string): Promise<forge.pki.rsa.KeyPair> {
  let pair = keyPairs.get(slot);
  if (!pair) {
    pair = new Promise((resolve, reject) => {
      pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 }, (error, keys) => (error ? reject(error) : resolve(keys)));
    });
    keyPairs.set(slot, pair);
  }
  return pair;
}

const HOUR_MS = 60 * 60 * 1000;

/** A self-signed root that may sign leaf certificates (and nothing below them). */
export async function createCa(commonName: string, options: CaOptions = {}): Promise<CertificateAuthority> {
  const keys = await keyPair(`ca:${options.keySlot ?? commonName}`);
  const cert = pki.createCertificate();
  cert.publicKey = keys.publicKey;
  setSerialAndValidity(cert, options);
  const name = [{ name: 'commonName', value: commonName }, { name: 'organizationName', value: 'Pleevi test' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { commonName, cert: pki.certificateToPem(cert), key: pki.privateKeyToPem(keys.privateKey) };
}

/** A TLS server certificate (serverAuth) for the given hosts, by default 127.0.0.1 and localhost. */
export function issueServerCert(ca: CertificateAuthority, options: ServerCertOptions = {}): Promise<Pem> {
  const hosts = options.hosts ?? ['127.0.0.1', 'localhost'];
  const altNames = hosts.map((host) => (isIpLiteral(host) ? { type: 7, ip: host } : { type: 2, value: host }));
  return issueLeaf(ca, options.commonName ?? hosts[0] ?? 'server', options, [
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
  ]);
}

/** A TLS client certificate (clientAuth): a gateway's or, OCPP Profile 3, a station's (CN = serial). */
export function issueClientCert(ca: CertificateAuthority, commonName: string, validity: Validity = {}): Promise<Pem> {
  return issueLeaf(ca, commonName, validity, [{ name: 'extKeyUsage', clientAuth: true }]);
}

async function issueLeaf(ca: CertificateAuthority, commonName: string, validity: Validity, extensions: object[]): Promise<Pem> {
  const keys = await keyPair('leaf');
  const caCert = pki.certificateFromPem(ca.cert);
  const caKey = pki.privateKeyFromPem(ca.key);
  const cert = pki.createCertificate();
  cert.publicKey = keys.publicKey;
  setSerialAndValidity(cert, validity);
  cert.setSubject([{ name: 'commonName', value: commonName }, { name: 'organizationName', value: 'Pleevi test' }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
    ...extensions,
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { cert: pki.certificateToPem(cert), key: pki.privateKeyToPem(keys.privateKey) };
}

function setSerialAndValidity(cert: forge.pki.Certificate, validity: Validity): void {
  // RFC 5280 4.1.2.2: positive, at most 20 octets; the leading 01 keeps the sign bit clear.
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  const notBefore = validity.notBefore ?? new Date(Date.now() - HOUR_MS);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = validity.notAfter ?? new Date(notBefore.getTime() + 24 * HOUR_MS);
}

function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');
}
