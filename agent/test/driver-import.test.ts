import t, { type Test } from 'tap';
import { parseDriverCsv, type DriverRow } from '../src/drivers/driver-csv.js';
import { DriverImportError } from '../src/drivers/driver-import-error.js';
import {
  importDrivers,
  readDriverListMeta,
  seedSyntheticDriverList,
  SqliteDriverDirectory,
  syntheticBadgeId,
  type DriverListing,
} from '../src/drivers/driver-list-store.js';
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
