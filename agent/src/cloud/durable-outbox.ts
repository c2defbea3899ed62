import type Database from 'better-sqlite3';
import type { GatewayEvent, GatewayEventSink, SessionEvent } from '../events/gateway-events.js';
import type { SqliteDatabase } from '../store/gateway-store.js';
import type { Logger } from '../util/logger.js';

/** One stored event, ready to publish on `P/events/<topic>`. */
export interface OutboxEntry {
  readonly seq: number;
  readonly topic: GatewayEvent['topic'];
  /** The JSON published as is: the event with `seq` and `ts` first. */
  readonly payload: string;
  readonly createdAt: string;
}

export interface DurableOutboxOptions {
  readonly logger: Logger;
  /** Rows kept at most; beyond it the oldest are dropped and counted (config `mqtt.outboxMaxEvents`). */
  readonly maxEvents?: number;
  readonly now?: () => Date;
  /** Least time between two "dropped" warnings; every drop is counted regardless. */
  readonly dropLogIntervalMs?: number;
  /**
   * The session as stored, as an `updated` event. Given, the `updated`
   * events of the session flush (`flushedSessionId`) are stored as a
   * reference to their session and their readings, and rebuilt with it when
   * they are read (migration 008); without it every event is stored whole.
   */
  readonly storedSession?: (sessionId: number) => SessionEvent | undefined;
}

export const DEFAULT_OUTBOX_MAX_EVENTS = 100_000;

/**
 * Seqs reserved ahead per durable write. A new reservation is made when half
 * of the current one is used, so one fsync per 5,000 events (not per event)
 * keeps every seq that was ever handed out at or below a durable mark; the
 * cost is a gap of up to this many seqs after a stop that was not clean.
 */
export const SEQ_RESERVATION = 10_000;

interface StateRow {
  last_seq: number;
  depth: number;
  dropped: number;
}

interface EntryRow {
  seq: number;
  topic: GatewayEvent['topic'];
  /** Empty for a reference to a session (below). */
  payload: string;
  created_at: string;
  session_id: number | null;
  meter_start_wh: number | null;
  energy_wh: number | null;
}

/**
 * The events the cloud has not acknowledged yet (docs/cloud.md "The outbox:
 * delivery and order": written to a durable outbox first, removed only after
 * the broker acknowledged them), in the gateway's SQLite file (migration 004).
 *
 * `emit` is called by the observers inside the transaction that changed a
 * session, so the event commits or rolls back with that change; it never
 * publishes itself. Listeners hear of new rows on the next turn of the event
 * loop, by which time that transaction has ended: the link can never send an
 * event whose change was rolled back. An insert that fails throws and the
 * caller decides: a schedule outcome rolls back with its event; the session
 * observer rolls back when the storage is unavailable (both then wait), and
 * otherwise keeps the change and logs and counts the lost event
 * (`eventSinkFailures`; docs/architecture.md "Events").
 */
export class DurableOutbox implements GatewayEventSink {
  readonly maxEvents: number;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly dropLogIntervalMs: number;
  private readonly stateStatement: Database.Statement<[], StateRow>;
  private readonly peekStatement: Database.Statement<[number, number], EntryRow>;
  private readonly append: (event: GatewayEvent) => void;
  private readonly removeMany: (seqs: readonly number[]) => void;
  private readonly existsStatement: Database.Statement<[number], { seq: number }>;
  /**
   * Acknowledged events not deleted yet: deleted together by `flushRemovals`
   * (with the session flush, docs/cloud.md "What a crash can resend"), so a
   * PUBACK does not cost a transaction of its own.
   */
  private readonly acknowledged = new Set<number>();
  private readonly listeners = new Set<() => void>();
  private notifyPending = false;
  private reservationPending = false;
  private readonly db: SqliteDatabase;
  private lastDropLogAt = Number.NEGATIVE_INFINITY;
  private droppedSinceLog = 0;
  private readonly storedSession: ((sessionId: number) => SessionEvent | undefined) | undefined;
  /**
   * The highest seq this outbox handed out (or found at start). Only this
   * process appends, so a peek after it has nothing to read: the link asks
   * after every PUBACK, and the answer "nothing new" costs no query. A
   * rolled-back append leaves it too high, which only costs one query.
   */
  private highestSeq = 0;

  constructor(db: SqliteDatabase, options: DurableOutboxOptions) {
    const maxEvents = options.maxEvents ?? DEFAULT_OUTBOX_MAX_EVENTS;
    if (!Number.isSafeInteger(maxEvents) || maxEvents < 1) throw new RangeError(`outbox maxEvents must be a positive integer, got ${maxEvents}`);
    this.maxEvents = maxEvents;
    this.logger = options.logger;
    this.now = options.now ?? (() => new Date());
    this.dropLogIntervalMs = options.dropLogIntervalMs ?? 60_000;
    this.storedSession = options.storedSession;
    this.db = db;
    this.recoverSeq();
    const nextSeq = db.prepare<[], { last_seq: number; depth: number; reserved_seq: number }>(
      'UPDATE outbox_state SET last_seq = last_seq + 1, depth = depth + 1 WHERE id = 1 RETURNING last_seq, depth, reserved_seq',
    );
    const insert = db.prepare<[number, string, string, string]>('INSERT INTO outbox (seq, topic, payload, created_at) VALUES (?, ?, ?, ?)');
    const insertReference = db.prepare<[number, string, number, number | null, number | null]>(
      "INSERT INTO outbox (seq, topic, payload, created_at, session_id, meter_start_wh, energy_wh) VALUES (?, 'session', '', ?, ?, ?, ?)",
    );
    const deleteOldest = db.prepare<[number]>('DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)');
    const countDropped = db.prepare<[number, number]>('UPDATE outbox_state SET depth = depth - ?, dropped = dropped + ? WHERE id = 1');
    this.stateStatement = db.prepare<[], StateRow>('SELECT last_seq, depth, dropped FROM outbox_state WHERE id = 1');
    this.peekStatement = db.prepare<[number, number], EntryRow>(
      'SELECT seq, topic, payload, created_at, session_id, meter_start_wh, energy_wh FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?',
    );
    const removeRow = db.prepare<[number]>('DELETE FROM outbox WHERE seq = ?');
    const decrementDepth = db.prepare<[number]>('UPDATE outbox_state SET depth = depth - ? WHERE id = 1');

    // A nested db.transaction() becomes a SAVEPOINT inside the observer's
    // transaction, and a transaction of its own when called alone.
    this.append = db.transaction((event: GatewayEvent) => {
      const row = nextSeq.get();
      if (row === undefined) throw new Error('outbox_state row is missing (migration 004 not applied?)');
      const at = this.now().toISOString();
      if (event.topic === 'session' && event.flushedSessionId !== undefined && this.storedSession !== undefined) {
        // ~60 bytes instead of ~400 of JSON: the session's row holds the rest (rebuilt by `entryOf`).
        insertReference.run(row.last_seq, at, event.flushedSessionId, event.payload.meterStartWh, event.payload.energyWh);
      } else {
        insert.run(row.last_seq, event.topic, JSON.stringify({ seq: row.last_seq, ts: at, ...event.payload }), at);
      }
      this.highestSeq = row.last_seq;
      if (row.last_seq > row.reserved_seq - SEQ_RESERVATION / 2) this.scheduleReservation();
      if (row.depth > this.maxEvents) {
        // The rows and the counters move in the same transaction.
        const deleted = deleteOldest.run(row.depth - this.maxEvents).changes;
        countDropped.run(deleted, deleted);
        this.reportDrop(deleted);
      }
    });
    this.existsStatement = db.prepare<[number], { seq: number }>('SELECT seq FROM outbox WHERE seq = ?');
    this.removeMany = db.transaction((seqs: readonly number[]) => {
      let deleted = 0;
      for (const seq of seqs) deleted += removeRow.run(seq).changes;
      if (deleted > 0) decrementDepth.run(deleted);
    });
  }

  /**
   * After a stop that was not clean (a crash, a power cut), start above the
   * durable reservation: a power cut may have undone the last `last_seq`
   * updates although their events reached the broker. Then reserve ahead,
   * fsynced, and mark the run as not (yet) cleanly stopped.
   */
  private recoverSeq(): void {
    const state = this.db.prepare<[], { last_seq: number; reserved_seq: number; clean_stop: number }>('SELECT last_seq, reserved_seq, clean_stop FROM outbox_state WHERE id = 1').get();
    if (state === undefined) throw new Error('outbox_state row is missing (migration 004 not applied?)');
    const start = state.clean_stop === 0 ? Math.max(state.last_seq, state.reserved_seq) : state.last_seq;
    if (start > state.last_seq) {
      this.logger.warn(
        { lastSeq: state.last_seq, nextSeq: start + 1 },
        'the gateway did not stop cleanly: event seq continues above its durable reservation, so no seq a power cut may have undone is used again (a gap in seq)',
      );
    }
    this.durably('UPDATE outbox_state SET last_seq = ?, reserved_seq = ?, clean_stop = 0 WHERE id = 1', start, start + SEQ_RESERVATION);
    this.highestSeq = start;
  }

  /** Reserve the next seqs, fsynced, on the next turn (outside the emitting transaction). */
  private scheduleReservation(): void {
    if (this.reservationPending) return;
    this.reservationPending = true;
    setImmediate(() => {
      this.reservationPending = false;
      try {
        this.durably('UPDATE outbox_state SET reserved_seq = last_seq + ? WHERE id = 1', SEQ_RESERVATION);
      } catch (error: unknown) {
        // A full disk, say: retried with the next event; until then a power cut could repeat a seq.
        this.logger.warn({ err: error }, 'could not reserve the next event seqs; retried with the next event');
      }
    });
  }

  /**
   * The last write of a clean stop (before the database closes): the next
   * start can trust `last_seq` and continue without a gap.
   */
  markCleanStop(): void {
    this.flushRemovals();
    this.durably('UPDATE outbox_state SET clean_stop = 1 WHERE id = 1');
  }

  /** One statement committed with `synchronous=FULL`: the WAL is fsynced with it (and everything before it). */
  private durably(sql: string, ...params: number[]): void {
    this.db.pragma('synchronous = FULL');
    try {
      this.db.prepare(sql).run(...params);
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
  }

  /** Store the event with the next seq and the current time. Throws when it cannot be stored. */
  emit(event: GatewayEvent): void {
    this.append(event);
    this.scheduleNotify();
  }

  /** Up to `limit` unacknowledged events with a seq above `afterSeq`, oldest first. */
  peek(limit: number, afterSeq = 0): OutboxEntry[] {
    const entries: OutboxEntry[] = [];
    if (limit < 1 || afterSeq >= this.highestSeq) return entries;
    // Stepped row by row, and left as soon as `limit` entries are found: the
    // bound below only covers the acknowledged rows not deleted yet. Reading
    // the whole bound each time (`all`) made every PUBACK during a backlog
    // read thousands of rows, about 1 ms each in the bench's mix phase.
    for (const row of this.peekStatement.iterate(afterSeq, limit + this.acknowledged.size)) {
      if (this.acknowledged.has(row.seq)) continue;
      entries.push({ seq: row.seq, topic: row.topic, payload: this.payloadOf(row), createdAt: row.created_at });
      if (entries.length === limit) break;
    }
    return entries;
  }

  /**
   * Forget an event the broker acknowledged; false when it was already gone
   * (dropped, or acknowledged twice). The row is deleted by the next
   * `flushRemovals`; until then it is skipped.
   */
  remove(seq: number): boolean {
    if (this.acknowledged.has(seq) || this.existsStatement.get(seq) === undefined) return false;
    this.acknowledged.add(seq);
    return true;
  }

  /** Acknowledged events whose rows are not deleted yet. */
  get acknowledgedWaiting(): number {
    return this.acknowledged.size;
  }

  /** Delete the rows of acknowledged events in one transaction (a savepoint inside the caller's). Throws when the storage cannot take it. */
  flushRemovals(): void {
    if (this.acknowledged.size === 0) return;
    const seqs = [...this.acknowledged];
    this.removeMany(seqs);
    for (const seq of seqs) this.acknowledged.delete(seq);
  }

  /**
   * The stored JSON, or for a reference the `updated` event as the flush
   * made it: the session's stored row with the readings of the flush. The
   * session was active then, so no end fields; a badge, driver or EVSE
   * that arrived since is its newest (its own event follows this one).
   */
  private payloadOf(row: EntryRow): string {
    if (row.session_id === null || row.payload !== '') return row.payload;
    const stored = this.storedSession?.(row.session_id);
    const event = stored === undefined
      ? { event: 'updated', sessionId: row.session_id }
      : { ...stored, event: 'updated', endedAt: null, meterStopWh: null, stopReason: null, meterStartWh: row.meter_start_wh, energyWh: row.energy_wh };
    return JSON.stringify({ seq: row.seq, ts: row.created_at, ...event });
  }

  /** Events waiting for their PUBACK. */
  get depth(): number {
    return this.readState().depth - this.acknowledged.size;
  }

  /** Events dropped because the outbox was full, over the gateway's life. */
  get dropped(): number {
    return this.readState().dropped;
  }

  /** The seq of the newest event ever stored (0 before the first). */
  get lastSeq(): number {
    return this.readState().last_seq;
  }

  /** Call `listener` (once per burst, after the emitting transaction ended) when events were added. */
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private readState(): StateRow {
    const state = this.stateStatement.get();
    if (state === undefined) throw new Error('outbox_state row is missing (migration 004 not applied?)');
    return state;
  }

  private scheduleNotify(): void {
    if (this.notifyPending || this.listeners.size === 0) return;
    this.notifyPending = true;
    setImmediate(() => {
      this.notifyPending = false;
      for (const listener of this.listeners) {
        try {
          listener();
        } catch (error: unknown) {
          this.logger.error({ err: error }, 'outbox listener failed');
        }
      }
    });
  }

  /**
   * A full outbox drops one old event per new one for as long as the cloud is
   * away: one warning per interval with the count since the last, not a line
   * per event, and the total in `dropped` (status, metrics).
   */
  private reportDrop(count: number): void {
    this.droppedSinceLog += count;
    const at = Date.now();
    if (at - this.lastDropLogAt < this.dropLogIntervalMs) return;
    this.logger.warn(
      { dropped: this.droppedSinceLog, maxEvents: this.maxEvents },
      'cloud outbox full: oldest events dropped (the cloud has not acknowledged events for a long time)',
    );
    this.lastDropLogAt = at;
    this.droppedSinceLog = 0;
  }
}
