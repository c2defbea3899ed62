/**
 * One line of `pleevi-edge diag check` (docs/appliance.md "Diagnosis"): what
 * was checked, how it came out, and for a warning or a failure the one thing
 * to do about it. Nothing in a result may hold a secret: details name paths,
 * hosts, dates and error codes, never a configured password or key.
 */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  /** Stable id, e.g. `upstream-tcp`: what scripts and the cloud match on. */
  readonly id: string;
  /** What was checked, in words, e.g. `upstream TCP connect`. */
  readonly title: string;
  readonly status: CheckStatus;
  /** What was found, one line. */
  readonly detail: string;
  /** One line: what to do; present on warn and fail. */
  readonly fix?: string;
}

export function pass(id: string, title: string, detail: string): CheckResult {
  return { id, title, status: 'pass', detail };
}

export function warn(id: string, title: string, detail: string, fix: string): CheckResult {
  return { id, title, status: 'warn', detail, fix };
}

export function fail(id: string, title: string, detail: string, fix: string): CheckResult {
  return { id, title, status: 'fail', detail, fix };
}

export function skip(id: string, title: string, detail: string): CheckResult {
  return { id, title, status: 'skip', detail };
}

/** Exit code of `diag check`: 1 when any check failed, else 0 (warnings do not fail it). */
export function anyFailed(results: readonly CheckResult[]): boolean {
  return results.some((result) => result.status === 'fail');
}
