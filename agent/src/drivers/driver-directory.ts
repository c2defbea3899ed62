/**
 * Who owns a badge. Implemented over the SQLite driver list, so a list
 * imported by the CLI in another process is seen by the daemon at once.
 */
export interface DriverMatch {
  readonly email: string;
  /** The badge as stored (normalized). */
  readonly badgeId: string;
}

export interface DriverDirectory {
  /** Case-insensitive, surrounding blanks ignored (docs/drivers.md "Normalization"). Microseconds: it runs on the frame path. */
  lookup(badge: string): DriverMatch | undefined;
}

/** The one normalization used everywhere a badge is stored or compared. */
export function normalizeBadge(badge: string): string {
  return badge.trim().toUpperCase();
}
