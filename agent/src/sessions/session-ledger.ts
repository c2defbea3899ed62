import type { DriverDirectory } from '../drivers/driver-directory.js';
import type { GatewayEvent } from '../events/gateway-events.js';
import { isTruncated } from './bounded-text.js';
import { withEnergy } from './meter-readings.js';
import type { SessionCounters } from './session-counters.js';
import { toSessionEvent, type NewSession, type SessionRecord } from './session-record.js';
import type { SessionRecords } from './session-records.js';

export interface SessionLedgerDeps {
  readonly records: SessionRecords;
  readonly drivers: DriverDirectory;
  /** Already guarded: never throws. */
  readonly emit: (event: GatewayEvent) => void;
  readonly counters: SessionCounters;
  readonly now: () => Date;
  /** Run `apply` once the transaction under way commits (at once when none is). */
  readonly afterCommit: (apply: () => void) => void;
  /** Readings wait in memory for `flush`; false: every change is written at once. */
  readonly lazy: boolean;
}

/** An active session: its latest state, and the state the database holds. */
interface ActiveSession {
  current: SessionRecord;
  stored: SessionRecord;
}

/**
 * Where both OCPP versions write sessions: stores each change and emits the
 * matching `started` / `updated` / `ended` event.
 *
 * Active sessions are kept in memory. A change of meter readings only (the
 * readings, the energy, 2.x seqNo bookkeeping) is not written at once: it
 * waits in memory until `flush`, which writes every such session in one go
 * and emits one `updated` per session whose energy changed since it was last
 * stored (docs/sessions.md "What is written when"). Anything else (a start,
 * an end, a badge, a driver, an EVSE) is written at once, with the readings
 * waiting for that session. A repeated message produces no event.
 */
export class SessionLedger {
  private readonly active = new Map<string, ActiveSession>();
  /** Keys of active sessions whose readings wait to be written. */
  private readonly dirty = new Set<string>();

  constructor(private readonly deps: SessionLedgerDeps) {}

  find(stationId: string, transactionId: string): SessionRecord | undefined {
    const key = keyOf(stationId, transactionId);
    const known = this.active.get(key);
    if (known) return known.current;
    const record = this.deps.records.find(stationId, transactionId);
    if (record?.state === 'active') this.active.set(key, { current: record, stored: record });
    return record;
  }

  start(session: NewSession): SessionRecord {
    const record = this.deps.records.insert(withEnergy(session), this.deps.now());
    this.deps.counters.sessionsStarted += 1;
    this.deps.emit({ topic: 'session', payload: toSessionEvent('started', record) });
    this.deps.afterCommit(() => this.remember(record));
    return record;
  }

  /** Keep `next` (derived from `before`) if anything differs; returns the session as it is now. */
  change(before: SessionRecord, next: SessionRecord): SessionRecord {
    const after = withEnergy(next);
    if (sameStoredFields(after, before)) return before;
    if (this.deps.lazy && after.state === 'active' && before.state === 'active' && onlyReadingsDiffer(after, before)) {
      const key = keyOf(after.stationId, after.transactionId);
      this.deps.afterCommit(() => {
        const entry = this.active.get(key);
        if (entry?.current.sessionId !== after.sessionId) return;
        entry.current = after;
        this.dirty.add(key);
      });
      return after;
    }
    const saved = this.deps.records.save(after, this.deps.now());
    if (before.state === 'active' && saved.state === 'ended') {
      this.deps.counters.sessionsEnded += 1;
      this.deps.emit({ topic: 'session', payload: toSessionEvent('ended', saved) });
    } else if (visibleFieldsDiffer(saved, before)) {
      this.deps.counters.sessionsUpdated += 1;
      this.deps.emit({ topic: 'session', payload: toSessionEvent('updated', saved) });
    }
    this.deps.afterCommit(() => this.remember(saved));
    return saved;
  }

  /** Sessions whose readings wait to be written. */
  get waitingSessions(): number {
    return this.dirty.size;
  }

  /**
   * Write every session whose readings wait, inside the caller's
   * transaction, with one `updated` event each when its energy changed.
   * What was written is marked so once the transaction commits.
   */
  flush(): void {
    for (const key of this.dirty) {
      const entry = this.active.get(key);
      if (!entry) continue;
      const saved = this.deps.records.save(entry.current, this.deps.now());
      if (visibleFieldsDiffer(saved, entry.stored)) {
        this.deps.counters.sessionsUpdated += 1;
        // Only readings changed (onlyReadingsDiffer): the row just saved holds the rest of the event.
        this.deps.emit({ topic: 'session', payload: toSessionEvent('updated', saved), flushedSessionId: saved.sessionId });
      }
      const written = entry.current;
      this.deps.afterCommit(() => {
        const now = this.active.get(key);
        if (now?.current !== written) return;
        now.current = saved;
        now.stored = saved;
        this.dirty.delete(key);
      });
    }
  }

  /**
   * The driver behind a badge, or null when it is unknown. The directory
   * folds case and blanks (docs/drivers.md "Normalization"); the record keeps the badge as
   * sent.
   */
  driverFor(idTag: string | null): string | null {
    // A badge cut to its OCPP maximum (bounded-text.ts) is not the badge the station sent: it names nobody.
    if (idTag === null || isTruncated(idTag)) return null;
    return this.deps.drivers.lookup(idTag)?.email ?? null;
  }

  /** A record just stored: the active session's state in memory, or gone from memory once ended. */
  private remember(record: SessionRecord): void {
    const key = keyOf(record.stationId, record.transactionId);
    if (record.state === 'active') {
      this.active.set(key, { current: record, stored: record });
    } else if (this.active.get(key)?.current.sessionId === record.sessionId) {
      this.active.delete(key);
    }
    this.dirty.delete(key);
  }
}

function keyOf(stationId: string, transactionId: string): string {
  return `${stationId}\u0000${transactionId}`;
}

/** Every stored field but `updatedAt` (the gateway's bookkeeping time). */
function sameStoredFields(a: SessionRecord, b: SessionRecord): boolean {
  return (
    a.sessionId === b.sessionId &&
    a.state === b.state &&
    a.lastMeterWh === b.lastMeterWh &&
    a.lastMeterAt === b.lastMeterAt &&
    a.energyWh === b.energyWh &&
    a.meterStartWh === b.meterStartWh &&
    a.meterStartAt === b.meterStartAt &&
    a.lastSeqNo === b.lastSeqNo &&
    a.missedSeqNos === b.missedSeqNos &&
    a.offlineEvents === b.offlineEvents &&
    !otherFieldsDiffer(a, b)
  );
}

/** The fields a meter reading (and 2.x seqNo bookkeeping) never touches. */
function otherFieldsDiffer(a: SessionRecord, b: SessionRecord): boolean {
  return (
    a.stationId !== b.stationId ||
    a.ocppVersion !== b.ocppVersion ||
    a.evseId !== b.evseId ||
    a.connectorId !== b.connectorId ||
    a.transactionId !== b.transactionId ||
    a.idTag !== b.idTag ||
    a.idTagStatus !== b.idTagStatus ||
    a.driverEmail !== b.driverEmail ||
    a.startedAt !== b.startedAt ||
    a.endedAt !== b.endedAt ||
    a.meterStopWh !== b.meterStopWh ||
    a.stopReason !== b.stopReason ||
    a.createdAt !== b.createdAt
  );
}

function onlyReadingsDiffer(a: SessionRecord, b: SessionRecord): boolean {
  return a.sessionId === b.sessionId && !otherFieldsDiffer(a, b);
}

/** The fields of a session event (toSessionEvent). */
function visibleFieldsDiffer(a: SessionRecord, b: SessionRecord): boolean {
  return (
    a.stationId !== b.stationId ||
    a.ocppVersion !== b.ocppVersion ||
    a.connectorId !== b.connectorId ||
    a.evseId !== b.evseId ||
    a.transactionId !== b.transactionId ||
    a.idTag !== b.idTag ||
    a.driverEmail !== b.driverEmail ||
    a.startedAt !== b.startedAt ||
    a.endedAt !== b.endedAt ||
    a.meterStartWh !== b.meterStartWh ||
    a.meterStopWh !== b.meterStopWh ||
    a.energyWh !== b.energyWh ||
    a.stopReason !== b.stopReason
  );
}
