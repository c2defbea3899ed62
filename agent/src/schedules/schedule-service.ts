import { CommandError } from '../cloud/cloud-command.js';
import type { GatewayConfig } from '../config/gateway-config.js';
import { describeError } from '../errors.js';
import type { FrameEvent, FrameObserver, StationInfo } from '../ocpp/frame-observer.js';
import { isCall, MessageType } from '../ocpp/ocpp-frame.js';
import type { GatewayEvent, GatewayEventSink, ScheduleEvent } from '../events/gateway-events.js';
import { DEFAULT_STORAGE_RETRY_MS, DeferredWrites, type DeferredWrite } from '../store/deferred-writes.js';
import { isStorageUnavailable } from '../store/storage-unavailable.js';
import type { SqliteDatabase } from '../store/gateway-store.js';
import type { Logger } from '../util/logger.js';
import { ProfileConversionError, setChargingProfileCall } from './charging-profile.js';
import { clearRequestMatches } from './cpms-clear-criteria.js';
import { ProfileSender, type Attempt } from './profile-sender.js';
import { ScheduleRecords, type ScheduleOutcome, type ScheduleRecord } from './schedule-records.js';
import { LIVE_STATES, type ScheduleSpec, type ScheduleState } from './schedule-spec.js';
import type { StationCaller } from './station-caller.js';
import { StationQueue } from './station-queue.js';

export interface ScheduleServiceDeps {
  /** The gateway's store (migration 005 applied). */
  readonly db: SqliteDatabase;
  /** The gateway: its call lane toward each station. */
  readonly caller: StationCaller;
  readonly events: GatewayEventSink;
  readonly config: GatewayConfig['smartCharging'];
  readonly logger: Logger;
  readonly now?: () => Date;
  /**
   * After a connect, how long to wait for a BootNotification before
   * re-applying. A station that boots gets its profiles once its boot is
   * accepted (before that it may refuse other calls: 1.6 section 4.2, 2.0.1
   * B02); one that only reconnected gets them when this runs out. Default 2000.
   */
  readonly connectSettleMs?: number;
  /** How often schedule events that wait for the storage (disk full) are retried (default 5 s). */
  readonly storageRetryMs?: number;
}

/** The ack `result` of `set-schedule` (docs/schedules.md "Acks"). */
export interface SetScheduleResult {
  readonly scheduleId: string;
  readonly stationId: string;
  readonly profileId: number;
  readonly state: 'applied' | 'rejected' | 'pending';
  /** The station's SetChargingProfile status, when it answered. */
  readonly status?: string;
}

/** The ack `result` of `clear-schedule`. `pending`: the station is offline, it is cleared when it connects. */
export interface ClearScheduleResult {
  readonly scheduleId: string;
  readonly stationId: string;
  readonly profileId: number;
  readonly state: 'cleared' | 'expired' | 'pending';
  readonly status?: string;
}

type Trigger = 'connect' | 'boot' | 'cpms-clear';

const TRIGGER_REASONS: Readonly<Record<Trigger, string>> = {
  connect: 'station connected',
  boot: 'station booted (BootNotification accepted)',
  'cpms-clear': 'the CPMS cleared charging profiles on the station',
};

/** setTimeout's ceiling is ~24.8 days; waking hourly also absorbs clock steps. */
const MAX_TIMER_MS = 60 * 60_000;
/** Schedule events kept in memory at most while the storage cannot take them. */
const MAX_WAITING_REPORTS = 1_000;

/**
 * The cloud's charging schedules on the stations (docs/schedules.md,
 * docs/ocpp-notes.md "Smart charging"). It stores every schedule, sends it through the
 * call lane when the station is there, and watches the traffic (only
 * BootNotification and ClearChargingProfile frames) to put the gateway's
 * profiles back whenever a station may have lost them: after an accepted
 * boot, after a reconnect, after the CPMS cleared profiles that include the
 * gateway's. Schedules past `validUntil` are cleared and reported.
 *
 * Outcomes of the commands go back in their acks; every later change is a
 * schedule event, emitted inside the SQLite transaction that records it.
 */
export class ScheduleService implements FrameObserver {
  readonly name = 'schedules';
  readonly actions: ReadonlySet<string> = new Set(['BootNotification', 'ClearChargingProfile']);
  private readonly records: ScheduleRecords;
  private readonly sender: ProfileSender;
  private readonly queue = new StationQueue();
  private readonly now: () => Date;
  private readonly connectSettleMs: number;
  private readonly settleTimers = new Map<string, NodeJS.Timeout>();
  /** Re-applies queued but not started, per station: later triggers fold into them. */
  private readonly waitingTriggers = new Map<string, { trigger: Trigger; only: Set<string> | undefined; at: number }>();
  /** CPMS ClearChargingProfile calls in flight, per station, so the station's answer can be told from one to the gateway. */
  private readonly cpmsClears = new Map<string, Map<string, unknown>>();
  private expiryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Schedule events the storage could not take yet (disk full), in order. */
  private readonly waitingReports: DeferredWrites;

  constructor(private readonly deps: ScheduleServiceDeps) {
    this.records = new ScheduleRecords(deps.db);
    this.sender = new ProfileSender(deps.caller, deps.config.stackLevel, deps.config.callTimeoutMs);
    this.now = deps.now ?? (() => new Date());
    this.connectSettleMs = deps.connectSettleMs ?? 2000;
    this.waitingReports = new DeferredWrites({
      limit: MAX_WAITING_REPORTS,
      retryMs: deps.storageRetryMs ?? DEFAULT_STORAGE_RETRY_MS,
      apply: (entry) => entry.write(),
      recoveredMessage: 'storage takes writes again: the waiting schedule events are written',
      logger: deps.logger,
    });
  }

  /** Arms the expiry timer for what the database already holds. */
  start(): void {
    this.armExpiryTimer();
  }

  /** Stops the timers; work still queued records nothing more. Call before the store is closed. */
  close(): void {
    this.closed = true;
    clearTimeout(this.expiryTimer);
    const lost = this.waitingReports.close();
    if (lost > 0) this.deps.logger.error({ events: lost }, 'storage still unavailable at shutdown: these schedule events are lost');
    for (const timer of this.settleTimers.values()) clearTimeout(timer);
    this.settleTimers.clear();
  }

  /** Schedule events that waited for the storage and then failed for another reason: logged and dropped. */
  get failedReports(): number {
    return this.waitingReports.failed;
  }

  /** Resolves when every queued station job has finished. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  list(): ScheduleRecord[] {
    return this.records.live();
  }

  /** `set-schedule`: store, then apply at once when the station is connected. */
  async set(spec: ScheduleSpec, commandId: string | null): Promise<SetScheduleResult> {
    const { caller, config } = this.deps;
    if (!caller.isConnected(spec.stationId) && !this.records.stationKnown(spec.stationId)) {
      throw new CommandError('unknown_station', `station ${spec.stationId} has never connected to this gateway`);
    }
    const protocol = caller.protocolOf(spec.stationId) ?? this.records.lastProtocolOf(spec.stationId) ?? '';
    try {
      // Built once here only to refuse what the station's version cannot carry before anything is stored.
      setChargingProfileCall(protocol, spec, { profileId: config.profileIdBase, stackLevel: config.stackLevel, acceptedAt: this.now().toISOString() });
    } catch (error: unknown) {
      if (error instanceof ProfileConversionError) throw new CommandError('invalid_argument', error.message, { cause: error });
      throw error;
    }
    return this.queue.run(spec.stationId, async () => {
      this.assertOpen();
      this.assertNoConflict(spec);
      const record = this.records.save(spec, commandId, config.profileIdBase, this.now());
      this.armExpiryTimer();
      const attempt = await this.sender.apply(record);
      const base = { scheduleId: record.scheduleId, stationId: record.stationId, profileId: record.profileId };
      this.assertOpen();
      switch (attempt.kind) {
        case 'offline':
          this.record(record, { state: 'pending', result: 'pending', status: null, reason: 'station offline; applied when it connects' });
          return { ...base, state: 'pending' };
        case 'answered': {
          const accepted = attempt.status === 'Accepted';
          this.record(record, { state: accepted ? 'applied' : 'rejected', result: accepted ? 'applied' : 'rejected', status: attempt.status, reason: attempt.reason });
          return { ...base, state: accepted ? 'applied' : 'rejected', status: attempt.status };
        }
        case 'failed':
          this.record(record, { state: 'failed', result: 'failed', status: null, reason: attempt.reason });
          throw new CommandError('station_error', `${attempt.reason}; the schedule is kept and sent again when the station next connects or boots`);
      }
    });
  }

  /** `clear-schedule`: remove the gateway's profile from the station now, or when it next connects. */
  async clear(scheduleId: string): Promise<ClearScheduleResult> {
    const found = this.records.get(scheduleId);
    if (!found) throw new CommandError('unknown_schedule', `no schedule ${scheduleId} on this gateway`);
    return this.queue.run(found.stationId, async () => {
      this.assertOpen();
      const record = this.records.get(scheduleId) ?? found;
      const base = { scheduleId, stationId: record.stationId, profileId: record.profileId };
      if (record.state === 'cleared' || record.state === 'expired') return { ...base, state: record.state };
      this.record(record, { state: 'clearing', result: 'clearing', status: null, reason: null });
      const attempt = await this.sender.clear(record);
      this.assertOpen();
      switch (attempt.kind) {
        case 'offline':
          return { ...base, state: 'pending' };
        case 'answered':
          // ClearChargingProfileStatus is Accepted or Unknown (no such profile): either way it is gone.
          this.record(record, { state: 'cleared', result: 'cleared', status: attempt.status, reason: null });
          this.armExpiryTimer();
          return { ...base, state: 'cleared', status: attempt.status };
        case 'failed':
          this.record(record, { state: 'clearing', result: 'failed', status: null, reason: attempt.reason });
          throw new CommandError('station_error', `${attempt.reason}; the gateway clears it when the station next connects or boots`);
      }
    });
  }

  /** Clear and report every schedule whose `validUntil` has passed. The expiry timer calls this. */
  async expireDue(): Promise<void> {
    const now = this.now().getTime();
    const due = this.records.live().filter((record) => isPast(record, now));
    await Promise.all(
      due.map((record) =>
        this.queue.run(record.stationId, async () => {
          const current = this.records.get(record.scheduleId);
          if (!this.closed && current && isLive(current.state) && isPast(current, this.now().getTime())) await this.expire(current);
        }),
      ),
    );
    this.armExpiryTimer();
  }

  onStationConnected(station: StationInfo): void {
    this.cancelSettle(station.stationId);
    // The link is registered only after its observers heard of it: never call from here.
    const connectedAt = this.now().getTime();
    const timer = setTimeout(() => {
      this.settleTimers.delete(station.stationId);
      this.trigger(station.stationId, 'connect', connectedAt);
    }, this.connectSettleMs);
    timer.unref();
    this.settleTimers.set(station.stationId, timer);
  }

  onStationDisconnected(station: StationInfo): void {
    this.cpmsClears.delete(station.stationId);
    // A connection that replaced this one has announced itself already; its timer stays.
    if (!this.deps.caller.isConnected(station.stationId)) this.cancelSettle(station.stationId);
  }

  onFrame(event: FrameEvent): void {
    const { frame, station, origin, answers } = event;
    const stationId = station.stationId;
    if (isCall(frame)) {
      if (origin === 'station' && frame.action === 'BootNotification') this.cancelSettle(stationId);
      if (origin === 'cpms' && frame.action === 'ClearChargingProfile') this.cpmsClearsOf(stationId).set(frame.id, frame.payload);
      return;
    }
    if (answers === undefined) return;
    const request = this.cpmsClears.get(stationId)?.get(answers.id);
    if (answers.action === 'ClearChargingProfile' && origin === 'station' && request !== undefined) this.cpmsClears.get(stationId)?.delete(answers.id);
    if (frame.messageType !== MessageType.CallResult || !('payload' in frame)) return;
    const status = statusOf(frame.payload);
    // Deferred so the answer reaches the station before the gateway's first call (the relay writes it after the observers ran).
    if (answers.action === 'BootNotification' && origin !== 'station' && status === 'Accepted') {
      const at = this.now().getTime();
      setImmediate(() => this.trigger(stationId, 'boot', at));
    } else if (answers.action === 'ClearChargingProfile' && request !== undefined && status === 'Accepted') {
      const hit = this.records
        .liveOnStation(stationId)
        .filter((record) => record.state === 'applied' && clearRequestMatches(station.protocol, request, record, this.deps.config.stackLevel));
      const at = this.now().getTime();
      if (hit.length > 0) setImmediate(() => this.trigger(stationId, 'cpms-clear', at, new Set(hit.map((record) => record.scheduleId))));
    }
  }

  /** Queue a re-apply for what happened on the station at `at`; triggers that arrive while one waits fold into it. */
  private trigger(stationId: string, trigger: Trigger, at: number, only?: Set<string>): void {
    if (this.closed) return;
    const waiting = this.waitingTriggers.get(stationId);
    if (waiting) {
      waiting.only = waiting.only && only ? new Set([...waiting.only, ...only]) : undefined;
      waiting.at = Math.max(waiting.at, at);
      return;
    }
    const entry = { trigger, only, at };
    this.waitingTriggers.set(stationId, entry);
    this.queue
      .run(stationId, async () => {
        if (this.waitingTriggers.get(stationId) === entry) this.waitingTriggers.delete(stationId);
        await this.reapply(stationId, entry.trigger, entry.only, entry.at);
      })
      .catch((error: unknown) => this.deps.logger.error({ err: error, stationId, trigger }, 're-applying schedules failed'));
  }

  /**
   * Put the station's schedules back after `trigger` happened at `at`. One the
   * station answered after that moment (a command that went out just after a
   * connect) is already in place and is not sent twice.
   */
  private async reapply(stationId: string, trigger: Trigger, only: ReadonlySet<string> | undefined, at: number): Promise<void> {
    const reason = TRIGGER_REASONS[trigger];
    for (const record of this.records.liveOnStation(stationId)) {
      if (this.closed || !this.deps.caller.isConnected(stationId)) return;
      if (only && !only.has(record.scheduleId)) continue;
      if ((record.state === 'applied' || record.state === 'rejected') && record.lastAt !== null && Date.parse(record.lastAt) > at) continue;
      if (isPast(record, this.now().getTime())) {
        await this.expire(record);
        continue;
      }
      if (record.state === 'clearing') {
        const attempt = await this.sender.clear(record);
        if (attempt.kind === 'offline' || this.closed) return;
        if (attempt.kind === 'answered') this.report(record, 'cleared', { state: 'cleared', status: attempt.status, reason });
        else this.report(record, 'failed', { state: 'clearing', status: null, reason: attempt.reason });
        continue;
      }
      const attempt = await this.sender.apply(record);
      if (attempt.kind === 'offline' || this.closed) return;
      this.reportApply(record, attempt, reason);
    }
  }

  private reportApply(record: ScheduleRecord, attempt: Exclude<Attempt, { kind: 'offline' }>, reason: string): void {
    if (attempt.kind === 'failed') {
      this.report(record, 'failed', { state: 'failed', status: null, reason: attempt.reason });
    } else if (attempt.status === 'Accepted') {
      this.report(record, record.state === 'applied' ? 'reapplied' : 'applied', { state: 'applied', status: attempt.status, reason });
    } else {
      this.report(record, 'rejected', { state: 'rejected', status: attempt.status, reason: attempt.reason ?? reason });
    }
  }

  private async expire(record: ScheduleRecord): Promise<void> {
    let status: string | null = null;
    let reason = `validUntil ${record.validUntil ?? ''} passed`;
    const attempt = await this.sender.clear(record);
    if (attempt.kind === 'answered') status = attempt.status;
    // The profile carries validTo = validUntil, so a station the gateway cannot reach drops it by itself.
    else if (attempt.kind === 'failed') reason += `; clearing it on the station failed (${attempt.reason}), the station drops it itself at validTo`;
    if (this.closed) return;
    this.report(record, 'expired', { state: 'expired', status, reason });
  }

  /** Record an outcome and emit its schedule event in one transaction (the outbox commits with the change). */
  private report(record: ScheduleRecord, event: ScheduleEvent['event'], outcome: { state: ScheduleState; status: string | null; reason: string | null }): void {
    const payload: ScheduleEvent = {
      event,
      scheduleId: record.scheduleId,
      stationId: record.stationId,
      connectorId: record.connectorId,
      profileId: record.profileId,
      status: outcome.status,
      reason: outcome.reason,
    };
    const scheduleEvent: GatewayEvent = { topic: 'schedule', payload };
    const at = this.now();
    const write = (): void => {
      this.deps.db.transaction(() => {
        this.records.record(record.scheduleId, { ...outcome, result: event, at: at.toISOString() });
        this.deps.events.emit?.(scheduleEvent);
      })();
      this.deps.events.committed?.(scheduleEvent);
    };
    this.deps.logger.info({ stationId: record.stationId, scheduleId: record.scheduleId, profileId: record.profileId, event, status: outcome.status, reason: outcome.reason }, 'schedule event');
    const entry = { stationId: record.stationId, what: `schedule ${event}`, at, write };
    if (this.waitingReports.size > 0) {
      this.keepReport(entry);
      return;
    }
    try {
      write();
    } catch (error: unknown) {
      if (!isStorageUnavailable(error)) throw error;
      this.deps.logger.error({ err: error, scheduleId: record.scheduleId, event, retryMs: this.waitingReports.retryMs }, 'storage cannot take writes (disk full?); the schedule event waits in memory and is retried');
      this.keepReport(entry);
    }
  }

  private keepReport(entry: DeferredWrite): void {
    if (!this.waitingReports.add(entry)) {
      this.deps.logger.error({ stationId: entry.stationId, what: entry.what }, 'too many schedule events waiting for the storage; this one is lost');
    }
  }

  /** Record the outcome of a command; its ack carries it, so no event. */
  private record(record: ScheduleRecord, outcome: Omit<ScheduleOutcome, 'at'>): void {
    this.records.record(record.scheduleId, { ...outcome, at: this.now().toISOString() });
  }

  /**
   * Two gateway schedules with the same purpose on one connector would share
   * the gateway's stack level: the station would replace one with the other
   * (1.6 section 3.13.2) or refuse the second (2.0.1 K01.FR.06).
   */
  private assertNoConflict(spec: ScheduleSpec): void {
    const existing = this.records.get(spec.scheduleId);
    if (existing && existing.stationId !== spec.stationId && isLive(existing.state)) {
      throw new CommandError('invalid_argument', `schedule ${spec.scheduleId} is in force on station ${existing.stationId}; clear it before using its id for ${spec.stationId}`);
    }
    const clash = this.records
      .liveOnStation(spec.stationId)
      .find((record) => record.scheduleId !== spec.scheduleId && record.connectorId === spec.connectorId && record.purpose === spec.purpose && record.state !== 'clearing');
    if (clash) {
      throw new CommandError(
        'invalid_argument',
        `station ${spec.stationId} connector ${spec.connectorId} already has schedule ${clash.scheduleId} with purpose "${spec.purpose}"; send it again with scheduleId ${clash.scheduleId} to replace it, or clear it first`,
      );
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new CommandError('internal_error', 'the gateway is stopping');
  }

  private armExpiryTimer(): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    if (this.closed) return;
    const next = this.records.nextExpiry();
    if (next === undefined) return;
    const delay = Math.min(Math.max(0, Date.parse(next) - this.now().getTime()), MAX_TIMER_MS);
    this.expiryTimer = setTimeout(() => {
      this.expireDue().catch((error: unknown) => this.deps.logger.error({ err: error }, `expiring schedules failed: ${describeError(error)}`));
    }, delay);
    this.expiryTimer.unref();
  }

  private cancelSettle(stationId: string): void {
    clearTimeout(this.settleTimers.get(stationId));
    this.settleTimers.delete(stationId);
  }

  private cpmsClearsOf(stationId: string): Map<string, unknown> {
    let calls = this.cpmsClears.get(stationId);
    if (!calls) {
      calls = new Map();
      this.cpmsClears.set(stationId, calls);
    }
    return calls;
  }
}

function isLive(state: ScheduleState): boolean {
  return LIVE_STATES.includes(state);
}

function isPast(record: ScheduleRecord, now: number): boolean {
  return record.validUntil !== null && Date.parse(record.validUntil) <= now;
}

function statusOf(payload: unknown): unknown {
  return typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>)['status'] : undefined;
}
