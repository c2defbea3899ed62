import { normalizeBadge, type DriverDirectory, type DriverMatch } from '../../src/drivers/driver-directory.js';

/** The DriverDirectory contract in a Map; the SQLite one is the drivers feature's. */
export class MemoryDrivers implements DriverDirectory {
  private readonly badges = new Map<string, DriverMatch>();

  add(email: string, ...badges: string[]): this {
    for (const badge of badges) this.badges.set(normalizeBadge(badge), { email, badgeId: normalizeBadge(badge) });
    return this;
  }

  lookup(badge: string): DriverMatch | undefined {
    return this.badges.get(normalizeBadge(badge));
  }
}
