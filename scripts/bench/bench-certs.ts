/**
 * Certificates for the bench's `wss://` CPMS with mutual TLS: one root, a
 * server certificate for 127.0.0.1 and localhost, and a client certificate
 * the gateway and nginx both present. Made fresh for every run, written as
 * PEM files (nginx reads files; the gateway's config holds the PEM text).
 *
 * Keys come from node:crypto (native, fast); node-forge builds the X.509
 * certificates from them (it signs only with RSA: docs TOOLCHAIN).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';

const { pki } = forge;
const HOUR_MS = 60 * 60 * 1000;

export interface BenchCertFiles {
  readonly dir: string;
  readonly caPath: string;
  readonly serverCertPath: string;
  readonly serverKeyPath: string;
  readonly clientCertPath: string;
  readonly clientKeyPath: string;
  /** The same material as text. */
  readonly ca: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

interface KeyPair {
  readonly publicKey: forge.pki.rsa.PublicKey;
  readonly privateKey: forge.pki.rsa.PrivateKey;
  readonly privatePem: string;
}

function rsaKeyPair(): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    publicKey: pki.publicKeyFromPem(publicKey) as forge.pki.rsa.PublicKey,
    privateKey: pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey,
    privatePem: privateKey,
  };
}

function newCertificate(publicKey: forge.pki.rsa.PublicKey, commonName: string): forge.pki.Certificate {
  const cert = pki.createCertificate();
  cert.publicKey = publicKey;
  // A positive serial: the high bit clear.
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - HOUR_MS);
  cert.validity.notAfter = new Date(Date.now() + 24 * HOUR_MS);
  cert.setSubject([{ name: 'commonName', value: commonName }, { name: 'organizationName', value: 'Pleevi bench' }]);
  return cert;
}

export function writeBenchCerts(dir: string): BenchCertFiles {
  mkdirSync(dir, { recursive: true });
  const caKeys = rsaKeyPair();
  const ca = newCertificate(caKeys.publicKey, 'Pleevi bench root');
  ca.setIssuer(ca.subject.attributes);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());

  const leaf = (commonName: string, extensions: object[]): { cert: string; key: string } => {
    const keys = rsaKeyPair();
    const cert = newCertificate(keys.publicKey, commonName);
    cert.setIssuer(ca.subject.attributes);
    cert.setExtensions([
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
      ...extensions,
    ]);
    cert.sign(caKeys.privateKey, forge.md.sha256.create());
    return { cert: pki.certificateToPem(cert), key: keys.privatePem };
  };
  const server = leaf('localhost', [
    { name: 'extKeyUsage', serverAuth: true },
    // nginx checks DNS names only (proxy_ssl_name localhost); Node checks the IP.
    { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
  ]);
  const client = leaf('gw-bench', [{ name: 'extKeyUsage', clientAuth: true }]);

  const caPem = pki.certificateToPem(ca);
  const files = {
    caPath: join(dir, 'ca.pem'),
    serverCertPath: join(dir, 'server.pem'),
    serverKeyPath: join(dir, 'server.key'),
    clientCertPath: join(dir, 'client.pem'),
    clientKeyPath: join(dir, 'client.key'),
  };
  writeFileSync(files.caPath, caPem);
  writeFileSync(files.serverCertPath, server.cert);
  writeFileSync(files.serverKeyPath, server.key, { mode: 0o600 });
  writeFileSync(files.clientCertPath, client.cert);
  writeFileSync(files.clientKeyPath, client.key, { mode: 0o600 });
  return { dir, ...files, ca: caPem, clientCert: client.cert, clientKey: client.key };
}
