import type { Migration } from '../../../agent/src/store/migration.js';

/**
 * The SHA-256 of the public key a gateway enrolled with. A gateway that lost
 * the 200 answer of its enroll call (power cut, network) asks again with the
 * same key and code; the service answers it again instead of 409, because
 * only the holder of that key can sign a CSR for it.
 */
export const enrolledKeyMigration: Migration = {
  version: 2,
  description: 'the key a gateway enrolled with, so that a lost enroll answer can be asked for again',
  sql: `ALTER TABLE gateways ADD COLUMN enrolled_key_sha256 TEXT;`,
};
