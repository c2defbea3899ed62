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
}

/**
 * Where both OCPP versions write sessions: stores each change and emits the
 * matching `started` / `updated` / `ended` event. An `updated` event goes out
 * only when a field of the event changed (bookkeeping such as seqNo is stored
 * silently), so a repeated message produces no event.
 */
export class SessionLedger {
  constructor(private readonly deps: SessionLedgerDeps) {}

  find(stationId: string, transactionId: string): SessionRecord | undefined {
    return this.deps.records.find(stationId, transactionId);
  }

  start(session: NewSession): SessionRecord {
    const record = this.deps.records.insert(withEnergy(session), this.deps.now());
    this.deps.counters.sessionsStarted += 1;
    this.deps.emit({ topic: 'session', payload: toSessionEvent('started', record) });
    return record;
  }

  /** Store `next` (derived from `before`) if anything differs; returns what is stored. */
  change(before: SessionRecord, next: SessionRecord): SessionRecord {
    const after = withEnergy(next);
    if (stored(after) === stored(before)) return before;
    const saved = this.deps.records.save(after, this.deps.now());
    if (before.state === 'active' && saved.state === 'ended') {
      this.deps.counters.sessionsEnded += 1;
      this.deps.emit({ topic: 'session', payload: toSessionEvent('ended', saved) });
    } else if (visible(saved) !== visible(before)) {
      this.deps.counters.sessionsUpdated += 1;
      this.deps.emit({ topic: 'session', payload: toSessionEvent('updated', saved) });
    }
    return saved;
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
}

function stored(record: SessionRecord): string {
  return JSON.stringify({ ...record, updatedAt: '' });
}

function visible(record: SessionRecord): string {
  return JSON.stringify(toSessionEvent('updated', record));
}
