import type { Migration } from '../../../agent/src/store/migration.js';

/**
 * The registry. Times are Unix milliseconds of the service's clock. A
 * gateway's state is derived, never stored: revoked (revoked_at), enrolled
 * (enrolled_at: the claim code is used up), claimed (site_id with claimed_at,
 * or a preauthorization of its serial), else unclaimed.
 */
export const registryMigration: Migration = {
  version: 1,
  description: 'sites, gateways, preauthorizations, certificates, tokens, failed attempts',
  sql: `
    CREATE TABLE sites (
      id TEXT PRIMARY KEY,
      config TEXT NOT NULL,
      server_certificate INTEGER NOT NULL DEFAULT 0,
      created_at INTEGER NOT NULL
    );
    CREATE TABLE gateways (
      id TEXT PRIMARY KEY,
      serial TEXT,
      claim_code TEXT NOT NULL,
      -- NULL until the gateway's first enroll call: a code flashed at the factory does not age in the warehouse.
      code_expires_at INTEGER,
      registered_at INTEGER NOT NULL,
      first_seen_at INTEGER,
      last_seen_at INTEGER,
      site_id TEXT REFERENCES sites(id),
      claimed_at INTEGER,
      enrolled_at INTEGER,
      revoked_at INTEGER,
      agent_version TEXT,
      lan_addresses TEXT
    );
    CREATE INDEX gateways_serial ON gateways(serial);
    CREATE TABLE preauthorizations (
      serial TEXT PRIMARY KEY,
      site_id TEXT NOT NULL REFERENCES sites(id),
      created_at INTEGER NOT NULL,
      used_by TEXT
    );
    CREATE TABLE certificates (
      serial TEXT PRIMARY KEY,
      gateway_id TEXT NOT NULL REFERENCES gateways(id),
      kind TEXT NOT NULL CHECK (kind IN ('client', 'server')),
      not_before INTEGER NOT NULL,
      not_after INTEGER NOT NULL,
      issued_at INTEGER NOT NULL,
      revoked_at INTEGER
    );
    CREATE INDEX certificates_gateway ON certificates(gateway_id);
    CREATE TABLE tokens (
      hash TEXT PRIMARY KEY,
      role TEXT NOT NULL CHECK (role IN ('installer', 'operator')),
      label TEXT,
      created_at INTEGER NOT NULL
    );
    CREATE TABLE failed_attempts (
      scope TEXT NOT NULL,
      at INTEGER NOT NULL
    );
    CREATE INDEX failed_attempts_scope ON failed_attempts(scope, at);
  `,
};
