import type { Migration } from '../migration.js';

/**
 * The cloud link's durable outbox and its command log (docs/cloud.md).
 *
 * `outbox`: events waiting for the broker's PUBACK, one row per event, the
 * payload already stamped with its `seq` and `ts`. `seq` is given by the
 * counter in `outbox_state`, not by rowid: a rowid may be reused once the
 * highest row is deleted (and AUTOINCREMENT would not let the payload carry
 * its own seq), while docs/cloud.md "Topics" promises seq strictly increasing for
 * the gateway's whole life. The counter, the depth and the dropped count live
 * in one row updated in the same transaction as the rows, so a rolled-back
 * session change takes its event and its seq with it.
 *
 * `command_log`: the ack of every command a handler ran, by command id, so a
 * repeated id (a QoS 1 redelivery, a cloud retry) gets the same ack again
 * instead of a second execution. Pruned by age and count.
 */
export const outboxMigration: Migration = {
  version: 4,
  description: 'cloud link: durable event outbox and the log of executed commands',
  sql: `
    CREATE TABLE outbox (
      seq        INTEGER PRIMARY KEY,
      topic      TEXT NOT NULL,
      payload    TEXT NOT NULL,
      created_at TEXT NOT NULL
    ) STRICT;
    CREATE TABLE outbox_state (
      id       INTEGER PRIMARY KEY CHECK (id = 1),
      last_seq INTEGER NOT NULL,
      depth    INTEGER NOT NULL,
      dropped  INTEGER NOT NULL
    ) STRICT;
    INSERT INTO outbox_state (id, last_seq, depth, dropped) VALUES (1, 0, 0, 0);
    CREATE TABLE command_log (
      id          TEXT PRIMARY KEY,
      command     TEXT NOT NULL,
      ack         TEXT NOT NULL,
      received_at TEXT NOT NULL
    ) STRICT;
    CREATE INDEX command_log_by_age ON command_log (received_at);
  `,
};
