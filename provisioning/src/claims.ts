/**
 * Claiming a gateway for a site (POST /v1/claims, the claim page, `claim` on
 * the command line): the same rules everywhere. Order matters: the rate
 * limit first, then unknown gateway, then a wrong code; only the right code
 * learns that it is used (409) or expired (410).
 */
import { claimCodesEqual, normaliseClaimCode } from './claim-code-input.js';
import { ApiError } from './errors.js';
import { getGateway } from './gateways.js';
import { isGatewayId, isSiteId } from './names.js';
import type { ServiceContext } from './service-context.js';
import { getSite } from './sites.js';

export interface ClaimRequest {
  readonly gatewayId: unknown;
  readonly claimCode: unknown;
  readonly siteId: unknown;
  /** The caller's address for the per-address limit; undefined from the command line. */
  readonly clientAddress?: string;
}

export interface ClaimResult {
  readonly gatewayId: string;
  readonly siteId: string;
  readonly claimedAt: string;
}

export function claimGateway(context: ServiceContext, request: ClaimRequest): ClaimResult {
  const { db, clock, limiter } = context;
  if (!isGatewayId(request.gatewayId)) throw new ApiError(400, 'invalid_request', 'gatewayId must be 1 to 64 characters from A-Z a-z 0-9 . _ -');
  if (typeof request.claimCode !== 'string') throw new ApiError(400, 'invalid_request', 'claimCode must be a string');
  if (!isSiteId(request.siteId)) throw new ApiError(400, 'invalid_request', 'siteId must be 1 to 64 characters from A-Z a-z 0-9 . _ -');
  const gatewayId = request.gatewayId;
  const siteId = request.siteId;
  const scopes = [`gw:${gatewayId}`, ...(request.clientAddress !== undefined ? [`ip:${request.clientAddress}`] : [])];
  limiter.check(scopes);

  const site = getSite(db, siteId);
  if (site === undefined) throw new ApiError(404, 'site_not_found', `no site ${siteId}`);
  const gateway = getGateway(db, gatewayId);
  const code = normaliseClaimCode(request.claimCode);
  if (gateway === undefined || !claimCodesEqual(gateway.claim_code, code)) {
    limiter.record(scopes);
    throw new ApiError(404, 'not_found', 'unknown gateway or claim code');
  }
  if (gateway.revoked_at !== null) throw new ApiError(409, 'gateway_revoked', 'this gateway is revoked');
  if (gateway.claimed_at !== null || gateway.enrolled_at !== null) throw new ApiError(409, 'code_used', 'this claim code has already been used');
  const now = clock();
  if (gateway.code_expires_at !== null && now >= gateway.code_expires_at) throw new ApiError(410, 'code_expired', 'this claim code has expired');

  const claimed = db.prepare('UPDATE gateways SET site_id = ?, claimed_at = ? WHERE id = ? AND claimed_at IS NULL AND enrolled_at IS NULL').run(siteId, now, gatewayId);
  // A concurrent claim won between the read and the write.
  if (claimed.changes !== 1) throw new ApiError(409, 'code_used', 'this claim code has already been used');
  return { gatewayId, siteId, claimedAt: new Date(now).toISOString() };
}
