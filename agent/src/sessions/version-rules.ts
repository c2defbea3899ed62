import type { StationInfo } from '../ocpp/frame-observer.js';
import type { CallFrame } from '../ocpp/ocpp-frame.js';
import type { Logger } from '../util/logger.js';
import type { SessionCounters } from './session-counters.js';
import type { SessionLedger } from './session-ledger.js';
import type { SessionProblems } from './session-problems.js';
import type { StationTracker } from './station-tracker.js';

/**
 * What one OCPP version family reads from the traffic. The observer calls
 * these only for station CALLs whose action is in `actions`, and for the
 * CPMS's (or the gateway's local) answers to them.
 */
export interface VersionRules {
  readonly actions: ReadonlySet<string>;
  call(station: StationInfo, call: CallFrame): void;
  result(station: StationInfo, call: CallFrame, payload: unknown): void;
  error(station: StationInfo, call: CallFrame, errorCode: string): void;
}

/** What the rules of either version write to. */
export interface RulesDeps {
  readonly ledger: SessionLedger;
  readonly stations: StationTracker;
  readonly problems: SessionProblems;
  readonly counters: SessionCounters;
  readonly logger: Logger;
  readonly now: () => Date;
}
