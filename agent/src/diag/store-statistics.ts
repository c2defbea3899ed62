import { statSync } from 'node:fs';
import type { SqliteDatabase } from '../store/gateway-store.js';
import { databasePath, openReadOnly } from './read-only-database.js';

/** How many of each recent record the support bundle keeps. */
export const RECENT_ROWS = 200;

export interface StoreStatistics {
  readonly database: string;
  readonly files: Record<string, number | null>;
  readonly schemaVersion?: number;
  readonly pageSize?: number;
  readonly pageCount?: number;
  readonly freelistCount?: number;
  readonly journalMode?: string;
  /** Row count by table. */
  readonly tables?: Record<string, number>;
  readonly outboxState?: unknown;
  /** Why the database could not be read, when it could not. */
  readonly error?: string;
}

/**
 * Sizes of the database and its WAL, its schema version and the row count
 * of every table, read through a read-only connection (works next to the
 * running daemon).
 */
export function storeStatistics(dataDir: string): StoreStatistics {
  const database = databasePath(dataDir);
  const files: Record<string, number | null> = {};
  for (const suffix of ['', '-wal', '-shm']) files[`${database}${suffix}`] = sizeOf(`${database}${suffix}`);
  if (files[database] === null) return { database, files, error: 'no database file yet' };
  try {
    return withDatabase(dataDir, (db) => {
      const tables: Record<string, number> = {};
      const names = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];
      for (const name of names) tables[name] = Number(db.prepare(`SELECT count(*) FROM "${name.replaceAll('"', '""')}"`).pluck().get());
      return {
        database,
        files,
        schemaVersion: Number(db.pragma('user_version', { simple: true })),
        pageSize: Number(db.pragma('page_size', { simple: true })),
        pageCount: Number(db.pragma('page_count', { simple: true })),
        freelistCount: Number(db.pragma('freelist_count', { simple: true })),
        journalMode: String(db.pragma('journal_mode', { simple: true })),
        tables,
        ...(names.includes('outbox_state') ? { outboxState: db.prepare('SELECT last_seq AS lastSeq, depth, dropped FROM outbox_state').get() } : {}),
      };
    });
  } catch (error: unknown) {
    return { database, files, error: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * The latest records of the store, newest first: events still waiting in
 * the outbox, sessions, stations with their connector status, schedules and
 * the acks of recent cloud commands. Tables this schema version does not
 * have yet are left out. Values are as stored; the bundle redacts them.
 */
export function recentRecords(dataDir: string, limit = RECENT_ROWS): Record<string, unknown> {
  try {
    return withDatabase(dataDir, (db) => {
      const tables = new Set(db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all() as string[]);
      const recent: Record<string, unknown> = {};
      const take = (table: string, order: string): void => {
        if (!tables.has(table)) return;
        const rows = db.prepare(`SELECT * FROM ${table} ORDER BY ${order} LIMIT ?`).all(limit) as Array<Record<string, unknown>>;
        // The outbox payload is the event as it will be published: JSON, shown as such.
        recent[table] = rows.map((row) => (typeof row['payload'] === 'string' ? { ...row, payload: parseOrKeep(row['payload']) } : row));
      };
      take('outbox', 'seq DESC');
      take('sessions', 'updated_at DESC, session_id DESC');
      take('stations', 'coalesce(last_connected_at, first_seen_at) DESC');
      take('connector_status', 'updated_at DESC');
      take('schedules', 'rowid DESC');
      take('command_log', 'received_at DESC');
      return recent;
    });
  } catch (error: unknown) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

function withDatabase<T>(dataDir: string, read: (db: SqliteDatabase) => T): T {
  const db = openReadOnly(dataDir);
  try {
    return read(db);
  } finally {
    db.close();
  }
}

function parseOrKeep(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function sizeOf(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}
