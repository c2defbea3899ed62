import t, { type Test } from 'tap';
import { parseDriverCsv, type DriverRow } from '../src/drivers/driver-csv.js';
import { DriverImportError } from '../src/drivers/driver-import-error.js';
import {
  importDrivers,
  readDriverListMeta,
  seedSyntheticDriverList,
  SqliteDriverDirectory,
  syntheticBadgeId,
  syntheticDriverRows,
  type DriverListing,
} from '../src/drivers/driver-list-store.js';
import { replaceDriverListInChunks } from '../src/drivers/staged-driver-import.js';
import { isStorageUnavailable } from '../src/store/storage-unavailable.js';
import { openStore, type SqliteDatabase } from '../src/store/gateway-store.js';

function store(t: Test): { db: SqliteDatabase; dataDir: string } {
  const dataDir = t.testdir();
  const db = openStore(dataDir);
  t.teardown(() => db.close());
  return { db, dataDir };
}

function rows(text: string): readonly DriverRow[] {
  return parseDriverCsv(Buffer.from(text, 'utf8')).rows;
}

function listOf(db: SqliteDatabase): DriverListing[] {
  return new SqliteDriverDirectory(db).list();
}

const FIRST = 'email,badge_ids\na@x.com,"A1, A2"\nb@x.com,B1\nc@x.com,C1\n';

t.test('a first import adds every driver; lookups ignore case and surrounding blanks', async (t) => {
  const { db } = store(t);
  const result = importDrivers(db, rows(FIRST), { mode: 'replace', source: 'test', now: new Date('2026-01-02T03:04:05Z') });
  t.same(result, { added: ['a@x.com', 'b@x.com', 'c@x.com'], removed: [], changed: [], unchanged: 0, drivers: 3, badges: 4, dryRun: false, staleVersion: false });
  const directory = new SqliteDriverDirectory(db);
  t.same(directory.lookup('A2'), { email: 'a@x.com', badgeId: 'A2' });
  t.same(directory.lookup('  a2\t'), { email: 'a@x.com', badgeId: 'A2' }, 'lower case with blanks');
  t.equal(directory.lookup('Z9'), undefined);
  t.equal(directory.lookup(''), undefined);
  t.same(directory.list(), [
    { email: 'a@x.com', badgeIds: ['A1', 'A2'] },
    { email: 'b@x.com', badgeIds: ['B1'] },
    { email: 'c@x.com', badgeIds: ['C1'] },
  ]);
  t.same(readDriverListMeta(db), { version: null, source: 'test', importedAt: '2026-01-02T03:04:05.000Z' });
});

t.test('replace: the list becomes the file; the diff is per email', async (t) => {
  const { db } = store(t);
  importDrivers(db, rows(FIRST), { mode: 'replace', source: 'test' });
  // a: unchanged (badge order differs), b: changed, c: removed, d: added.
  const result = importDrivers(db, rows('email,badge_ids\na@x.com,"a2,a1"\nb@x.com,"B1,B2"\nd@x.com,D1\n'), { mode: 'replace', source: 'test' });
  t.same(result, { added: ['d@x.com'], removed: ['c@x.com'], changed: ['b@x.com'], unchanged: 1, drivers: 3, badges: 5, dryRun: false, staleVersion: false });
  t.same(listOf(db), [
    { email: 'a@x.com', badgeIds: ['A1', 'A2'] },
    { email: 'b@x.com', badgeIds: ['B1', 'B2'] },
    { email: 'd@x.com', badgeIds: ['D1'] },
  ]);
  t.equal(new SqliteDriverDirectory(db).lookup('C1'), undefined, 'a removed driver\'s badge is gone');
});

t.test('merge: drivers in the file get the file\'s badges, the others are kept', async (t) => {
  const { db } = store(t);
  importDrivers(db, rows(FIRST), { mode: 'replace', source: 'test' });
  const result = importDrivers(db, rows('email,badge_ids\nb@x.com,B2\ne@x.com,E1\n'), { mode: 'merge', source: 'test' });
  t.same(result, { added: ['e@x.com'], removed: [], changed: ['b@x.com'], unchanged: 0, drivers: 4, badges: 5, dryRun: false, staleVersion: false });
  t.same(listOf(db), [
    { email: 'a@x.com', badgeIds: ['A1', 'A2'] },
    { email: 'b@x.com', badgeIds: ['B2'] },
    { email: 'c@x.com', badgeIds: ['C1'] },
    { email: 'e@x.com', badgeIds: ['E1'] },
  ]);
});

t.test('a badge may move between drivers the import is about', async (t) => {
  const { db } = store(t);
  importDrivers(db, rows(FIRST), { mode: 'replace', source: 'test' });
  // merge: B1 moves from b to a, both in the file.
  const merged = importDrivers(db, rows('email,badge_ids\na@x.com,"A1,B1"\nb@x.com,B9\n'), { mode: 'merge', source: 'test' });
  t.same(merged.changed, ['a@x.com', 'b@x.com']);
  t.same(new SqliteDriverDirectory(db).lookup('b1'), { email: 'a@x.com', badgeId: 'B1' });
  // replace: C1 moves from c (removed) to a new driver.
  importDrivers(db, rows('email,badge_ids\nnew@x.com,C1\n'), { mode: 'replace', source: 'test' });
  t.same(listOf(db), [{ email: 'new@x.com', badgeIds: ['C1'] }]);
});

t.test('merge: taking a badge from a driver not in the file is refused with its line; nothing written', async (t) => {
  const { db } = store(t);
  importDrivers(db, rows(FIRST), { mode: 'replace', source: 'first' });
  const before = listOf(db);
  const merge = rows('email,badge_ids\nd@x.com,D1\ne@x.com,"E1, b1"\n');
  for (const dryRun of [false, true]) {
    const error = t.throws(() => importDrivers(db, merge, { mode: 'merge', dryRun, source: 'second' }));
    t.ok(error instanceof DriverImportError, `dry run ${dryRun}: DriverImportError`);
    if (error instanceof DriverImportError) {
      t.same(error.problems.map((problem) => problem.line), [3]);
      t.match(error.problems[0]?.message, /badge "B1" belongs to b@x\.com, who is not in this file/);
    }
  }
  t.same(listOf(db), before, 'd@x.com was not added either');
  t.equal(readDriverListMeta(db)?.source, 'first');
});

t.test('atomic: a failure in the middle of the writes leaves the list as it was', async (t) => {
  const { db } = store(t);
  importDrivers(db, rows(FIRST), { mode: 'replace', source: 'first' });
  const before = listOf(db);
  // Unvalidated rows that give one badge to two drivers: the first driver is
  // written, then the second hits the badges primary key.
  const clash: DriverRow[] = [
    { email: 'p@x.com', line: 2, badges: [{ id: 'P1', line: 2 }, { id: 'SAME', line: 2 }] },
    { email: 'q@x.com', line: 3, badges: [{ id: 'SAME', line: 3 }] },
  ];
  t.throws(() => importDrivers(db, clash, { mode: 'replace', source: 'second' }), /UNIQUE constraint failed: badges\.badge_id/);
  t.same(listOf(db), before);
  t.equal(readDriverListMeta(db)?.source, 'first');
  t.equal(db.inTransaction, false, 'the transaction was rolled back, not left open');
});

t.test('a bad row in the file: nothing reaches the store', async (t) => {
  const { db } = store(t);
  importDrivers(db, rows(FIRST), { mode: 'replace', source: 'first' });
  const before = listOf(db);
  const bytes = Buffer.from('email,badge_ids\nz@x.com,Z1\nbroken,Z2\n');
  t.throws(() => importDrivers(db, parseDriverCsv(bytes).rows, { mode: 'replace', source: 'second' }), DriverImportError);
  t.same(listOf(db), before);
});

t.test('dry run: the same diff, nothing written', async (t) => {
  const { db } = store(t);
  importDrivers(db, rows(FIRST), { mode: 'replace', source: 'first' });
  const before = listOf(db);
  const meta = readDriverListMeta(db);
  const next = rows('email,badge_ids\na@x.com,A1\nd@x.com,D1\n');
  const dry = importDrivers(db, next, { mode: 'replace', dryRun: true, source: 'second' });
  t.same(listOf(db), before);
  t.same(readDriverListMeta(db), meta);
  const real = importDrivers(db, next, { mode: 'replace', source: 'second' });
  t.same({ ...dry, dryRun: false }, real, 'the dry run predicted the real import exactly');
  t.equal(dry.dryRun, true);
});

t.test('versions: an older or equal cloud version is ignored; a CLI import keeps the stored version', async (t) => {
  const { db } = store(t);
  t.equal(importDrivers(db, rows(FIRST), { mode: 'replace', source: 'cloud', version: 5 }).staleVersion, false);
  const older = importDrivers(db, rows('email,badge_ids\nx@x.com,X1\n'), { mode: 'replace', source: 'cloud', version: 5 });
  t.equal(older.staleVersion, true);
  t.equal(listOf(db).length, 3, 'equal version ignored');
  importDrivers(db, rows('email,badge_ids\ny@x.com,Y1\n'), { mode: 'replace', source: 'file:drivers.csv' });
  t.same(readDriverListMeta(db), { version: 5, source: 'file:drivers.csv', importedAt: readDriverListMeta(db)?.importedAt });
  t.equal(importDrivers(db, rows(FIRST), { mode: 'replace', source: 'cloud', version: 4 }).staleVersion, true, 'an older replay still cannot win');
  t.equal(importDrivers(db, rows(FIRST), { mode: 'replace', source: 'cloud', version: 6 }).staleVersion, false);
  t.equal(readDriverListMeta(db)?.version, 6);
  t.throws(() => importDrivers(db, rows(FIRST), { mode: 'replace', source: 'cloud', version: 1.5 }), RangeError);
});

t.test('a second connection (the daemon\'s) sees the new list as soon as the import commits', async (t) => {
  const { db, dataDir } = store(t);
  const daemon = openStore(dataDir);
  t.teardown(() => daemon.close());
  const directory = new SqliteDriverDirectory(daemon);
  t.equal(directory.lookup('A1'), undefined, 'empty before');
  importDrivers(db, rows(FIRST), { mode: 'replace', source: 'cli' });
  t.same(directory.lookup('a1'), { email: 'a@x.com', badgeId: 'A1' }, 'seen without reopening or re-preparing');
  importDrivers(db, rows('email,badge_ids\nz@x.com,A1\n'), { mode: 'replace', source: 'cli' });
  t.same(directory.lookup('A1'), { email: 'z@x.com', badgeId: 'A1' }, 'a moved badge');
  t.equal(directory.lookup('B1'), undefined, 'a removed badge');
});

t.test('100,000 drivers from a CSV: all imported, all found; a re-import changes nothing', async (t) => {
  const { db } = store(t);
  const count = 100_000;
  const lines = ['email;badge_ids'];
  for (let i = 1; i <= count; i++) lines.push(`driver-${i}@example.test;${syntheticBadgeId(i)}${i % 10 === 0 ? `, E${i}` : ''}`);
  const list = parseDriverCsv(Buffer.from(`${lines.join('\r\n')}\r\n`));
  t.equal(list.rows.length, count);
  const first = importDrivers(db, list.rows, { mode: 'replace', source: 'big' });
  t.equal(first.added.length, count);
  t.equal(first.drivers, count);
  t.equal(first.badges, count + count / 10);
  const directory = new SqliteDriverDirectory(db);
  t.equal(directory.list().length, count);
  for (const i of [1, 2, 4_999, 50_000, 99_999, count]) {
    t.same(directory.lookup(syntheticBadgeId(i).toLowerCase()), { email: `driver-${i}@example.test`, badgeId: syntheticBadgeId(i) });
  }
  t.same(directory.lookup('e100000'), { email: 'driver-100000@example.test', badgeId: 'E100000' });
  const again = importDrivers(db, list.rows, { mode: 'replace', source: 'big' });
  t.same({ added: again.added.length, removed: again.removed.length, changed: again.changed.length, unchanged: again.unchanged }, { added: 0, removed: 0, changed: 0, unchanged: count });
});

t.test('the bench seed: synthetic drivers and their badges, ready to look up', async (t) => {
  const { db } = store(t);
  const { directory, badgeIds } = seedSyntheticDriverList(db, 1_000);
  t.equal(badgeIds.length, 1_000);
  t.equal(new Set(badgeIds).size, 1_000, 'unique badges');
  t.same(directory.lookup(` ${badgeIds[500]?.toLowerCase()} `), { email: 'driver-000501@example.test', badgeId: badgeIds[500] });
});

// ---------------------------------------------------------------------------
// The cloud's replace-drivers: written in chunks into staging tables, swapped in at once.

function tablesOf(db: SqliteDatabase): string[] {
  return db.prepare<[], string>("SELECT name FROM sqlite_schema WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all();
}

t.test('staged replace: the same diff as the one-transaction import, and the same list', async (t) => {
  const a = store(t).db;
  const b = store(t).db;
  importDrivers(a, rows(FIRST), { mode: 'replace', source: 'first', version: 1 });
  importDrivers(b, rows(FIRST), { mode: 'replace', source: 'first', version: 1 });
  // a unchanged (badge order), b changed, c removed, d added, and C1 moves from the removed c to d.
  const next = rows('email,badge_ids\na@x.com,"a2,a1"\nb@x.com,"B1,B2"\nd@x.com,"D1,C1"\n');
  const expected = importDrivers(a, next, { mode: 'replace', source: 'cloud', version: 2, now: new Date('2026-02-03T04:05:06Z') });
  const staged = await replaceDriverListInChunks(b, next, { source: 'cloud', version: 2, now: new Date('2026-02-03T04:05:06Z'), chunkDrivers: 1 });
  t.same(staged, expected);
  t.same(listOf(b), listOf(a));
  t.same(readDriverListMeta(b), readDriverListMeta(a));
  t.same(tablesOf(b), tablesOf(a).map((name) => (name === 'badges_by_email' ? 'badges_by_email_swap' : name)), 'no staging or old table left; the index took the other name');
  // And back: the index names alternate, a third import works on the swapped schema.
  const third = await replaceDriverListInChunks(b, rows('email,badge_ids\ne@x.com,E1\n'), { source: 'cloud', version: 3, chunkDrivers: 2 });
  t.match(third, { added: ['e@x.com'], removed: ['a@x.com', 'b@x.com', 'd@x.com'], changed: [], unchanged: 0, drivers: 1, badges: 1 });
  t.same(tablesOf(b), tablesOf(a));
  t.same(new SqliteDriverDirectory(b).lookup('e1'), { email: 'e@x.com', badgeId: 'E1' });
  t.same(b.pragma('foreign_key_check'), [], 'badges reference the live drivers table');
});

t.test('staged replace: a reader sees the old list until the swap, then the whole new one', async (t) => {
  const { db, dataDir } = store(t);
  importDrivers(db, rows(FIRST), { mode: 'replace', source: 'first', version: 1 });
  const daemon = openStore(dataDir);
  t.teardown(() => daemon.close());
  const other = new SqliteDriverDirectory(daemon);
  const same = new SqliteDriverDirectory(db);
  const next = syntheticDriverRows(5_000);
  const seen: Array<[boolean, boolean, boolean, boolean]> = [];
  let done = false;
  const watch = (async () => {
    while (!done) {
      seen.push([other.lookup('A1') !== undefined, other.lookup(syntheticBadgeId(1)) !== undefined, same.lookup('A1') !== undefined, same.lookup(syntheticBadgeId(5_000)) !== undefined]);
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  const result = await replaceDriverListInChunks(db, next, { source: 'cloud', version: 2, chunkDrivers: 500 });
  done = true;
  await watch;
  t.match(result, { added: { length: 5_000 }, removed: ['a@x.com', 'b@x.com', 'c@x.com'], drivers: 5_000, badges: 5_000 });
  t.ok(seen.length >= 10, `looked ${seen.length} times during the import`);
  t.same(seen.filter(([oldOther, newOther, oldSame, newSame]) => oldOther === newOther || oldSame === newSame), [], 'never both lists, never neither');
  t.same(other.lookup(syntheticBadgeId(1)), { email: next[0]?.email, badgeId: syntheticBadgeId(1) }, 'statements prepared before the swap read the new tables');
});

t.test('staged replace: a failure in a later chunk leaves the old list and no staging table', async (t) => {
  const { db } = store(t);
  importDrivers(db, rows(FIRST), { mode: 'replace', source: 'first', version: 1 });
  const before = listOf(db);
  const tables = tablesOf(db);
  // Unvalidated rows: the clash is only found in the third chunk, after two were written.
  const clash: DriverRow[] = [
    { email: 'p@x.com', line: 2, badges: [{ id: 'P1', line: 2 }] },
    { email: 'q@x.com', line: 3, badges: [{ id: 'Q1', line: 3 }] },
    { email: 'r@x.com', line: 4, badges: [{ id: 'P1', line: 4 }] },
  ];
  await t.rejects(replaceDriverListInChunks(db, clash, { source: 'second', version: 2, chunkDrivers: 1 }), /UNIQUE constraint failed: badges_staging\.badge_id/);
  t.same(listOf(db), before);
  t.same(readDriverListMeta(db), { version: 1, source: 'first', importedAt: readDriverListMeta(db)?.importedAt });
  t.same(tablesOf(db), tables, 'staging dropped');
  t.equal(db.inTransaction, false);
  // What a crash in the middle leaves behind is cleared by the next import.
  db.exec('CREATE TABLE drivers_staging (email TEXT PRIMARY KEY, updated_at TEXT NOT NULL) STRICT; INSERT INTO drivers_staging VALUES (\'ghost@x.com\', \'x\')');
  const next = await replaceDriverListInChunks(db, rows('email,badge_ids\nz@x.com,Z1\n'), { source: 'second', version: 2 });
  t.same(next.added, ['z@x.com']);
  t.same(listOf(db), [{ email: 'z@x.com', badgeIds: ['Z1'] }]);
});

t.test('staged replace: a version not newer than the stored one writes nothing', async (t) => {
  const { db } = store(t);
  importDrivers(db, rows(FIRST), { mode: 'replace', source: 'first', version: 4 });
  const tables = tablesOf(db);
  t.same(await replaceDriverListInChunks(db, rows('email,badge_ids\nz@x.com,Z1\n'), { source: 'cloud', version: 4 }), {
    added: [], removed: [], changed: [], unchanged: 0, drivers: 0, badges: 0, dryRun: false, staleVersion: true,
  });
  t.equal(listOf(db).length, 3);
  t.same(tablesOf(db), tables);
  await t.rejects(replaceDriverListInChunks(db, [], { source: 'cloud', version: 1.5 }), RangeError);
  // An empty list, on purpose (the cloud's "drivers": []): everyone removed.
  t.match(await replaceDriverListInChunks(db, [], { source: 'cloud', version: 5 }), { removed: ['a@x.com', 'b@x.com', 'c@x.com'], drivers: 0, badges: 0 });
  t.same(listOf(db), []);
});

t.test('staged replace: another connection holding the write lock makes it fail as storage unavailable, the old list intact', async (t) => {
  const { db, dataDir } = store(t);
  importDrivers(db, rows(FIRST), { mode: 'replace', source: 'first', version: 1 });
  db.pragma('busy_timeout = 50');
  const cli = openStore(dataDir);
  t.teardown(() => cli.close());
  cli.exec('BEGIN IMMEDIATE');
  const error = await replaceDriverListInChunks(db, rows('email,badge_ids\nz@x.com,Z1\n'), { source: 'cloud', version: 2 }).then(
    () => undefined,
    (failure: unknown) => failure,
  );
  cli.exec('ROLLBACK');
  t.ok(isStorageUnavailable(error), 'SQLITE_BUSY: acked storage_unavailable, retried by the cloud');
  t.equal(listOf(db).length, 3);
  t.same(await replaceDriverListInChunks(db, rows('email,badge_ids\nz@x.com,Z1\n'), { source: 'cloud', version: 2 }).then((result) => result.added), ['z@x.com'], 'runs once the lock is free');
});
