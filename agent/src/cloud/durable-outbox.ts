import type Database from 'better-sqlite3';
import type { GatewayEvent, GatewayEventSink } from '../events/gateway-events.js';
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
}

export const DEFAULT_OUTBOX_MAX_EVENTS = 100_000;

interface StateRow {
  last_seq: number;
  depth: number;
  dropped: number;
}

interface EntryRow {
  seq: number;
  topic: GatewayEvent['topic'];
  payload: string;
  created_at: string;
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
  private readonly removeOne: (seq: number) => boolean;
  private readonly listeners = new Set<() => void>();
  private notifyPending = false;
  private lastDropLogAt = Number.NEGATIVE_INFINITY;
  private droppedSinceLog = 0;

  constructor(db: SqliteDatabase, options: DurableOutboxOptions) {
    const maxEvents = options.maxEvents ?? DEFAULT_OUTBOX_MAX_EVENTS;
    if (!Number.isSafeInteger(maxEvents) || maxEvents < 1) throw new RangeError(`outbox maxEvents must be a positive integer, got ${maxEvents}`);
    this.maxEvents = maxEvents;
    this.logger = options.logger;
    this.now = options.now ?? (() => new Date());
    this.dropLogIntervalMs = options.dropLogIntervalMs ?? 60_000;
    const nextSeq = db.prepare<[], { last_seq: number; depth: number }>(
      'UPDATE outbox_state SET last_seq = last_seq + 1, depth = depth + 1 WHERE id = 1 RETURNING last_seq, depth',
    );
    const insert = db.prepare<[number, string, string, string]>('INSERT INTO outbox (seq, topic, payload, created_at) VALUES (?, ?, ?, ?)');
    const deleteOldest = db.prepare<[number]>('DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)');
    const countDropped = db.prepare<[number, number]>('UPDATE outbox_state SET depth = depth - ?, dropped = dropped + ? WHERE id = 1');
    this.stateStatement = db.prepare<[], StateRow>('SELECT last_seq, depth, dropped FROM outbox_state WHERE id = 1');
    this.peekStatement = db.prepare<[number, number], EntryRow>('SELECT seq, topic, payload, created_at FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?');
    const removeRow = db.prepare<[number]>('DELETE FROM outbox WHERE seq = ?');
    const decrementDepth = db.prepare('UPDATE outbox_state SET depth = depth - 1 WHERE id = 1');

    // A nested db.transaction() becomes a SAVEPOINT inside the observer's
    // transaction, and a transaction of its own when called alone.
    this.append = db.transaction((event: GatewayEvent) => {
      const row = nextSeq.get();
      if (row === undefined) throw new Error('outbox_state row is missing (migration 004 not applied?)');
      const at = this.now().toISOString();
      const payload = JSON.stringify({ seq: row.last_seq, ts: at, ...event.payload });
      insert.run(row.last_seq, event.topic, payload, at);
      if (row.depth > this.maxEvents) {
        // The rows and the counters move in the same transaction.
        const deleted = deleteOldest.run(row.depth - this.maxEvents).changes;
        countDropped.run(deleted, deleted);
        this.reportDrop(deleted);
      }
    });
    this.removeOne = db.transaction((seq: number): boolean => {
      const deleted = removeRow.run(seq).changes > 0;
      if (deleted) decrementDepth.run();
      return deleted;
    });
  }

  /** Store the event with the next seq and the current time. Throws when it cannot be stored. */
  emit(event: GatewayEvent): void {
    this.append(event);
    this.scheduleNotify();
  }

  /** Up to `limit` events with a seq above `afterSeq`, oldest first. */
  peek(limit: number, afterSeq = 0): OutboxEntry[] {
    return this.peekStatement.all(afterSeq, limit).map((row) => ({ seq: row.seq, topic: row.topic, payload: row.payload, createdAt: row.created_at }));
  }

  /** Forget an event the broker acknowledged; false when it was already gone (dropped, or acknowledged twice). */
  remove(seq: number): boolean {
    return this.removeOne(seq);
  }

  /** Events waiting for their PUBACK. */
  get depth(): number {
    return this.readState().depth;
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
