/**
 * The service's clock, in milliseconds. Every time decision (claim code
 * expiry, rate-limit windows, certificate dates, CRL dates) reads it, so the
 * tests can move it: `PLEEVI_PROVISION_CLOCK_OFFSET_S` shifts it by that many
 * seconds (a test hook, documented in docs/provisioning-service.md; leave it
 * unset in production).
 */
import { UsageError } from './errors.js';

export type Clock = () => number;

export const CLOCK_OFFSET_ENV = 'PLEEVI_PROVISION_CLOCK_OFFSET_S';

export function clockFromEnv(env: NodeJS.ProcessEnv): Clock {
  const raw = env[CLOCK_OFFSET_ENV];
  if (raw === undefined || raw === '') return () => Date.now();
  const offsetS = Number(raw);
  if (!Number.isFinite(offsetS)) throw new UsageError(`${CLOCK_OFFSET_ENV} must be a number of seconds, not ${JSON.stringify(raw)}`);
  return () => Date.now() + offsetS * 1000;
}
