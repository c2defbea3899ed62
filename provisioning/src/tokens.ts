/**
 * Bearer tokens for the installer app and the operator: 256 random bits,
 * shown once by `tokens add`; only their SHA-256 is stored (a salt or a slow
 * hash buys nothing for a random 256-bit secret). An operator token can do
 * everything an installer token can.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ProvisionDb } from './provision-store.js';

export type TokenRole = 'installer' | 'operator';
export const TOKEN_ROLES: readonly TokenRole[] = ['installer', 'operator'];

export interface TokenRow {
  readonly id: string;
  readonly role: TokenRole;
  readonly label: string | null;
  readonly createdAt: number;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function addToken(db: ProvisionDb, role: TokenRole, label: string | undefined, now: number): string {
  const token = `pvt_${randomBytes(32).toString('base64url')}`;
  db.prepare('INSERT INTO tokens (hash, role, label, created_at) VALUES (?, ?, ?, ?)').run(hashToken(token), role, label ?? null, now);
  return token;
}

/** The role of a presented token, undefined when it is not one of ours. */
export function tokenRole(db: ProvisionDb, token: string): TokenRole | undefined {
  const row = db.prepare('SELECT role FROM tokens WHERE hash = ?').get(hashToken(token)) as { role: TokenRole } | undefined;
  return row?.role;
}

/** Tokens without their secret: the id is the first 12 hex digits of the hash. */
export function listTokens(db: ProvisionDb): TokenRow[] {
  const rows = db.prepare('SELECT hash, role, label, created_at FROM tokens ORDER BY created_at').all() as { hash: string; role: TokenRole; label: string | null; created_at: number }[];
  return rows.map((row) => ({ id: row.hash.slice(0, 12), role: row.role, label: row.label, createdAt: row.created_at }));
}

/** Remove the token whose id (hash prefix, at least 8 digits) is given; false when none or several match. */
export function removeToken(db: ProvisionDb, id: string): boolean {
  if (!/^[0-9a-f]{8,64}$/.test(id)) return false;
  const matches = db.prepare("SELECT hash FROM tokens WHERE hash LIKE ? || '%'").all(id) as { hash: string }[];
  if (matches.length !== 1 || matches[0] === undefined) return false;
  db.prepare('DELETE FROM tokens WHERE hash = ?').run(matches[0].hash);
  return true;
}
