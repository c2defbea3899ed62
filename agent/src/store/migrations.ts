import type { Migration } from './migration.js';
import { stationsMigration } from './migrations/001-stations.js';
import { driversMigration } from './migrations/002-drivers.js';
import { sessionsMigration } from './migrations/003-sessions.js';
import { outboxMigration } from './migrations/004-outbox.js';
import { schedulesMigration } from './migrations/005-schedules.js';
import { outboxSeqReservationMigration } from './migrations/006-outbox-seq-reservation.js';
import { dropRedundantSessionIndexMigration } from './migrations/007-drop-redundant-session-index.js';
import { outboxSessionReferencesMigration } from './migrations/008-outbox-session-references.js';
import { stationSecurityMigration } from './migrations/009-station-security.js';

export type { Migration } from './migration.js';

/** Every migration, in version order. Add a new file in migrations/ and list it here. */
export const MIGRATIONS: readonly Migration[] = [
  stationsMigration,
  driversMigration,
  sessionsMigration,
  outboxMigration,
  schedulesMigration,
  outboxSeqReservationMigration,
  dropRedundantSessionIndexMigration,
  outboxSessionReferencesMigration,
  stationSecurityMigration,
];
