import type { Migration } from '../migration.js';

/** The security report of each station's last connection (docs/station-interface.md "Security report"), as JSON. */
export const stationSecurityMigration: Migration = {
  version: 9,
  description: 'the security profiles of each station last connection',
  sql: `
    ALTER TABLE stations ADD COLUMN security TEXT;
  `,
};
