import type { Migration } from '../migration.js';

/**
 * Cloud schedules (`set-schedule`, docs/schedules.md).
 *
 * One row per `scheduleId`, kept after it is cleared or expired: the row is
 * what holds its `profile_id`, and the gateway never hands a profile id to
 * another schedule (a station may still hold the old profile under it).
 * `profile_id` is allocated from `smartCharging.profileIdBase` upwards and
 * stays with the scheduleId when the cloud sends it again (the station then
 * overwrites the profile in place: 1.6 section 5.16, 2.0.1 K01.FR.05).
 *
 * `periods` is the JSON array of the command. `accepted_at` is when the
 * current version was accepted: the start of a `max` schedule without
 * `startsAt`. `last_*` is the outcome last reported (ack or schedule event).
 */
export const schedulesMigration: Migration = {
  version: 5,
  description: 'cloud charging schedules and the profile ids the gateway gave them',
  sql: `
    CREATE TABLE schedules (
      schedule_id   TEXT PRIMARY KEY,
      station_id    TEXT NOT NULL,
      connector_id  INTEGER NOT NULL CHECK (connector_id >= 0),
      purpose       TEXT NOT NULL CHECK (purpose IN ('default', 'max')),
      unit          TEXT NOT NULL CHECK (unit IN ('A', 'W')),
      starts_at     TEXT,
      valid_until   TEXT,
      recurrency    TEXT CHECK (recurrency IN ('daily', 'weekly')),
      periods       TEXT NOT NULL,
      profile_id    INTEGER NOT NULL UNIQUE,
      accepted_at   TEXT NOT NULL,
      command_id    TEXT,
      state         TEXT NOT NULL CHECK (state IN ('pending', 'applied', 'rejected', 'failed', 'clearing', 'cleared', 'expired')),
      last_result   TEXT,
      last_status   TEXT,
      last_reason   TEXT,
      last_at       TEXT,
      created_at    TEXT NOT NULL,
      updated_at    TEXT NOT NULL
    ) STRICT;
    CREATE INDEX schedules_by_station ON schedules (station_id);
  `,
};
