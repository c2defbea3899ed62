/**
 * Sites: where a gateway is claimed to, with the configuration object its
 * gateways receive on enrollment (docs/provisioning.md "The enrolled
 * configuration") and whether they also get a server certificate for their
 * LAN `wss://` listener.
 */
import type { ProvisionDb } from './provision-store.js';

export interface Site {
  readonly id: string;
  readonly config: Record<string, unknown>;
  readonly serverCertificate: boolean;
  readonly createdAt: number;
}

interface SiteRow {
  id: string;
  config: string;
  server_certificate: number;
  created_at: number;
}

export function putSite(db: ProvisionDb, site: Site): void {
  db.prepare(
    `INSERT INTO sites (id, config, server_certificate, created_at) VALUES (?, ?, ?, ?)
     ON CONFLICT(id) DO UPDATE SET config = excluded.config, server_certificate = excluded.server_certificate`,
  ).run(site.id, JSON.stringify(site.config), site.serverCertificate ? 1 : 0, site.createdAt);
}

export function getSite(db: ProvisionDb, id: string): Site | undefined {
  const row = db.prepare('SELECT * FROM sites WHERE id = ?').get(id) as SiteRow | undefined;
  return row === undefined ? undefined : toSite(row);
}

export function listSites(db: ProvisionDb): Site[] {
  return (db.prepare('SELECT * FROM sites ORDER BY id').all() as SiteRow[]).map(toSite);
}

function toSite(row: SiteRow): Site {
  return { id: row.id, config: JSON.parse(row.config) as Record<string, unknown>, serverCertificate: row.server_certificate === 1, createdAt: row.created_at };
}
