/**
 * The CRL of revoked gateway certificates (RFC 5280 section 5), built as DER
 * with forge.asn1 because node-forge has no CRL support: a v2 CertificateList
 * signed sha256WithRSAEncryption by the CA, with the two extensions a
 * conforming issuer must include, the CRL number (5.2.3: here the issue time
 * in seconds, so it only grows) and the authority key identifier (5.2.1).
 */
import forge from 'node-forge';
import type { CertificateAuthority } from './certificate-authority.js';

const { asn1 } = forge;
const U = asn1.Class.UNIVERSAL;
const T = asn1.Type;

export interface RevokedEntry {
  /** Hex serial number. */
  readonly serial: string;
  readonly revokedAt: number;
}

/** How long a CRL is good for (nextUpdate); relying parties fetch the next one before then. */
export const CRL_VALIDITY_MS = 24 * 3_600_000;

export function buildCrlPem(ca: CertificateAuthority, revoked: readonly RevokedEntry[], now: number): string {
  const sha256WithRsa = asn1.create(U, T.SEQUENCE, true, [
    asn1.create(U, T.OID, false, asn1.oidToDer(forge.pki.oids.sha256WithRSAEncryption ?? '1.2.840.113549.1.1.11').getBytes()),
    asn1.create(U, T.NULL, false, ''),
  ]);
  const entries = revoked.map((entry) =>
    asn1.create(U, T.SEQUENCE, true, [asn1.create(U, T.INTEGER, false, integerBytes(entry.serial)), time(entry.revokedAt)]),
  );
  const extensions = asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
    asn1.create(U, T.SEQUENCE, true, [
      extension('2.5.29.20', asn1.create(U, T.INTEGER, false, integerBytes(Math.floor(now / 1000).toString(16)))),
      extension('2.5.29.35', asn1.create(U, T.SEQUENCE, true, [asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, ca.keyIdentifier)])),
    ]),
  ]);
  const tbs = asn1.create(U, T.SEQUENCE, true, [
    asn1.create(U, T.INTEGER, false, '\x01'), // v2
    sha256WithRsa,
    forge.pki.distinguishedNameToAsn1(ca.cert.subject),
    time(now),
    time(now + CRL_VALIDITY_MS),
    // revokedCertificates is left out entirely when empty (5.1.2.6), never an empty SEQUENCE.
    ...(entries.length > 0 ? [asn1.create(U, T.SEQUENCE, true, entries)] : []),
    extensions,
  ]);
  const md = forge.md.sha256.create();
  md.update(asn1.toDer(tbs).getBytes());
  const signature = ca.key.sign(md);
  const crl = asn1.create(U, T.SEQUENCE, true, [tbs, sha256WithRsa, asn1.create(U, T.BITSTRING, false, `\x00${signature}`)]);
  return forge.pem.encode({ type: 'X509 CRL', body: asn1.toDer(crl).getBytes() });
}

function extension(oid: string, value: forge.asn1.Asn1): forge.asn1.Asn1 {
  return asn1.create(U, T.SEQUENCE, true, [
    asn1.create(U, T.OID, false, asn1.oidToDer(oid).getBytes()),
    asn1.create(U, T.OCTETSTRING, false, asn1.toDer(value).getBytes()),
  ]);
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 5.1.2.4). */
function time(ms: number): forge.asn1.Asn1 {
  const date = new Date(Math.floor(ms / 1000) * 1000);
  return date.getUTCFullYear() < 2050
    ? asn1.create(U, T.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(U, T.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

/** A non-negative hex number as minimal DER INTEGER content bytes. */
function integerBytes(hex: string): string {
  let even = BigInt(`0x${hex}`).toString(16);
  if (even.length % 2 === 1) even = `0${even}`;
  if (parseInt(even.slice(0, 2), 16) >= 0x80) even = `00${even}`;
  return forge.util.hexToBytes(even);
}
