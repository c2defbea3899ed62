/** What the service's operations share: the database, the CA, the clock, the settings. Built once by `serve` or a CLI command. */
import type { CertificateAuthority } from './certificate-authority.js';
import type { Clock } from './clock.js';
import type { ProvisionDb } from './provision-store.js';
import { FailureLimiter } from './rate-limit.js';

export interface ServiceSettings {
  /** Lifetime of issued certificates (`--cert-days`, `--cert-lifetime-s`); 90 days by default. */
  readonly certLifetimeS: number;
  /** How long a claim code works after the gateway's first enroll call (`--claim-ttl-days`, `--claim-ttl-s`); 7 days by default. */
  readonly claimTtlS: number;
  /** What a 202 answer tells an unclaimed gateway to wait. */
  readonly retryAfterS: number;
}

export const DEFAULT_SETTINGS: ServiceSettings = { certLifetimeS: 90 * 86_400, claimTtlS: 7 * 86_400, retryAfterS: 30 };

export interface ServiceContext {
  readonly db: ProvisionDb;
  /** Undefined for commands that issue nothing (claim, list, ...). */
  readonly ca?: CertificateAuthority;
  readonly clock: Clock;
  readonly settings: ServiceSettings;
  readonly limiter: FailureLimiter;
}

export function serviceContext(db: ProvisionDb, clock: Clock, settings: ServiceSettings = DEFAULT_SETTINGS, ca?: CertificateAuthority): ServiceContext {
  return { db, clock, settings, limiter: new FailureLimiter(db, clock), ...(ca !== undefined ? { ca } : {}) };
}
