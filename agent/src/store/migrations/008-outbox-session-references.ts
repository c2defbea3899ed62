import type { Migration } from '../migration.js';

/**
 * The `updated` events of the session flush (docs/sessions.md "What is
 * written when") are stored as a reference to their session instead of
 * their JSON: `session_id` and the readings at the flush (`meter_start_wh`,
 * `energy_wh`: all a readings-only change can move), with an empty
 * `payload`. The outbox rebuilds the event from the session's row when it
 * publishes it (docs/cloud.md "The outbox: delivery and order"). A flush
 * queues an event for nearly every charging session; their ~400 bytes of
 * JSON each were most of what the flush wrote (issue 10).
 */
export const outboxSessionReferencesMigration: Migration = {
  version: 8,
  description: 'outbox: updated session events of the flush stored as a reference to the session and its readings',
  sql: `
    ALTER TABLE outbox ADD COLUMN session_id INTEGER;
    ALTER TABLE outbox ADD COLUMN meter_start_wh REAL;
    ALTER TABLE outbox ADD COLUMN energy_wh REAL;
  `,
};
