import type { Migration } from '../migration.js';

/**
 * `sessions_active` (station_id, partial on active sessions) is the prefix
 * of `sessions_active_transaction` (station_id, transaction_id, same
 * partial WHERE), which serves every query it served. Each index is one more
 * page written into the WAL at every session start and end (issue 10,
 * docs/sessions.md "What is written when").
 */
export const dropRedundantSessionIndexMigration: Migration = {
  version: 7,
  description: 'sessions: drop the index sessions_active, redundant with sessions_active_transaction',
  sql: `
    DROP INDEX IF EXISTS sessions_active;
  `,
};
