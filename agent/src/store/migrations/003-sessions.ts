import type { Migration } from '../migration.js';

/**
 * Charging sessions and station details, built from the frames going by
 * (docs/sessions.md).
 *
 * `sessions`: one row per OCPP transaction. `transaction_id` is TEXT because
 * 1.6 ids are integers chosen by the CPMS (StartTransaction.conf) and 2.0.1 ids
 * are strings chosen by the station (TransactionEvent transactionInfo). Times
 * are the station's own timestamps (ISO 8601, UTC), so events queued offline
 * and replayed later keep their real times; `created_at` / `updated_at` are
 * the gateway's receive times. Energy is in Wh (REAL: a kWh register with
 * decimals does not always land on a whole Wh).
 *
 * Uniqueness of (station, transaction id) holds among *active* sessions only:
 * 1.6 CPMSs commonly answer a rejected idTag with transactionId 0 every time,
 * so ended sessions may share an id; lookups take the newest row.
 *
 * `connector_status`: the last StatusNotification per connector. 1.6 keys a
 * connector by connectorId alone (evse_id NULL); 2.0.1 by evseId + connectorId.
 */
export const sessionsMigration: Migration = {
  version: 3,
  description: 'charging sessions, station boot details and connector status',
  sql: `
    CREATE TABLE sessions (
      session_id      INTEGER PRIMARY KEY,
      station_id      TEXT NOT NULL,
      ocpp_version    TEXT NOT NULL,
      evse_id         INTEGER,
      connector_id    INTEGER,
      transaction_id  TEXT NOT NULL,
      id_tag          TEXT,
      id_tag_status   TEXT,
      driver_email    TEXT,
      started_at      TEXT NOT NULL,
      ended_at        TEXT,
      meter_start_wh  REAL,
      meter_start_at  TEXT,
      meter_stop_wh   REAL,
      last_meter_wh   REAL,
      last_meter_at   TEXT,
      energy_wh       REAL,
      stop_reason     TEXT,
      last_seq_no     INTEGER,
      missed_seq_nos  INTEGER NOT NULL DEFAULT 0,
      offline_events  INTEGER NOT NULL DEFAULT 0,
      state           TEXT NOT NULL CHECK (state IN ('active', 'ended')),
      created_at      TEXT NOT NULL,
      updated_at      TEXT NOT NULL
    ) STRICT;
    CREATE UNIQUE INDEX sessions_active_transaction ON sessions (station_id, transaction_id) WHERE state = 'active';
    CREATE INDEX sessions_by_transaction ON sessions (station_id, transaction_id);
    CREATE INDEX sessions_by_start ON sessions (started_at);
    CREATE INDEX sessions_active ON sessions (station_id) WHERE state = 'active';

    ALTER TABLE stations ADD COLUMN vendor TEXT;
    ALTER TABLE stations ADD COLUMN model TEXT;
    ALTER TABLE stations ADD COLUMN serial_number TEXT;
    ALTER TABLE stations ADD COLUMN firmware_version TEXT;
    ALTER TABLE stations ADD COLUMN boot_reason TEXT;
    ALTER TABLE stations ADD COLUMN last_boot_at TEXT;

    CREATE TABLE connector_status (
      station_id   TEXT NOT NULL,
      evse_id      INTEGER,
      connector_id INTEGER NOT NULL,
      status       TEXT NOT NULL,
      error_code   TEXT,
      info         TEXT,
      status_at    TEXT NOT NULL,
      updated_at   TEXT NOT NULL
    ) STRICT;
    CREATE UNIQUE INDEX connector_status_key ON connector_status (station_id, coalesce(evse_id, -1), connector_id);
  `,
};
