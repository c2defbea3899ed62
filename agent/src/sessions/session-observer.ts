import type { DriverDirectory } from '../drivers/driver-directory.js';
import type { FrameEvent, FrameObserver, StationInfo } from '../ocpp/frame-observer.js';
import { isCall, MessageType, type CallErrorFrame, type CallResultFrame, type OcppFrame } from '../ocpp/ocpp-frame.js';
import type { SqliteDatabase } from '../store/gateway-store.js';
import { DEFAULT_STORAGE_RETRY_MS, DeferredWrites, type DeferredWrite } from '../store/deferred-writes.js';
import { StationRecords } from '../store/station-records.js';
import { isStorageUnavailable } from '../store/storage-unavailable.js';
import type { Logger } from '../util/logger.js';
import type { GatewayEvent, GatewayEventSink } from '../events/gateway-events.js';
import { Ocpp16Rules } from './ocpp16-rules.js';
import { Ocpp201Rules } from './ocpp201-rules.js';
import { ocppFamilyOf, type OcppFamily } from '../ocpp/ocpp-version.js';
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
  /** How often bookkeeping waiting for the storage is tried again (default 5 s). */
  readonly storageRetryMs?: number;
  /** Frames whose bookkeeping may wait for the storage at most (default 10,000). */
  readonly maxDeferredFrames?: number;
}

export const DEFAULT_MAX_DEFERRED_FRAMES = 10_000;

/**
 * Builds charging sessions and station details from the frames going by,
 * ties each session to the driver behind its badge, and emits session and
 * station events. It only watches: whatever a payload holds, nothing here
 * throws into the relay; problems are logged and counted (`counters`).
 *
 * Each frame's bookkeeping runs in one SQLite transaction, and the event sink
 * is called inside it, so an outbox in the same database commits together
 * with the session change.
 *
 * When the storage cannot take the write (a full disk, an I/O error, a write
 * lock held too long), the frame's bookkeeping waits in memory, in order,
 * and is retried every `storageRetryMs`; frames that arrive meanwhile wait
 * behind it. The relay never waits for any of this.
 */
export class SessionObserver implements FrameObserver {
  readonly name = 'sessions';
  /** Every action either version reads: the relay parses only these frames (and their answers) for this observer. */
  readonly actions: ReadonlySet<string>;
  readonly counters = new SessionCounters();
  private readonly rules: Readonly<Record<OcppFamily, VersionRules>>;
  private readonly stations: StationTracker;
  private readonly clock: () => Date;
  /** The time of the frame being written: now, or when a deferred frame went by. */
  private readonly frameTime: () => Date;
  private readonly records: StationRecords;
  private readonly deferred: DeferredWrites;
  /** While deferred bookkeeping is written: the time its frame went by. */
  private replayingReceivedAt: Date | undefined;
  /** Events emitted by the transaction under way, for `committed` once it commits. */
  private uncommittedEvents: GatewayEvent[] | undefined;
  private lastDropLogAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly deps: SessionObserverDeps) {
    this.clock = deps.now ?? (() => new Date());
    this.deferred = new DeferredWrites({
      limit: deps.maxDeferredFrames ?? DEFAULT_MAX_DEFERRED_FRAMES,
      retryMs: deps.storageRetryMs ?? DEFAULT_STORAGE_RETRY_MS,
      apply: (entry) => this.replay(entry),
      recoveredMessage: 'storage takes writes again: the waiting session bookkeeping is written',
      logger: deps.logger,
    });
    const now = (): Date => this.replayingReceivedAt ?? this.clock();
    this.frameTime = now;
    this.records = new StationRecords(deps.db);
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
    // The station's row first: boot details and schedules are written against it.
    this.guarded(station, 'connect', () => {
      this.records.connected(station.stationId, station.protocol, station.remoteAddress, this.frameTime());
      this.stations.connected(station);
    });
  }

  onStationDisconnected(station: StationInfo, code: number, reason: string): void {
    this.guarded(station, 'disconnect', () => {
      this.records.disconnected(station.stationId, code, this.frameTime());
      this.stations.disconnected(station, code, reason);
    });
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

  /** Frames whose bookkeeping waits for the storage to take writes again. */
  get deferredFrames(): number {
    return this.deferred.size;
  }

  /** Stop retrying; one last try to write what waits, and say what is lost if the storage is still unavailable. */
  close(): void {
    const lost = this.deferred.close();
    if (lost > 0) this.deps.logger.error({ frames: lost }, 'storage still unavailable at shutdown: the bookkeeping of these frames is lost');
  }

  private guarded(station: StationInfo, what: string, work: () => void): void {
    if (this.deferred.size > 0) {
      // Keep the order: nothing is written past bookkeeping that still waits.
      this.defer({ stationId: station.stationId, what, at: this.clock(), write: work });
      return;
    }
    try {
      this.write(work);
    } catch (error: unknown) {
      if (isStorageUnavailable(error)) {
        this.deps.logger.error(
          { err: error, stationId: station.stationId, action: what, retryMs: this.deferred.retryMs },
          'storage cannot take writes (disk full?); session bookkeeping waits in memory and is retried; relay continues',
        );
        this.defer({ stationId: station.stationId, what, at: this.clock(), write: work });
        return;
      }
      this.bookkeepingFailed(error, station.stationId, what);
    }
  }

  /**
   * One transaction; counters touched by a transaction that rolled back are
   * put back, and its events reach in-memory consumers only once it committed.
   */
  private write(work: () => void): void {
    const before = this.counters.snapshot();
    const events: GatewayEvent[] = [];
    this.uncommittedEvents = events;
    try {
      this.deps.db.transaction(work)();
    } catch (error: unknown) {
      Object.assign(this.counters, before);
      throw error;
    } finally {
      this.uncommittedEvents = undefined;
    }
    for (const event of events) this.committed(event);
  }

  private committed(event: GatewayEvent): void {
    try {
      this.deps.events.committed?.(event);
    } catch (error: unknown) {
      this.deps.logger.error({ err: error, topic: event.topic, event: event.payload.event }, 'event listener failed');
    }
  }

  private bookkeepingFailed(error: unknown, stationId: string, what: string): void {
    this.counters.sessionObserverErrors += 1;
    this.deps.logger.error({ err: error, stationId, action: what }, 'session bookkeeping failed; relay continues');
  }

  private defer(entry: DeferredWrite): void {
    if (this.deferred.add(entry)) {
      this.counters.bookkeepingDeferred += 1;
      return;
    }
    this.counters.bookkeepingDropped += 1;
    const at = Date.now();
    if (at - this.lastDropLogAt < 60_000) return;
    this.lastDropLogAt = at;
    this.deps.logger.error(
      { limit: this.deferred.limit, dropped: this.counters.bookkeepingDropped, stationId: entry.stationId, action: entry.what },
      'storage unavailable for too long: no room left to keep bookkeeping in memory; this frame is relayed but not recorded',
    );
  }

  /** Write deferred bookkeeping as of its frame's time; throws only while the storage is still unavailable. */
  private replay(entry: DeferredWrite): void {
    this.replayingReceivedAt = entry.at;
    try {
      this.write(entry.write);
    } catch (error: unknown) {
      if (isStorageUnavailable(error)) throw error;
      this.bookkeepingFailed(error, entry.stationId, entry.what);
    } finally {
      this.replayingReceivedAt = undefined;
    }
  }

  private emit(event: GatewayEvent): void {
    try {
      this.deps.events.emit?.(event);
      this.uncommittedEvents?.push(event);
    } catch (error: unknown) {
      // The outbox could not store it: roll the change back with it, so both wait for the storage together.
      if (isStorageUnavailable(error)) throw error;
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
