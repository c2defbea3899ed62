/**
 * The service's CA: `<data>/ca.key` (PKCS#8 PEM, mode 0600) and
 * `<data>/ca.crt`. Made once by `ca init` (RSA 3072 from node:crypto, the
 * certificate built with node-forge, which handles RSA only) or imported from
 * an existing CA. Never written over: the gateways already trust it.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';
import { describeError } from '../../agent/src/errors.js';
import { writeFileAtomic } from '../../agent/src/provisioning/atomic-write.js';
import { ProvisionError, UsageError } from './errors.js';

export const CA_KEY_FILE = 'ca.key';
export const CA_CERT_FILE = 'ca.crt';
const CA_LIFETIME_YEARS = 10;

export interface CertificateAuthority {
  readonly cert: forge.pki.Certificate;
  readonly key: forge.pki.rsa.PrivateKey;
  readonly certPem: string;
  /** The key identifier the issued certificates name as their authority (RFC 5280 4.2.1.1). */
  readonly keyIdentifier: string;
}

export function caExists(dataDir: string): boolean {
  return existsSync(join(dataDir, CA_KEY_FILE)) || existsSync(join(dataDir, CA_CERT_FILE));
}

/** A positive serial of exactly 128 bits: the top bit set, 127 random bits (forge writes the hex as is, so the 00 keeps it positive). */
export function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) | 0x80;
  return `00${bytes.toString('hex')}`;
}

export function createCa(dataDir: string, commonName: string, now: number): CertificateAuthority {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.rsa.setPublicKey(key.n, key.e);
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = new Date(now - 5 * 60_000);
  cert.validity.notAfter = new Date(now + CA_LIFETIME_YEARS * 365 * 86_400_000);
  const name = [{ name: 'commonName', value: commonName }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  writeCaFiles(dataDir, keyPem, certPem);
  return loadCa(dataDir);
}

export function importCa(dataDir: string, certFile: string, keyFile: string): CertificateAuthority {
  const certPem = readText(certFile);
  const keyPem = readText(keyFile);
  let cert: forge.pki.Certificate;
  let key: forge.pki.rsa.PrivateKey;
  try {
    cert = forge.pki.certificateFromPem(certPem);
  } catch (error: unknown) {
    throw new UsageError(`${certFile} is not a PEM RSA certificate (${describeError(error)})`);
  }
  try {
    key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  } catch (error: unknown) {
    throw new UsageError(`${keyFile} is not an unencrypted PEM RSA private key (${describeError(error)})`);
  }
  const publicKey = cert.publicKey as forge.pki.rsa.PublicKey;
  if (!publicKey.n.equals(key.n) || !publicKey.e.equals(key.e)) throw new UsageError(`${keyFile} is not the key of ${certFile}`);
  const constraints = cert.getExtension('basicConstraints') as { cA?: boolean } | undefined;
  if (constraints?.cA !== true) throw new UsageError(`${certFile} is not a CA certificate (no basicConstraints cA=true)`);
  // Stored as PKCS#8 like a generated key, whatever form it came in.
  const pkcs8 = forge.pki.privateKeyInfoToPem(forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(key)));
  writeCaFiles(dataDir, pkcs8, forge.pki.certificateToPem(cert));
  return loadCa(dataDir);
}

export function loadCa(dataDir: string): CertificateAuthority {
  const keyPath = join(dataDir, CA_KEY_FILE);
  const certPath = join(dataDir, CA_CERT_FILE);
  if (!existsSync(keyPath) || !existsSync(certPath)) {
    throw new ProvisionError(`no CA in ${dataDir}: run "pleevi-provision ca init" first`);
  }
  try {
    const certPem = readFileSync(certPath, 'utf8');
    const cert = forge.pki.certificateFromPem(certPem);
    const key = forge.pki.privateKeyFromPem(readFileSync(keyPath, 'utf8')) as forge.pki.rsa.PrivateKey;
    const ski = cert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | undefined;
    const keyIdentifier = ski?.subjectKeyIdentifier !== undefined ? forge.util.hexToBytes(ski.subjectKeyIdentifier) : cert.generateSubjectKeyIdentifier().getBytes();
    return { cert, key, certPem, keyIdentifier };
  } catch (error: unknown) {
    throw new ProvisionError(`cannot read the CA in ${dataDir}: ${describeError(error)}`, { cause: error });
  }
}

function writeCaFiles(dataDir: string, keyPem: string, certPem: string): void {
  // Exclusive: of two `ca init` at once, one wins and the other is refused instead of replacing the key.
  if (!writeFileAtomic(join(dataDir, CA_KEY_FILE), keyPem, 0o600, { exclusive: true })) {
    throw new ProvisionError(`a CA already exists in ${dataDir}; it is never replaced`);
  }
  writeFileAtomic(join(dataDir, CA_CERT_FILE), certPem, 0o644, { exclusive: true });
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error: unknown) {
    throw new UsageError(`cannot read ${path}: ${describeError(error)}`);
  }
}
