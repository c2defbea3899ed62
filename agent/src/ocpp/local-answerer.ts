import type { StationInfo } from './frame-observer.js';
import type { CallFrame } from './ocpp-frame.js';

/**
 * Lets the gateway answer a station CALL itself instead of relaying it, e.g.
 * Authorize in `authorization.mode: "local"`. This is the only way a feature
 * may change the traffic; observers only watch.
 */
export interface LocalAnswerer {
  readonly name: string;
  /** The station actions it may answer; only these are parsed for it. */
  readonly actions: ReadonlySet<string>;
  /**
   * The CALLRESULT payload to send back to the station, or undefined to relay
   * the call to the CPMS as usual. Must be synchronous and fast: it runs on
   * the frame path.
   */
  answer(station: StationInfo, call: CallFrame): unknown;
}
