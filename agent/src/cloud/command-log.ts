import type Database from 'better-sqlite3';
import type { SqliteDatabase } from '../store/gateway-store.js';
import type { CommandAck } from './command-ack.js';

export interface CommandLogOptions {
  /** Entries older than this are forgotten; a cloud retry comes within minutes, not weeks. */
  readonly maxAgeMs?: number;
  /** Entries kept at most, newest first. */
  readonly maxEntries?: number;
  readonly now?: () => Date;
}

export const DEFAULT_COMMAND_LOG_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;
export const DEFAULT_COMMAND_LOG_MAX_ENTRIES = 10_000;

/**
 * The `command_log` table (migration 004): the ack of every command a handler
 * ran, by id. A repeated id (QoS 1 redelivery after a reconnect, a cloud
 * retry) is answered from here and not executed again (docs/cloud.md "Commands").
 * Bounded by age and count, pruned on each write.
 */
export class CommandLog {
  private readonly findStatement: Database.Statement<[string], { ack: string }>;
  private readonly insertStatement: Database.Statement<[string, string, string, string]>;
  private readonly pruneByAge: Database.Statement<[string]>;
  private readonly pruneByCount: Database.Statement<[number]>;
  private readonly maxAgeMs: number;
  private readonly maxEntries: number;
  private readonly now: () => Date;

  constructor(db: SqliteDatabase, options: CommandLogOptions = {}) {
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_COMMAND_LOG_MAX_AGE_MS;
    this.maxEntries = options.maxEntries ?? DEFAULT_COMMAND_LOG_MAX_ENTRIES;
    this.now = options.now ?? (() => new Date());
    this.findStatement = db.prepare<[string], { ack: string }>('SELECT ack FROM command_log WHERE id = ?');
    this.insertStatement = db.prepare<[string, string, string, string]>(
      'INSERT OR REPLACE INTO command_log (id, command, ack, received_at) VALUES (?, ?, ?, ?)',
    );
    this.pruneByAge = db.prepare<[string]>('DELETE FROM command_log WHERE received_at < ?');
    this.pruneByCount = db.prepare<[number]>(
      'DELETE FROM command_log WHERE id IN (SELECT id FROM command_log ORDER BY received_at DESC, rowid DESC LIMIT -1 OFFSET ?)',
    );
  }

  /** The stored ack of a command already executed, or undefined. */
  find(id: string): CommandAck | undefined {
    const row = this.findStatement.get(id);
    return row === undefined ? undefined : (JSON.parse(row.ack) as CommandAck);
  }

  record(id: string, command: string, ack: CommandAck, receivedAt: Date): void {
    this.insertStatement.run(id, command, JSON.stringify(ack), receivedAt.toISOString());
    this.pruneByAge.run(new Date(this.now().getTime() - this.maxAgeMs).toISOString());
    this.pruneByCount.run(this.maxEntries);
  }
}
