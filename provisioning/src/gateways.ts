/**
 * The gateway registry. A gateway becomes known in one of two ways: its
 * first POST /v1/enroll (it made its own claim code, the usual case), or
 * `gateways add` / `gateways import` for a gateway flashed at the factory
 * with a pre-made identity (the factory's CSV gives id, serial and code, and
 * `label` prints its QR sticker).
 */
import type { ProvisionDb } from './provision-store.js';

export type GatewayState = 'unclaimed' | 'claimed' | 'enrolled' | 'revoked';

export interface GatewayRow {
  readonly id: string;
  readonly serial: string | null;
  readonly claim_code: string;
  readonly code_expires_at: number | null;
  readonly registered_at: number;
  readonly first_seen_at: number | null;
  readonly last_seen_at: number | null;
  readonly site_id: string | null;
  readonly claimed_at: number | null;
  readonly enrolled_at: number | null;
  readonly revoked_at: number | null;
  readonly agent_version: string | null;
  readonly lan_addresses: string | null;
  readonly enrolled_key_sha256: string | null;
}

export interface GatewaySummary {
  readonly gatewayId: string;
  readonly serial: string | null;
  readonly state: GatewayState;
  readonly siteId: string | null;
  readonly certificateExpiresAt: string | null;
  readonly lastSeenAt: string | null;
  readonly agentVersion: string | null;
}

export function getGateway(db: ProvisionDb, id: string): GatewayRow | undefined {
  return db.prepare('SELECT * FROM gateways WHERE id = ?').get(id) as GatewayRow | undefined;
}

export function gatewayState(row: GatewayRow, preauthorized = false): GatewayState {
  if (row.revoked_at !== null) return 'revoked';
  if (row.enrolled_at !== null) return 'enrolled';
  if (row.claimed_at !== null || preauthorized) return 'claimed';
  return 'unclaimed';
}

export interface NewGateway {
  readonly id: string;
  readonly serial: string | null;
  readonly claimCode: string;
  readonly codeExpiresAt: number | null;
  readonly now: number;
}

/** False when the id is taken. */
export function addGateway(db: ProvisionDb, gateway: NewGateway): boolean {
  const result = db
    .prepare('INSERT INTO gateways (id, serial, claim_code, code_expires_at, registered_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING')
    .run(gateway.id, gateway.serial, gateway.claimCode, gateway.codeExpiresAt, gateway.now);
  return result.changes === 1;
}

export function preauthorizedSite(db: ProvisionDb, serial: string | null): string | undefined {
  if (serial === null) return undefined;
  const row = db.prepare('SELECT site_id FROM preauthorizations WHERE serial = ?').get(serial) as { site_id: string } | undefined;
  return row?.site_id;
}

export function putPreauthorization(db: ProvisionDb, serial: string, siteId: string, now: number): void {
  db.prepare(
    'INSERT INTO preauthorizations (serial, site_id, created_at) VALUES (?, ?, ?) ON CONFLICT(serial) DO UPDATE SET site_id = excluded.site_id, created_at = excluded.created_at, used_by = NULL',
  ).run(serial, siteId, now);
}

/** Revoke a gateway and every certificate issued to it. False when unknown. */
export function revokeGateway(db: ProvisionDb, id: string, now: number): boolean {
  return db.transaction(() => {
    const result = db.prepare('UPDATE gateways SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?').run(now, id);
    db.prepare('UPDATE certificates SET revoked_at = coalesce(revoked_at, ?) WHERE gateway_id = ?').run(now, id);
    return result.changes === 1;
  })();
}

export function listGateways(db: ProvisionDb): GatewaySummary[] {
  const rows = db
    .prepare(
      `SELECT g.*, p.site_id AS preauthorized_site,
        (SELECT max(not_after) FROM certificates c WHERE c.gateway_id = g.id AND c.kind = 'client') AS cert_not_after
       FROM gateways g LEFT JOIN preauthorizations p ON p.serial = g.serial ORDER BY g.id`,
    )
    .all() as (GatewayRow & { preauthorized_site: string | null; cert_not_after: number | null })[];
  return rows.map((row) => ({
    gatewayId: row.id,
    serial: row.serial,
    state: gatewayState(row, row.preauthorized_site !== null),
    siteId: row.site_id ?? row.preauthorized_site,
    certificateExpiresAt: iso(row.cert_not_after),
    lastSeenAt: iso(row.last_seen_at),
    agentVersion: row.agent_version,
  }));
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
