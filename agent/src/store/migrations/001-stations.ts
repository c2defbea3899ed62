import type { Migration } from '../migration.js';

export const stationsMigration: Migration = {
  version: 1,
  description: 'stations seen by the gateway and their last connection',
  sql: `
    CREATE TABLE stations (
      station_id           TEXT PRIMARY KEY,
      protocol             TEXT NOT NULL DEFAULT '',
      first_seen_at        TEXT NOT NULL,
      last_connected_at    TEXT,
      last_disconnected_at TEXT,
      last_close_code      INTEGER,
      remote_address       TEXT,
      connect_count        INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE TABLE gateway_meta (
      key   TEXT PRIMARY KEY,
      value TEXT NOT NULL
    ) STRICT;
  `,
};
