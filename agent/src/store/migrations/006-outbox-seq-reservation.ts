import type { Migration } from '../migration.js';

/**
 * `seq` must never be handed out twice (docs/cloud.md "What a power cut can
 * lose"). With `synchronous=NORMAL` a power cut can undo the last commits,
 * `last_seq` among them, after the broker already acknowledged events with
 * those seqs. So the outbox reserves seqs ahead in a durable (fsynced) write,
 * `reserved_seq`, and after a stop that was not clean it starts above the
 * reservation instead of at the possibly rolled-back `last_seq`.
 * `clean_stop` is set, fsynced, as the gateway's last write on a clean stop.
 * Existing databases start as clean: nothing was reserved before.
 */
export const outboxSeqReservationMigration: Migration = {
  version: 6,
  description: 'outbox: seq reserved ahead durably, so a power cut never makes a seq repeat',
  sql: `
    ALTER TABLE outbox_state ADD COLUMN reserved_seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE outbox_state ADD COLUMN clean_stop INTEGER NOT NULL DEFAULT 1;
  `,
};
