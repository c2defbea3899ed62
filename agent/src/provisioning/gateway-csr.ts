/**
 * The certificate signing request the gateway will send to the enrollment
 * service (docs/provisioning.md "The enrollment API"): subject CN = the
 * gateway id, signed with the gateway's own key, SHA-256. The key pair comes
 * from node:crypto (native, fast on a Pi); node-forge only builds the CSR.
 */
import type Forge from 'node-forge';
import { lazyModule } from '../util/lazy-module.js';

/** node-forge is needed only to build or check a CSR: at the first start and at a renewal. */
const loadForge = lazyModule<typeof Forge>('node-forge');

export function buildCsr(privateKeyPem: string, gatewayId: string): string {
  const forge = loadForge();
  const privateKey = forge.pki.privateKeyFromPem(privateKeyPem);
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.rsa.setPublicKey(privateKey.n, privateKey.e);
  csr.setSubject([{ name: 'commonName', value: gatewayId }]);
  csr.sign(privateKey, forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

/** Whether `csrPem` is a valid CSR for this key and this gateway id (else it is rebuilt). */
export function csrMatches(csrPem: string, privateKeyPem: string, gatewayId: string): boolean {
  const forge = loadForge();
  try {
    const csr = forge.pki.certificationRequestFromPem(csrPem);
    const privateKey = forge.pki.privateKeyFromPem(privateKeyPem);
    const publicKey = csr.publicKey as Forge.pki.rsa.PublicKey | null;
    return (
      csr.verify() &&
      publicKey !== null &&
      publicKey.n.equals(privateKey.n) &&
      publicKey.e.equals(privateKey.e) &&
      csr.subject.getField('CN')?.value === gatewayId
    );
  } catch {
    // Unparsable: the CSR is derived from the key, so a new one replaces it.
    return false;
  }
}
