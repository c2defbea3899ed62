import type { Migration } from '../migration.js';

/**
 * The driver list (docs/drivers.md). Badges are stored normalized
 * (`normalizeBadge`: trimmed, upper case) so the frame-path lookup is one
 * primary-key probe; the PRIMARY KEY is also what makes "one badge, one
 * driver" hold whatever writes the table. `ON DELETE CASCADE` lets an import
 * drop a driver in one statement.
 *
 * `driver_list_meta` has a single row (id 1) describing the list as a whole:
 * `version` is the last version the cloud's `replace-drivers` carried
 * (docs/cloud.md "Commands": an older or equal version is ignored), NULL until the
 * cloud sends one; `source` and `imported_at` say where the current list came
 * from, for `drivers list` and support.
 */
export const driversMigration: Migration = {
  version: 2,
  description: 'the driver list: drivers, their badges, and where the list came from',
  sql: `
    CREATE TABLE drivers (
      email      TEXT PRIMARY KEY,
      updated_at TEXT NOT NULL
    ) STRICT;
    CREATE TABLE badges (
      badge_id TEXT PRIMARY KEY,
      email    TEXT NOT NULL REFERENCES drivers (email) ON DELETE CASCADE
    ) STRICT;
    CREATE INDEX badges_by_email ON badges (email);
    CREATE TABLE driver_list_meta (
      id          INTEGER PRIMARY KEY CHECK (id = 1),
      version     INTEGER,
      source      TEXT NOT NULL,
      imported_at TEXT NOT NULL
    ) STRICT;
  `,
};
