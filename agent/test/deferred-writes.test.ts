/**
 * The queue of writes that wait for the storage (disk full, a held write
 * lock): it waits while the storage is unavailable, but a write that fails
 * for any other reason must not hold the ones behind it forever. A real
 * SQLite file, a real write lock held by a second connection, a real
 * constraint violation.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { DeferredWrites, type DeferredWrite } from '../src/store/deferred-writes.js';
import { createLogger } from '../src/util/logger.js';
import { waitUntil } from './helpers/wait-until.js';

t.test('a write that fails for another reason than the storage is logged, counted and dropped; the writes behind it go on', async (t) => {
  const path = join(t.testdir(), 'queue.db');
  const db = new Database(path);
  t.teardown(() => db.close());
  db.pragma('journal_mode = WAL');
  // No waiting for the lock: a held lock is SQLITE_BUSY at once, as for the daemon after its short busy_timeout.
  db.pragma('busy_timeout = 0');
  db.exec("CREATE TABLE events (id INTEGER PRIMARY KEY, what TEXT NOT NULL); INSERT INTO events VALUES (1, 'already there')");
  const insert = db.prepare<[number, string]>('INSERT INTO events (id, what) VALUES (?, ?)');

  // Another process holds the write lock: every write waits.
  const other = new Database(path);
  t.teardown(() => other.close());
  other.exec('BEGIN IMMEDIATE');

  const logs: Array<Record<string, unknown>> = [];
  const queue = new DeferredWrites({
    limit: 10,
    retryMs: 20,
    apply: (entry) => entry.write(),
    recoveredMessage: 'the waiting events are written',
    logger: createLogger('debug', { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) }),
  });
  t.teardown(() => queue.close());
  const entry = (id: number, what: string): DeferredWrite => ({ stationId: 'CP-Q', what, at: new Date('2025-04-03T10:00:00Z'), write: () => void insert.run(id, what) });
  queue.add(entry(1, 'duplicate id: a constraint violation'));
  queue.add(entry(2, 'second'));
  queue.add(entry(3, 'third'));

  await waitUntil(() => logs.some((line) => line.msg === 'storage still unavailable'), 'a retry that finds the lock held');
  t.equal(queue.size, 3, 'while the storage is unavailable everything waits, in order');
  t.equal(queue.failed, 0);

  other.exec('COMMIT');
  await waitUntil(() => queue.size === 0, 'the queue drained once the lock is released', 5_000);
  t.same(db.prepare('SELECT id, what FROM events ORDER BY id').all(), [
    { id: 1, what: 'already there' },
    { id: 2, what: 'second' },
    { id: 3, what: 'third' },
  ], 'the writes behind the failed one are made, in order');
  t.equal(queue.failed, 1, 'the failed write is counted');
  const failure = logs.find((line) => line.msg === 'a waiting write failed for another reason than the storage; it is dropped and the writes behind it go on');
  t.match(failure, { level: 'error', stationId: 'CP-Q', what: 'duplicate id: a constraint violation', at: '2025-04-03T10:00:00.000Z', err: { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' } }, 'logged at error with the entry');
  t.match(logs.at(-1), { level: 'warn', msg: 'the waiting events are written', written: 2, dropped: 1 });
});
