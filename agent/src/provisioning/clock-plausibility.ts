/**
 * Whether the system clock can be trusted for enrollment, renewal and expiry
 * decisions (docs/provisioning.md "Renewal and the clock"). A Raspberry Pi has
 * no real-time clock: until NTP has answered it boots at the last saved time
 * or in 1970, and a certificate judged by that clock looks expired or not yet
 * valid when it is neither.
 *
 * The rule: the clock is plausible when it is at or after the agent's build
 * time (no release can run before it was built), and, where
 * systemd-timesyncd runs (its folder `/run/systemd/timesync/` exists), when
 * timesyncd has also synchronised it (`/run/systemd/timesync/synchronized`
 * exists). Without timesyncd (chrony, ntpd, a container) the build-time floor
 * alone decides.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Used when dist/build-info.json is missing (the tests run from source) or
 * unreadable: the date this rule was written, so an older clock is refused
 * even then. `npm run build` stamps the real build time (scripts/stamp-build.mjs).
 */
export const BUILD_TIME_FALLBACK = new Date('2026-11-29T00:00:00Z');

/** The file systemd-timesyncd creates once it has synchronised the clock (sd-timesyncd 239+). */
export const TIMESYNC_SYNCHRONIZED_PATH = '/run/systemd/timesync/synchronized';

export type ClockVerdict =
  | { readonly plausible: true; readonly reason: 'synchronised' | 'after-build-time' }
  | { readonly plausible: false; readonly reason: 'before-build-time' | 'not-synchronised'; readonly message: string };

/** A clock check as the enrollment and renewal loops take it (injectable). */
export type ClockCheck = () => ClockVerdict;

export interface ClockOptions {
  readonly now?: () => Date;
  /** Defaults to readBuildTime(). */
  readonly buildTime?: Date;
  /** Defaults to TIMESYNC_SYNCHRONIZED_PATH; its folder existing means timesyncd runs. */
  readonly synchronizedPath?: string;
}

export function checkClock(options: ClockOptions = {}): ClockVerdict {
  const now = (options.now ?? (() => new Date()))();
  const floor = options.buildTime ?? readBuildTime();
  if (!(now.getTime() >= floor.getTime())) {
    return { plausible: false, reason: 'before-build-time', message: `the clock says ${safeIso(now)}, before this agent was built (${floor.toISOString()})` };
  }
  const synchronizedPath = options.synchronizedPath ?? TIMESYNC_SYNCHRONIZED_PATH;
  if (existsSync(dirname(synchronizedPath))) {
    if (existsSync(synchronizedPath)) return { plausible: true, reason: 'synchronised' };
    return { plausible: false, reason: 'not-synchronised', message: `systemd-timesyncd runs but has not synchronised the clock yet (no ${synchronizedPath})` };
  }
  return { plausible: true, reason: 'after-build-time' };
}

/** A ClockCheck bound to its options, for the loops. */
export function clockCheck(options: ClockOptions = {}): ClockCheck {
  return () => checkClock(options);
}

let cachedBuildTime: Date | undefined;

/**
 * The build time `npm run build` stamped into dist/build-info.json
 * (`{"builtAt": ISO}`), read once; BUILD_TIME_FALLBACK when there is none.
 * From dist/agent/src/provisioning/ the stamp is three folders up; from the
 * source tree the same path names a file that does not exist.
 */
export function readBuildTime(): Date {
  cachedBuildTime ??= readBuildStamp(new URL('../../../build-info.json', import.meta.url));
  return cachedBuildTime;
}

/** The stamp in `file`, never earlier than BUILD_TIME_FALLBACK. */
export function readBuildStamp(file: URL | string): Date {
  let builtAt = BUILD_TIME_FALLBACK;
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    const value = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>)['builtAt'] : undefined;
    const stamped = typeof value === 'string' ? new Date(value) : undefined;
    // A stamp older than the fallback (a build machine with a bad clock) never lowers the floor.
    if (stamped !== undefined && stamped.getTime() > builtAt.getTime()) builtAt = stamped;
  } catch {
    // No stamp (running from source) or an unreadable one: the fallback stands.
  }
  return builtAt;
}

function safeIso(date: Date): string {
  return Number.isNaN(date.getTime()) ? 'an invalid date' : date.toISOString();
}
