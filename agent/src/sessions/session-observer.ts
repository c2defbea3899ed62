import type { DriverDirectory } from '../drivers/driver-directory.js';
import type { FrameEvent, FrameObserver, StationInfo } from '../ocpp/frame-observer.js';
import { isCall, MessageType, type CallErrorFrame, type CallResultFrame, type OcppFrame } from '../ocpp/ocpp-frame.js';
import type { SqliteDatabase } from '../store/gateway-store.js';
import type { Logger } from '../util/logger.js';
import type { GatewayEvent, GatewayEventSink } from './gateway-events.js';
import { Ocpp16Rules } from './ocpp16-rules.js';
import { Ocpp201Rules } from './ocpp201-rules.js';
import { ocppFamilyOf, type OcppFamily } from './ocpp-version.js';
import { SessionCounters } from './session-counters.js';
import { SessionLedger } from './session-ledger.js';
import { SessionProblems } from './session-problems.js';
import { SessionRecords } from './session-records.js';
import { StationDetails } from './station-details.js';
import { StationTracker } from './station-tracker.js';
import type { RulesDeps, VersionRules } from './version-rules.js';

export interface SessionObserverDeps {
  /** The gateway's store (migration 003 applied). */
  readonly db: SqliteDatabase;
  readonly drivers: DriverDirectory;
  readonly events: GatewayEventSink;
  readonly logger: Logger;
  /** Receive time (record bookkeeping, a 1.6 status without timestamp); session times are the station's. */
  readonly now?: () => Date;
}

/**
 * Builds charging sessions and station details from the frames going by,
 * ties each session to the driver behind its badge, and emits session and
 * station events. It only watches: whatever a payload holds, nothing here
 * throws into the relay; problems are logged and counted (`counters`).
 *
 * Each frame's bookkeeping runs in one SQLite transaction, and the event sink
 * is called inside it, so an outbox in the same database commits together
 * with the session change.
 */
export class SessionObserver implements FrameObserver {
  readonly name = 'sessions';
  /** Every action either version reads: the relay parses only these frames (and their answers) for this observer. */
  readonly actions: ReadonlySet<string>;
  readonly counters = new SessionCounters();
  private readonly rules: Readonly<Record<OcppFamily, VersionRules>>;
  private readonly stations: StationTracker;

  constructor(private readonly deps: SessionObserverDeps) {
    const now = deps.now ?? (() => new Date());
    const emit = (event: GatewayEvent): void => this.emit(event);
    const ledger = new SessionLedger({ records: new SessionRecords(deps.db), drivers: deps.drivers, emit, counters: this.counters, now });
    this.stations = new StationTracker({ details: new StationDetails(deps.db), emit, counters: this.counters, now });
    const rulesDeps: RulesDeps = {
      ledger,
      stations: this.stations,
      problems: new SessionProblems(deps.logger, this.counters),
      counters: this.counters,
      logger: deps.logger,
      now,
    };
    this.rules = { '1.6': new Ocpp16Rules(rulesDeps), '2.0.1': new Ocpp201Rules(rulesDeps) };
    this.actions = new Set([...this.rules['1.6'].actions, ...this.rules['2.0.1'].actions]);
  }

  onStationConnected(station: StationInfo): void {
    this.guarded(station, 'connect', () => this.stations.connected(station));
  }

  onStationDisconnected(station: StationInfo, code: number, reason: string): void {
    this.guarded(station, 'disconnect', () => this.stations.disconnected(station, code, reason));
  }

  onFrame(event: FrameEvent): void {
    const family = ocppFamilyOf(event.station.protocol);
    if (family === undefined) return;
    const rules = this.rules[family];
    const { frame, station, answers } = event;
    if (isCall(frame)) {
      // Only the station's own calls; the CPMS's and the gateway's calls carry no session data read here.
      if (event.origin !== 'station' || !rules.actions.has(frame.action)) return;
      this.guarded(station, frame.action, () => rules.call(station, frame));
      return;
    }
    // Answers to the station's calls come from the CPMS, or from the gateway when it answers locally.
    if (answers === undefined || event.origin === 'station' || !rules.actions.has(answers.action)) return;
    if (isCallResult(frame)) this.guarded(station, answers.action, () => rules.result(station, answers, frame.payload));
    else if (isCallError(frame)) this.guarded(station, answers.action, () => rules.error(station, answers, frame.errorCode));
  }

  private guarded(station: StationInfo, what: string, work: () => void): void {
    try {
      this.deps.db.transaction(work)();
    } catch (error: unknown) {
      this.counters.sessionObserverErrors += 1;
      this.deps.logger.error({ err: error, stationId: station.stationId, action: what }, 'session bookkeeping failed; relay continues');
    }
  }

  private emit(event: GatewayEvent): void {
    try {
      this.deps.events.emit(event);
    } catch (error: unknown) {
      this.counters.eventSinkFailures += 1;
      this.deps.logger.error({ err: error, topic: event.topic, event: event.payload.event }, 'event sink failed; the event is lost');
    }
  }
}

function isCallResult(frame: OcppFrame): frame is CallResultFrame {
  return frame.messageType === MessageType.CallResult && 'payload' in frame;
}

function isCallError(frame: OcppFrame): frame is CallErrorFrame {
  return frame.messageType === MessageType.CallError && 'errorCode' in frame;
}
