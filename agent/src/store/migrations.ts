/**
 * Versioned schema changes, applied in order, each once, each in its own
 * transaction. Never edit a released migration: add the next one.
 * `PRAGMA user_version` holds the number of the last one applied.
 */
export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'stations seen by the gateway and their last connection',
    sql: `
      CREATE TABLE stations (
        station_id         TEXT PRIMARY KEY,
        protocol           TEXT NOT NULL DEFAULT '',
        first_seen_at      TEXT NOT NULL,
        last_connected_at  TEXT,
        last_disconnected_at TEXT,
        last_close_code    INTEGER,
        remote_address     TEXT,
        connect_count      INTEGER NOT NULL DEFAULT 0
      ) STRICT;
      CREATE TABLE gateway_meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;
    `,
  },
];
