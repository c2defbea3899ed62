/**
 * POST /v1/enroll and POST /v1/renew (docs/provisioning.md "The enrollment
 * API"). The first enroll call of an unknown gateway registers it with the
 * claim code it made itself; from then on the code must match. The gateway
 * gets its certificates once it is claimed, or preauthorized by its serial;
 * that uses the claim code up, and later certificates come only from renew,
 * authenticated by the current certificate over mutual TLS.
 */
import { createHash } from 'node:crypto';
import forge from 'node-forge';
import { claimCodesEqual, normaliseClaimCode } from './claim-code-input.js';
import { ApiError } from './errors.js';
import { addGateway, getGateway, preauthorizedSite, type GatewayRow } from './gateways.js';
import { issueClientCertificate, issueServerCertificate, verifiedCsrKey, type IssuedCertificate } from './issue-certificate.js';
import { isGatewayId, isLanAddressList, isSerial } from './names.js';
import type { ServiceContext } from './service-context.js';
import { getSite, type Site } from './sites.js';

export type EnrollAnswer =
  | { readonly status: 202; readonly body: { readonly retryAfterS: number } }
  | { readonly status: 200; readonly body: { certificate: string; caBundle: string; serverCertificate?: string; config: Record<string, unknown> } };

export function enroll(context: ServiceContext, body: Record<string, unknown>, clientAddress: string): EnrollAnswer {
  const { db, clock, limiter, settings } = context;
  const { gatewayId, serial, claimCode, csr, lanAddresses, agentVersion } = body;
  if (!isGatewayId(gatewayId)) throw new ApiError(400, 'invalid_request', 'gatewayId must be 1 to 64 characters from A-Z a-z 0-9 . _ -');
  if (!isSerial(serial)) throw new ApiError(400, 'invalid_request', 'serial must be 1 to 128 printable ASCII characters');
  if (typeof claimCode !== 'string') throw new ApiError(400, 'invalid_request', 'claimCode must be a string');
  if (!isLanAddressList(lanAddresses)) throw new ApiError(400, 'invalid_request', 'lanAddresses must be a list of at most 16 IP addresses');
  if (agentVersion !== undefined && (typeof agentVersion !== 'string' || agentVersion.length > 64)) throw new ApiError(400, 'invalid_request', 'agentVersion must be a string of at most 64 characters');
  const publicKey = verifiedCsrKey(csr, gatewayId);
  const scopes = [`gw:${gatewayId}`, `ip:${clientAddress}`];
  limiter.check(scopes);

  const code = normaliseClaimCode(claimCode);
  const now = clock();
  let gateway = getGateway(db, gatewayId);
  if (gateway === undefined) {
    if (code === undefined) throw new ApiError(400, 'invalid_claim_code', 'claimCode must be 16 Crockford base32 symbols (XXXX-XXXX-XXXX-XXXX)');
    addGateway(db, { id: gatewayId, serial, claimCode: code, codeExpiresAt: null, now });
    gateway = getGateway(db, gatewayId);
  }
  if (gateway === undefined || !claimCodesEqual(gateway.claim_code, code)) {
    limiter.record(scopes);
    throw new ApiError(403, 'wrong_claim_code', 'the claim code does not match this gateway');
  }
  if (gateway.revoked_at !== null) throw new ApiError(403, 'gateway_revoked', 'this gateway is revoked');
  if (gateway.serial !== null && gateway.serial !== serial) throw new ApiError(403, 'serial_mismatch', 'the serial does not match this gateway');

  // The claim code starts to age at the gateway's first call, also for a factory-registered gateway.
  db.prepare(
    `UPDATE gateways SET serial = coalesce(serial, ?), first_seen_at = coalesce(first_seen_at, ?), code_expires_at = coalesce(code_expires_at, ?),
       last_seen_at = ?, agent_version = ?, lan_addresses = ? WHERE id = ?`,
  ).run(serial, now, now + settings.claimTtlS * 1000, now, agentVersion ?? null, JSON.stringify(lanAddresses), gatewayId);
  gateway = getGateway(db, gatewayId) as GatewayRow;

  const keyHash = publicKeySha256(publicKey);
  if (gateway.enrolled_at !== null) {
    // The same gateway asking again with the key it enrolled with lost our answer: give it again.
    if (gateway.enrolled_key_sha256 !== keyHash || gateway.site_id === null) {
      throw new ApiError(409, 'code_used', 'this gateway is already enrolled: it renews with its certificate');
    }
    const site = getSite(db, gateway.site_id);
    if (site === undefined) throw new ApiError(500, 'internal', `site ${gateway.site_id} is missing`);
    const issued = issueFor(context, site, gatewayId, publicKey, lanAddresses, now);
    return { status: 200, body: { certificate: issued.client.pem, caBundle: requireCa(context).certPem, ...(issued.server ? { serverCertificate: issued.server.pem } : {}), config: site.config } };
  }
  const siteId = gateway.claimed_at !== null ? gateway.site_id : preauthorizedSite(db, gateway.serial);
  if (siteId === null || siteId === undefined) {
    if (gateway.code_expires_at !== null && now >= gateway.code_expires_at) throw new ApiError(410, 'code_expired', 'the claim code has expired before the gateway was claimed');
    return { status: 202, body: { retryAfterS: settings.retryAfterS } };
  }
  const site = getSite(db, siteId);
  if (site === undefined) throw new ApiError(500, 'internal', `site ${siteId} is missing`);

  return db.transaction((): EnrollAnswer => {
    const used = db.prepare('UPDATE gateways SET enrolled_at = ?, site_id = ?, enrolled_key_sha256 = ? WHERE id = ? AND enrolled_at IS NULL').run(now, siteId, keyHash, gatewayId);
    if (used.changes !== 1) throw new ApiError(409, 'code_used', 'this gateway is already enrolled: it renews with its certificate');
    if (gateway.claimed_at === null) db.prepare('UPDATE preauthorizations SET used_by = ? WHERE serial = ?').run(gatewayId, gateway.serial);
    const issued = issueFor(context, site, gatewayId, publicKey, lanAddresses, now);
    return { status: 200, body: { certificate: issued.client.pem, caBundle: requireCa(context).certPem, ...(issued.server ? { serverCertificate: issued.server.pem } : {}), config: site.config } };
  })();
}

function publicKeySha256(publicKey: forge.pki.rsa.PublicKey): string {
  return createHash('sha256').update(forge.pki.publicKeyToPem(publicKey)).digest('hex');
}

/** What the TLS layer says about the caller of /v1/renew. */
export interface PeerCertificate {
  /** The chain verified against the CA and the certificate is in its validity period. */
  readonly authorized: boolean;
  readonly commonName?: string;
  /** Hex serial as node:tls reports it. */
  readonly serialNumber?: string;
}

export function renew(context: ServiceContext, peer: PeerCertificate, body: Record<string, unknown>): { certificate: string; serverCertificate?: string } {
  const { db, clock } = context;
  if (!peer.authorized || peer.commonName === undefined || peer.serialNumber === undefined) {
    throw new ApiError(403, 'client_certificate_required', 'renew needs the gateway\'s current certificate, issued by this CA');
  }
  const serial = BigInt(`0x${peer.serialNumber}`).toString(16);
  const issued = db.prepare("SELECT gateway_id, revoked_at, not_after FROM certificates WHERE serial = ? AND kind = 'client'").get(serial) as
    | { gateway_id: string; revoked_at: number | null; not_after: number }
    | undefined;
  const gatewayId = peer.commonName;
  const gateway = getGateway(db, gatewayId);
  if (issued === undefined || issued.gateway_id !== gatewayId || gateway === undefined) throw new ApiError(403, 'unknown_certificate', 'this certificate is not a current gateway certificate');
  if (issued.revoked_at !== null || gateway.revoked_at !== null) throw new ApiError(403, 'certificate_revoked', 'this certificate is revoked');
  const now = clock();
  if (now >= issued.not_after) throw new ApiError(403, 'certificate_expired', 'this certificate has expired; the gateway must be enrolled again');
  if (!isLanAddressList(body.lanAddresses)) throw new ApiError(400, 'invalid_request', 'lanAddresses must be a list of at most 16 IP addresses');
  let publicKey: forge.pki.rsa.PublicKey;
  try {
    publicKey = verifiedCsrKey(body.csr, gatewayId);
  } catch (error: unknown) {
    // A CSR for another gateway than the certificate's: refused, not merely malformed.
    if (error instanceof ApiError && error.code === 'csr_subject_mismatch') throw new ApiError(403, 'csr_subject_mismatch', 'the CSR is for another gateway than this certificate');
    throw error;
  }
  const site = gateway.site_id !== null ? getSite(db, gateway.site_id) : undefined;
  db.prepare('UPDATE gateways SET last_seen_at = ?, lan_addresses = ? WHERE id = ?').run(now, JSON.stringify(body.lanAddresses), gatewayId);
  const result = issueFor(context, site, gatewayId, publicKey, body.lanAddresses, now);
  return { certificate: result.client.pem, ...(result.server ? { serverCertificate: result.server.pem } : {}) };
}

function issueFor(context: ServiceContext, site: Site | undefined, gatewayId: string, publicKey: forge.pki.rsa.PublicKey, lanAddresses: readonly string[], now: number): { client: IssuedCertificate; server?: IssuedCertificate } {
  const ca = requireCa(context);
  const options = { gatewayId, publicKey, lifetimeS: context.settings.certLifetimeS, now };
  const client = issueClientCertificate(ca, options);
  const server = site?.serverCertificate === true ? issueServerCertificate(ca, { ...options, names: [...lanAddresses, `${gatewayId}.local`] }) : undefined;
  const record = context.db.prepare('INSERT INTO certificates (serial, gateway_id, kind, not_before, not_after, issued_at) VALUES (?, ?, ?, ?, ?, ?)');
  record.run(client.serial, gatewayId, 'client', client.notBefore, client.notAfter, now);
  if (server) record.run(server.serial, gatewayId, 'server', server.notBefore, server.notAfter, now);
  return server ? { client, server } : { client };
}

function requireCa(context: ServiceContext): NonNullable<ServiceContext['ca']> {
  if (context.ca === undefined) throw new ApiError(500, 'internal', 'no CA loaded');
  return context.ca;
}
