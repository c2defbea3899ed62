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
  /**
   * How long meter readings and StatusNotifications may wait in memory before
   * they are written (default 5 min; docs/sessions.md "What is written when").
   * 0 writes every frame's bookkeeping at once, in its own transaction.
   */
  readonly flushMs?: number;
  /** More writes that wait for the flush (the outbox's acknowledged events): written in its transaction. */
  readonly alsoFlushed?: { waiting(): number; flush(): void };
}

export const DEFAULT_MAX_DEFERRED_FRAMES = 10_000;
export const DEFAULT_SESSION_FLUSH_MS = 300_000;

/** Frames whose bookkeeping only touches what waits in memory: no transaction for them. */
const IN_MEMORY_ACTIONS: ReadonlySet<string> = new Set(['MeterValues', 'StatusNotification', 'Authorize']);

/** How a frame's bookkeeping is committed: not at all (memory only), with synchronous=NORMAL, or FULL (a session's start or end). */
type Commit = 'memory' | 'normal' | 'full';

/**
 * Builds charging sessions and station details from the frames going by,
 * ties each session to the driver behind its badge, and emits session and
 * station events. It only watches: whatever a payload holds, nothing here
 * throws into the relay; problems are logged and counted (`counters`).
 *
 * A session's start and end, a badge, a boot, a connection are written at
 * once, each frame's bookkeeping in one SQLite transaction with the event
 * sink called inside it, so an outbox in the same database commits together
 * with the change; a start or an end with `synchronous=FULL`, so a power cut
 * cannot undo it. Meter readings and StatusNotifications wait in memory and
 * are written every `flushMs` in one transaction (statuses also with the next
 * frame that is written at once, to keep their events in order), with one
 * coalesced `updated` event per session.
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
  /** While a transaction runs: what to apply to memory once it commits. */
  private uncommittedApplies: Array<() => void> | undefined;
  /** While a transaction runs: the statuses waiting in memory are not written in it yet. */
  private statusesUnwritten = false;
  private lastDropLogAt = Number.NEGATIVE_INFINITY;
  private lastFlushFailureLogAt = Number.NEGATIVE_INFINITY;
  private readonly ledger: SessionLedger;
  private readonly transact: (work: () => void) => void;
  private readonly flushMs: number;
  private readonly flushTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: SessionObserverDeps) {
    this.clock = deps.now ?? (() => new Date());
    // Built once: db.transaction() compiles its BEGIN/COMMIT/ROLLBACK statements (better-sqlite3).
    this.transact = deps.db.transaction((work: () => void) => work());
    this.flushMs = deps.flushMs ?? DEFAULT_SESSION_FLUSH_MS;
    const lazy = this.flushMs > 0;
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
    const afterCommit = (apply: () => void): void => {
      if (this.uncommittedApplies) this.uncommittedApplies.push(apply);
      else apply();
    };
    const ledger = new SessionLedger({ records: new SessionRecords(deps.db), drivers: deps.drivers, emit, counters: this.counters, now, afterCommit, lazy });
    this.ledger = ledger;
    this.stations = new StationTracker({ details: new StationDetails(deps.db), emit, counters: this.counters, now, afterCommit, lazy });
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
    this.flushTimer = lazy ? setInterval(() => this.flush(), this.flushMs).unref() : undefined;
  }

  /** Meter readings and statuses waiting in memory to be written. */
  get waitingInMemory(): number {
    return this.ledger.waitingSessions + this.stations.waitingStatuses;
  }

  /**
   * Write what waits in memory (meter readings, statuses) in one transaction.
   * While the storage is unavailable it stays in memory and is tried again
   * at the next flush; frames waiting for the storage go first.
   */
  flush(): void {
    if (this.deferred.size > 0 || this.waitingInMemory + (this.deps.alsoFlushed?.waiting() ?? 0) === 0) return;
    try {
      this.write(() => {
        this.writeWaitingStatuses();
        this.ledger.flush();
        this.deps.alsoFlushed?.flush();
      }, 'normal');
    } catch (error: unknown) {
      if (!isStorageUnavailable(error)) return this.bookkeepingFailed(error, '*', 'flush');
      const at = Date.now();
      if (at - this.lastFlushFailureLogAt < 60_000) return;
      this.lastFlushFailureLogAt = at;
      this.deps.logger.error({ err: error, waiting: this.waitingInMemory, flushMs: this.flushMs }, 'storage cannot take writes (disk full?); meter readings and statuses wait in memory and are tried again');
    }
  }

  onStationConnected(station: StationInfo): void {
    // The station's row first: boot details and schedules are written against it.
    this.guarded(station, 'connect', 'normal', () => {
      this.records.connected(station.stationId, station.protocol, station.remoteAddress, this.frameTime(), station.security);
      this.stations.connected(station);
    });
  }

  onStationDisconnected(station: StationInfo, code: number, reason: string): void {
    this.guarded(station, 'disconnect', 'normal', () => {
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
      this.guarded(station, frame.action, commitOf(frame.action, frame.payload), () => rules.call(station, frame));
      return;
    }
    // Answers to the station's calls come from the CPMS, or from the gateway when it answers locally.
    if (answers === undefined || event.origin === 'station' || !rules.actions.has(answers.action)) return;
    if (isCallResult(frame)) this.guarded(station, answers.action, answerCommitOf(answers.action, frame.payload), () => rules.result(station, answers, frame.payload));
    else if (isCallError(frame)) this.guarded(station, answers.action, answerCommitOf(answers.action, undefined), () => rules.error(station, answers, frame.errorCode));
  }

  /** Frames whose bookkeeping waits for the storage to take writes again. */
  get deferredFrames(): number {
    return this.deferred.size;
  }

  /** Stop retrying; one last try to write what waits, and say what is lost if the storage is still unavailable. */
  close(): void {
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flush();
    const lost = this.deferred.close();
    if (lost > 0) this.deps.logger.error({ frames: lost }, 'storage still unavailable at shutdown: the bookkeeping of these frames is lost');
  }

  private guarded(station: StationInfo, what: string, commit: Commit, work: () => void): void {
    if (this.deferred.size > 0) {
      // Keep the order: nothing is written past bookkeeping that still waits.
      this.defer({ stationId: station.stationId, what, at: this.clock(), write: () => this.write(work, commit) });
      return;
    }
    try {
      this.write(work, commit);
    } catch (error: unknown) {
      if (isStorageUnavailable(error)) {
        this.deps.logger.error(
          { err: error, stationId: station.stationId, action: what, retryMs: this.deferred.retryMs },
          'storage cannot take writes (disk full?); session bookkeeping waits in memory and is retried; relay continues',
        );
        this.defer({ stationId: station.stationId, what, at: this.clock(), write: () => this.write(work, commit) });
        return;
      }
      this.bookkeepingFailed(error, station.stationId, what);
    }
  }

  /**
   * One transaction (none for a frame that only changes what waits in
   * memory); counters touched by a transaction that rolled back are put
   * back, its changes to memory are applied and its events reach in-memory
   * consumers only once it committed. Statuses waiting in memory are written
   * just before this frame's first event, so their events keep their place
   * before it; a frame that emits nothing (a 2.x `Updated` with readings
   * only, a TransactionEvent answer) leaves them for the flush and writes
   * nothing.
   */
  private write(work: () => void, commit: Commit): void {
    if (commit === 'memory' && this.flushMs > 0) {
      work();
      return;
    }
    // A plain copy of the counters (all own number fields) to put back on a rollback: a spread, not snapshot()'s filtering.
    const before = { ...this.counters };
    const events: GatewayEvent[] = [];
    const applies: Array<() => void> = [];
    this.uncommittedEvents = events;
    this.uncommittedApplies = applies;
    if (commit === 'full') this.deps.db.pragma('synchronous = FULL');
    this.statusesUnwritten = true;
    try {
      this.transact(() => {
        work();
        if (this.flushMs === 0) this.deps.alsoFlushed?.flush();
      });
    } catch (error: unknown) {
      Object.assign(this.counters, before);
      throw error;
    } finally {
      this.statusesUnwritten = false;
      this.uncommittedEvents = undefined;
      this.uncommittedApplies = undefined;
      if (commit === 'full') this.deps.db.pragma('synchronous = NORMAL');
    }
    for (const apply of applies) apply();
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
      entry.write();
    } catch (error: unknown) {
      if (isStorageUnavailable(error)) throw error;
      this.bookkeepingFailed(error, entry.stationId, entry.what);
    } finally {
      this.replayingReceivedAt = undefined;
    }
  }

  /** In the transaction under way, once: the statuses waiting in memory, with their events. */
  private writeWaitingStatuses(): void {
    if (!this.statusesUnwritten) return;
    this.statusesUnwritten = false;
    this.stations.flush();
  }

  private emit(event: GatewayEvent): void {
    // A waiting status happened before this event: its event goes first.
    this.writeWaitingStatuses();
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

/**
 * A session's start or end must survive a power cut (`full`); meter readings,
 * statuses and Authorize only change what waits in memory (`memory`).
 */
function commitOf(action: string, payload: unknown): Commit {
  if (IN_MEMORY_ACTIONS.has(action)) return 'memory';
  if (action === 'StopTransaction') return 'full';
  if (action === 'TransactionEvent') {
    const fields = typeof payload === 'object' && payload !== null ? payload : {};
    const eventType = 'eventType' in fields ? fields.eventType : undefined;
    if (eventType === 'Started' || eventType === 'Ended') return 'full';
    // An Updated without an idToken or an EVSE can change only readings and
    // seqNo bookkeeping, which wait in memory for the flush (SessionLedger.change):
    // no transaction for it, as for a 1.6 MeterValues. Most of a 2.x session is these.
    return 'idToken' in fields || 'evse' in fields ? 'normal' : 'memory';
  }
  return 'normal';
}

/**
 * Only two answers carry session data: a 1.6 StartTransaction's (the session
 * starts, `full`) and a 2.x TransactionEvent's with an idTokenInfo (the
 * idToken's status, `normal`). The others (MeterValues, StatusNotification, Authorize,
 * BootNotification) write nothing: no transaction for them, which would also
 * write the statuses waiting in memory at every answer.
 */
function answerCommitOf(action: string, payload: unknown): Commit {
  if (action === 'StartTransaction') return 'full';
  // Only the idToken's status is kept from a TransactionEvent answer; without one it writes nothing.
  if (action === 'TransactionEvent') return typeof payload === 'object' && payload !== null && 'idTokenInfo' in payload ? 'normal' : 'memory';
  return 'memory';
}

function isCallResult(frame: OcppFrame): frame is CallResultFrame {
  return frame.messageType === MessageType.CallResult && 'payload' in frame;
}

function isCallError(frame: OcppFrame): frame is CallErrorFrame {
  return frame.messageType === MessageType.CallError && 'errorCode' in frame;
}
