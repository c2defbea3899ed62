import t from 'tap';
import { DurableOutbox, SEQ_RESERVATION } from '../src/cloud/durable-outbox.js';
import type { GatewayEvent } from '../src/events/gateway-events.js';
import { openStore } from '../src/store/gateway-store.js';
import { toSessionEvent } from '../src/sessions/session-record.js';
import { SessionRecords } from '../src/sessions/session-records.js';
import { createLogger } from '../src/util/logger.js';

/** A station event is the smallest real GatewayEvent; `n` tells them apart. */
function stationEvent(n: number): GatewayEvent {
  return { topic: 'station', payload: { event: 'connected', stationId: `CP-${n}`, ocppVersion: '1.6', remoteAddress: '127.0.0.1' } };
}

function capturedLogger(): { logger: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('warn', { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

const silent = createLogger('silent');

t.test('events are stored with seq and ts, in order, until removed', async (t) => {
  const db = openStore(t.testdir());
  t.teardown(() => db.close());
  const outbox = new DurableOutbox(db, { logger: silent, now: () => new Date('2025-03-01T10:00:00.000Z') });
  for (let n = 1; n <= 3; n++) outbox.emit(stationEvent(n));
  t.equal(outbox.depth, 3);
  const entries = outbox.peek(10);
  t.same(
    entries.map((entry) => entry.seq),
    [1, 2, 3],
  );
  const first = JSON.parse(entries[0]?.payload ?? '{}') as Record<string, unknown>;
  t.same(Object.keys(first).slice(0, 2), ['seq', 'ts'], 'seq and ts lead the payload');
  t.match(first, { seq: 1, ts: '2025-03-01T10:00:00.000Z', event: 'connected', stationId: 'CP-1' });
  t.equal(entries[0]?.topic, 'station');
  t.same(
    outbox.peek(10, 1).map((entry) => entry.seq),
    [2, 3],
    'peek after a seq skips what is in flight',
  );
  t.equal(outbox.remove(2), true);
  t.equal(outbox.remove(2), false, 'a second PUBACK for the same event changes nothing');
  t.equal(outbox.depth, 2);
  t.same(
    outbox.peek(10).map((entry) => entry.seq),
    [1, 3],
  );
});

t.test('a backlog drained one PUBACK at a time, as the link does, then read again from the start after a reconnect', async (t) => {
  const db = openStore(t.testdir());
  t.teardown(() => db.close());
  const outbox = new DurableOutbox(db, { logger: silent });
  const backlog = 2_000;
  db.transaction(() => {
    for (let n = 1; n <= backlog; n++) outbox.emit(stationEvent(n));
  })();
  // Window 1: peek the next after the last sent, acknowledge it, repeat. Every
  // peek stops at the first row it needs (the statement is left mid-way and
  // must be usable again at once).
  const sent: number[] = [];
  const refusedRemovals: number[] = [];
  let sentUpTo = 0;
  for (;;) {
    const next = outbox.peek(1, sentUpTo);
    if (next.length === 0) break;
    sentUpTo = next[0]?.seq ?? Number.NaN;
    sent.push(sentUpTo);
    // Every third one is not acknowledged (the broker never answered it).
    if (sentUpTo % 3 !== 0 && !outbox.remove(sentUpTo)) refusedRemovals.push(sentUpTo);
  }
  t.same(refusedRemovals, [], 'every PUBACK removed its event');
  t.equal(sent.length, backlog, 'each event sent once');
  t.same(sent, Array.from({ length: backlog }, (_, index) => index + 1), 'in seq order');
  // A reconnect starts again from the oldest: only the unacknowledged ones, in order, the acknowledged rows skipped.
  const again = outbox.peek(8, 0).map((entry) => entry.seq);
  t.same(again, [3, 6, 9, 12, 15, 18, 21, 24]);
  t.equal(outbox.depth, Math.floor(backlog / 3));
  outbox.flushRemovals();
  t.same(outbox.peek(3, 0).map((entry) => entry.seq), [3, 6, 9], 'the same after the acknowledged rows are deleted');
  t.same(outbox.peek(0, 0), [], 'a zero window reads nothing');
});

t.test('close and reopen: events are still there and seq continues, never reused after deletes', async (t) => {
  const dir = t.testdir();
  let db = openStore(dir);
  let outbox = new DurableOutbox(db, { logger: silent });
  for (let n = 1; n <= 4; n++) outbox.emit(stationEvent(n));
  outbox.remove(3);
  outbox.remove(4);
  outbox.markCleanStop();
  db.close();

  db = openStore(dir);
  t.teardown(() => db.close());
  outbox = new DurableOutbox(db, { logger: silent });
  t.equal(outbox.depth, 2);
  t.same(
    outbox.peek(10).map((entry) => entry.seq),
    [1, 2],
  );
  outbox.remove(1);
  outbox.remove(2);
  t.equal(outbox.depth, 0);
  outbox.emit(stationEvent(5));
  t.same(
    outbox.peek(10).map((entry) => entry.seq),
    [5],
    'the highest seq was deleted, yet the next one is still higher',
  );
  t.equal(outbox.lastSeq, 5);
});

t.test('a power cut that undid the last seq updates never makes a seq repeat: the next start continues above the durable reservation', async (t) => {
  const dir = t.testdir();
  let db = openStore(dir);
  let outbox = new DurableOutbox(db, { logger: silent });
  for (let n = 1; n <= 5; n++) outbox.emit(stationEvent(n));
  // The broker acknowledged 1-5. Then the power went: the cut undid the commits
  // that took last_seq from 2 to 5 (synchronous=NORMAL), not the fsynced reservation.
  for (let seq = 1; seq <= 5; seq++) outbox.remove(seq);
  outbox.flushRemovals();
  db.prepare('UPDATE outbox_state SET last_seq = 2').run();
  db.close();

  const { logger, lines } = capturedLogger();
  db = openStore(dir);
  t.teardown(() => db.close());
  outbox = new DurableOutbox(db, { logger });
  outbox.emit(stationEvent(6));
  const [next] = outbox.peek(1);
  t.ok((next?.seq ?? 0) > 5, `the next event gets a seq above every one handed out before (${next?.seq})`);
  t.equal(next?.seq, SEQ_RESERVATION + 1, 'it continues right above the reservation made at the first start');
  t.match(lines, [{ level: 'warn', msg: /did not stop cleanly/ }], 'the gap is explained in the log');
});

t.test('acknowledged events are deleted together by flushRemovals; a crash before it sends them again (duplicates, never a loss)', async (t) => {
  const dir = t.testdir();
  let db = openStore(dir);
  let outbox = new DurableOutbox(db, { logger: silent });
  for (let n = 1; n <= 4; n++) outbox.emit(stationEvent(n));
  t.equal(outbox.remove(1), true, 'acknowledged');
  t.equal(outbox.remove(1), false, 'acknowledged twice: already gone');
  outbox.remove(2);
  t.equal(outbox.depth, 2, 'depth counts only events waiting for their PUBACK');
  t.same(
    outbox.peek(10).map((entry) => entry.seq),
    [3, 4],
    'acknowledged rows are skipped before they are deleted',
  );
  const rows = (): number => db.prepare<[], { n: number }>('SELECT count(*) AS n FROM outbox').get()?.n ?? -1;
  t.equal(rows(), 4, 'no transaction per PUBACK: the rows are still there');
  outbox.flushRemovals();
  t.equal(rows(), 2, 'deleted in one go');
  t.equal(outbox.depth, 2);
  outbox.remove(3);
  // SIGKILL: the acknowledgement of 3 was never written.
  db.close();
  db = openStore(dir);
  t.teardown(() => db.close());
  outbox = new DurableOutbox(db, { logger: silent });
  t.same(
    outbox.peek(10).map((entry) => entry.seq),
    [3, 4],
    'sent again after the restart: a duplicate the cloud drops by seq',
  );
});

t.test('the reservation moves ahead as seqs are used, fsynced outside the emitting transaction', async (t) => {
  const db = openStore(t.testdir());
  t.teardown(() => db.close());
  const outbox = new DurableOutbox(db, { logger: silent });
  const reserved = (): number => db.prepare<[], { reserved_seq: number }>('SELECT reserved_seq FROM outbox_state').get()?.reserved_seq ?? 0;
  t.equal(reserved(), SEQ_RESERVATION, 'reserved ahead at start');
  db.prepare('UPDATE outbox_state SET last_seq = ?').run(SEQ_RESERVATION / 2);
  outbox.emit(stationEvent(1));
  t.equal(reserved(), SEQ_RESERVATION, 'not inside the emitting call');
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(reserved(), SEQ_RESERVATION / 2 + 1 + SEQ_RESERVATION, 'moved ahead on the next turn');
});

t.test('a rolled-back transaction takes its event with it, and listeners hear only after the transaction', async (t) => {
  const db = openStore(t.testdir());
  t.teardown(() => db.close());
  const outbox = new DurableOutbox(db, { logger: silent });
  let heardDuringTransaction = false;
  let heard = 0;
  let inTransaction = false;
  outbox.onAppend(() => {
    heard++;
    if (inTransaction) heardDuringTransaction = true;
  });
  t.throws(() =>
    db.transaction(() => {
      outbox.emit(stationEvent(1));
      throw new Error('the session change failed');
    })(),
  );
  t.equal(outbox.depth, 0, 'no event without its session change');
  db.transaction(() => {
    inTransaction = true;
    outbox.emit(stationEvent(2));
    outbox.emit(stationEvent(3));
    inTransaction = false;
  })();
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(heardDuringTransaction, false);
  t.ok(heard >= 1, 'listener called after commit');
  t.same(
    outbox.peek(10).map((entry) => JSON.parse(entry.payload).stationId as string),
    ['CP-2', 'CP-3'],
  );
});

t.test('a full outbox drops the oldest events, counts them across restarts and says so', async (t) => {
  const dir = t.testdir();
  const { logger, lines } = capturedLogger();
  let db = openStore(dir);
  let outbox = new DurableOutbox(db, { logger, maxEvents: 3 });
  for (let n = 1; n <= 5; n++) outbox.emit(stationEvent(n));
  t.equal(outbox.depth, 3);
  t.equal(outbox.dropped, 2);
  t.same(
    outbox.peek(10).map((entry) => entry.seq),
    [3, 4, 5],
    'the newest are kept',
  );
  const warnings = lines.filter((line) => line.level === 'warn');
  t.equal(warnings.length, 1, 'one warning per interval, not one per event');
  t.match(warnings[0], { msg: /outbox full/, dropped: 1, maxEvents: 3 });
  db.close();

  db = openStore(dir);
  t.teardown(() => db.close());
  outbox = new DurableOutbox(db, { logger, maxEvents: 3 });
  t.equal(outbox.dropped, 2, 'the dropped count survives a restart');
  outbox.emit(stationEvent(6));
  t.equal(outbox.dropped, 3);
  t.throws(() => new DurableOutbox(db, { logger, maxEvents: 0 }), RangeError);
});

t.test('an updated event of the session flush is stored as a reference to its session and its readings, and published as the flush made it', async (t) => {
  const db = openStore(t.testdir());
  t.teardown(() => db.close());
  const sessions = new SessionRecords(db);
  const outbox = new DurableOutbox(db, {
    logger: silent,
    now: () => new Date('2025-03-01T10:05:00.000Z'),
    storedSession: (sessionId) => {
      const record = sessions.byId(sessionId);
      return record === undefined ? undefined : toSessionEvent('updated', record);
    },
  });
  const active = sessions.insert(
    {
      stationId: 'CP-REF', ocppVersion: '1.6', evseId: null, connectorId: 1, transactionId: '42', idTag: 'BADGE', idTagStatus: 'Accepted',
      driverEmail: null, startedAt: '2025-03-01T10:00:00.000Z', endedAt: null, meterStartWh: 1000, meterStartAt: null, meterStopWh: null,
      lastMeterWh: 3500, lastMeterAt: '2025-03-01T10:04:00.000Z', energyWh: 2500, stopReason: null, lastSeqNo: null, missedSeqNos: 0,
      offlineEvents: 0, state: 'active',
    },
    new Date('2025-03-01T10:00:00.000Z'),
  );
  const flushed: GatewayEvent = { topic: 'session', payload: toSessionEvent('updated', active), flushedSessionId: active.sessionId };
  outbox.emit(flushed);
  outbox.emit(stationEvent(1));
  const row = db.prepare<[], { payload: string; session_id: number; meter_start_wh: number; energy_wh: number }>('SELECT payload, session_id, meter_start_wh, energy_wh FROM outbox WHERE seq = 1').get();
  t.same(row, { payload: '', session_id: active.sessionId, meter_start_wh: 1000, energy_wh: 2500 }, 'no JSON stored: the session and its readings');
  const expected = JSON.stringify({ seq: 1, ts: '2025-03-01T10:05:00.000Z', ...flushed.payload });
  t.equal(outbox.peek(10)[0]?.payload, expected, 'published exactly as the event emitted: seq, ts, then its fields in the same order');
  t.equal(outbox.depth, 2);

  // The session goes on and ends before the cloud took the event: it still says what the flush said.
  sessions.save({ ...active, lastMeterWh: 5000, energyWh: 4000, meterStopWh: 5000, endedAt: '2025-03-01T10:30:00.000Z', stopReason: 'Local', state: 'ended' }, new Date());
  t.equal(outbox.peek(10)[0]?.payload, expected, 'the readings of the flush, no end fields');
  t.equal(outbox.remove(1), true);
  outbox.flushRemovals();
  t.same(outbox.peek(10).map((entry) => entry.seq), [2]);

  const whole = new DurableOutbox(db, { logger: silent });
  whole.emit(flushed);
  t.match(JSON.parse(whole.peek(10).at(-1)?.payload ?? '{}'), { event: 'updated', energyWh: 2500 }, 'without storedSession the event is stored whole');
  t.not(db.prepare<[], { payload: string }>('SELECT payload FROM outbox ORDER BY seq DESC LIMIT 1').get()?.payload, '');
});
