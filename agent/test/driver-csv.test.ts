import t, { type Test } from 'tap';
import { readCsvBytes, readCsvText } from '../src/drivers/csv-reader.js';
import { parseDriverCsv, parseDriverCsvText, splitBadgeField, validateDriverEntries, validateDriverEntriesInSlices, type DriverList } from '../src/drivers/driver-csv.js';
import { DriverImportError, type DriverListProblem } from '../src/drivers/driver-import-error.js';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

function csv(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

/** The rows as plain data: email -> badge ids. */
function drivers(list: DriverList): Record<string, string[]> {
  return Object.fromEntries(list.rows.map((row) => [row.email, row.badges.map((badge) => badge.id)]));
}

/** The problems of a refused file; fails the test when the file was accepted. */
function problemsOf(t: Test, bytes: Uint8Array): DriverListProblem[] {
  try {
    parseDriverCsv(bytes);
  } catch (error: unknown) {
    if (error instanceof DriverImportError) {
      t.equal(error.code, 'PE_ERR_DRIVER_CSV');
      return [...error.problems];
    }
    throw error;
  }
  t.fail('the file was accepted');
  return [];
}

t.test('the onboarding guide example: BOM, semicolons, CRLF, "Badge ID(s)", several badges in one field', async (t) => {
  const bytes = Buffer.concat([BOM, csv('Email;Badge ID(s)\r\njohn.doe@example.com;BADGE001, BADGE002\r\njane.smith@example.com;BADGE003\r\n')]);
  const list = parseDriverCsv(bytes);
  t.same(drivers(list), { 'john.doe@example.com': ['BADGE001', 'BADGE002'], 'jane.smith@example.com': ['BADGE003'] });
  t.same(list.rows.map((row) => row.line), [2, 3]);
  t.same(list.warnings, []);
});

t.test('comma file: a quoted field holds several badges; badges are normalized', async (t) => {
  const list = parseDriverCsv(csv('email,badge_ids\nJohn.Doe@Example.com," badge001 ,Badge002,"\n'));
  t.same(drivers(list), { 'john.doe@example.com': ['BADGE001', 'BADGE002'] }, 'email lower-cased, badges trimmed and upper-cased, empty piece dropped');
});

t.test('badges separated by ; or one per line inside a cell count as several', async (t) => {
  t.same(splitBadgeField('B1;B2\r\nB3\nB4, B5'), ['B1', 'B2', 'B3', 'B4', 'B5']);
  const list = parseDriverCsv(csv('email,badge_ids\na@x.com,"B1;B2"\nb@x.com,"B3\r\nB4"\nc@x.com,B5\n'));
  t.same(drivers(list), { 'a@x.com': ['B1', 'B2'], 'b@x.com': ['B3', 'B4'], 'c@x.com': ['B5'] });
  t.same(list.rows.map((row) => row.line), [2, 3, 5], 'the record after a two-line cell starts on line 5');
});

t.test('RFC 4180 quoting: doubled quotes, delimiters and line breaks inside quotes; blanks around quotes', async (t) => {
  const read = readCsvText('a,b,c\r\n"x ""quoted"", y","line\r\nbreak",  "padded"  \r\nlast,"",\n');
  t.equal(read.delimiter, ',');
  t.same(read.problems, []);
  t.same(read.records, [
    { line: 1, fields: ['a', 'b', 'c'] },
    { line: 2, fields: ['x "quoted", y', 'line\r\nbreak', 'padded'] },
    { line: 4, fields: ['last', '', ''] },
  ]);
});

t.test('a quote inside an unquoted field is an ordinary character', async (t) => {
  t.same(readCsvText('a,b\nx"y,z\n').records[1], { line: 2, fields: ['x"y', 'z'] });
});

t.test('LF, CRLF and lone CR line endings; blank lines skipped but counted', async (t) => {
  for (const [name, eol] of [['LF', '\n'], ['CRLF', '\r\n'], ['CR', '\r']] as const) {
    const read = readCsvText(['email,badge_ids', 'a@x.com,B1', '', 'b@x.com,B2', ''].join(eol));
    t.same(
      read.records.map((record) => record.line),
      [1, 2, 4],
      name,
    );
  }
});

t.test('the delimiter comes from the header line', async (t) => {
  t.equal(readCsvText('email;badge_ids\na@x.com;"B1,B2"\n').delimiter, ';');
  t.equal(readCsvText('email,badge_ids\na@x.com,"B1;B2;B3"\n').delimiter, ',', 'semicolons in data do not count');
  t.equal(readCsvText('"e;mail",badge_ids\n').delimiter, ',', 'semicolons inside a quoted header name do not count');
  t.equal(readCsvText('email\tbadge_ids\n').delimiter, '\t');
  t.equal(readCsvText('email\n').delimiter, ',', 'one column: comma');
  t.equal(readCsvText('\n\nemail;badge_ids\n').delimiter, ';', 'leading blank lines skipped');
  const list = parseDriverCsv(csv('email\tbadge_ids\na@x.com\tB1, B2\n'));
  t.same(drivers(list), { 'a@x.com': ['B1', 'B2'] }, 'a tab-separated export works too');
});

t.test('header names: case-insensitive, with aliases; other columns ignored with a warning', async (t) => {
  const emailNames = ['email', 'EMAIL', ' Email ', 'E-mail', 'email address', 'Email_Address'];
  const badgeNames = ['badge_ids', 'Badge ID(s)', 'badge ids', 'BADGE_ID', 'badge id', 'badges', 'Badge', 'badgeIds', 'badge_id(s)'];
  for (const email of emailNames) {
    for (const badge of badgeNames) {
      const list = parseDriverCsv(csv(`"${email}",${badge}\na@x.com,B1\n`));
      t.same(drivers(list), { 'a@x.com': ['B1'] }, `${email} / ${badge}`);
    }
  }
  const list = parseDriverCsv(csv('Name,badge_ids,Notes,email,\nJo,B1,"likes, commas",jo@x.com,\n'));
  t.same(drivers(list), { 'jo@x.com': ['B1'] }, 'columns in any order');
  t.same(list.warnings, [
    { line: 1, message: 'column "Name" ignored' },
    { line: 1, message: 'column "Notes" ignored' },
  ]);
});

t.test('the same email on several rows is one driver with every badge; a repeated badge is kept once', async (t) => {
  const list = parseDriverCsv(csv('email,badge_ids\na@x.com,B1\nb@x.com,B9\nA@X.COM,"B2, b1"\n'));
  t.same(drivers(list), { 'a@x.com': ['B1', 'B2'], 'b@x.com': ['B9'] });
  t.same(list.rows[0]?.badges, [
    { id: 'B1', line: 2 },
    { id: 'B2', line: 4 },
  ]);
});

t.test('rows of empty cells (spreadsheet leftovers) and trailing empty fields are ignored', async (t) => {
  const list = parseDriverCsv(csv('email;badge_ids;;\na@x.com;B1;;\n;;;\n ; \n'));
  t.same(drivers(list), { 'a@x.com': ['B1'] });
});

t.test('badges of 21 to 36 characters are accepted with a warning; longer ones refused', async (t) => {
  const b21 = 'A'.repeat(21);
  const b36 = 'B'.repeat(36);
  const list = parseDriverCsv(csv(`email,badge_ids\na@x.com,${'C'.repeat(20)}\nb@x.com,"${b21}, ${b36}"\n`));
  t.equal(list.rows.length, 2);
  t.same(list.warnings.map((warning) => warning.line), [3, 3]);
  t.match(list.warnings[0]?.message, /21 characters: usable only on OCPP 2\.0\.1 stations/);
  t.same(problemsOf(t, csv(`email,badge_ids\na@x.com,${'D'.repeat(37)}\n`)), [
    { line: 2, message: `badge "${'D'.repeat(37)}" has 37 characters; OCPP allows at most 36 (2.0.1 idToken; 20 for a 1.6 idTag)` },
  ]);
});

t.test('each rejection names its line', async (t) => {
  const cases: Array<[string, string, number, RegExp]> = [
    ['bad email', 'email,badge_ids\na@x.com,B1\nnot-an-email,B2\n', 3, /"not-an-email" is not an email address/],
    ['display name pasted', 'email,badge_ids\n"Jo <jo@x.com>",B2\n', 2, /is not an email address/],
    ['empty email', 'email,badge_ids\n,B2\n', 2, /email is empty/],
    ['empty badge list', 'email,badge_ids\na@x.com,B1\nb@x.com," , "\n', 3, /no badge id for b@x\.com/],
    ['missing badge field', 'email,badge_ids\na@x.com\n', 2, /no badge id for a@x\.com/],
    ['blank inside a badge', 'email,badge_ids\na@x.com,B1 B2\n', 2, /badge "B1 B2" contains a blank/],
    ['unquoted badges in a comma file', 'email,badge_ids\na@x.com,B1\nb@x.com,B2, B3\n', 3, /3 fields but the header has 2 columns; several badges in one field must be quoted/],
    ['unterminated quote', 'email,badge_ids\na@x.com,B1\nb@x.com,"B2\nc@x.com,B3\n', 3, /quoted field opened on this line is never closed/],
    ['text after a closing quote', 'email,badge_ids\na@x.com,"B1"x\n', 2, /text after the closing quote/],
    ['header only', 'email,badge_ids\r\n\r\n', 1, /no drivers after the header/],
  ];
  for (const [name, text, line, message] of cases) {
    const problems = problemsOf(t, csv(text));
    t.equal(problems.length, 1, `${name}: one problem`);
    t.equal(problems[0]?.line, line, `${name}: line ${line}`);
    t.match(problems[0]?.message, message, name);
  }
});

t.test('one badge on two drivers: refused on the later line, naming the earlier one (case and blanks ignored)', async (t) => {
  const problems = problemsOf(t, csv('email,badge_ids\na@x.com,B1\nb@x.com,B2\nc@x.com," b1 "\n'));
  t.same(problems, [{ line: 4, message: 'badge "b1" is also on line 2 (a@x.com); a badge belongs to one driver' }]);
});

t.test('missing header', async (t) => {
  t.same(problemsOf(t, csv('a@x.com,B1\nb@x.com,B2\n')), [
    { line: 1, message: 'missing header "email" and "badge_ids": the first line must be the header, e.g. email,badge_ids' },
  ]);
  t.same(problemsOf(t, csv('mail;tags\na@x.com;B1\n')), [{ line: 1, message: 'missing header "email" and "badge_ids": found "mail", "tags" (separated by ";")' }]);
  t.same(problemsOf(t, csv('email,name\na@x.com,Jo\n')), [{ line: 1, message: 'missing header "badge_ids": found "email", "name" (separated by ",")' }]);
  t.same(problemsOf(t, csv('email,badges,badge_ids\n')), [{ line: 1, message: '2 badge columns (column 2, column 3); put every badge of a driver in one field' }]);
});

t.test('empty file: zero bytes, a BOM alone, blank lines', async (t) => {
  for (const bytes of [Buffer.alloc(0), BOM, csv('\r\n\r\n')]) {
    t.same(problemsOf(t, bytes), [{ line: 1, message: 'the file is empty: expected a header line "email,badge_ids" and one line per driver' }]);
  }
});

t.test('not UTF-8: every offending line is named; UTF-16 is recognised', async (t) => {
  // "jérôme" and "bé" in Windows-1252 / Latin-1.
  const latin1 = Buffer.concat([csv('email,badge_ids\nj'), Buffer.from([0xe9]), csv('r'), Buffer.from([0xf4]), csv('me@x.com,B1\r\nok@x.com,B2\r\nb'), Buffer.from([0xe9]), csv('@x.com,B3\n')]);
  const problems = problemsOf(t, latin1);
  t.same(problems.map((problem) => problem.line), [2, 4]);
  t.match(problems[0]?.message, /not valid UTF-8 \(save the file as UTF-8/);
  t.same(readCsvBytes(latin1).records, [], 'nothing is read from a file that is not UTF-8');

  const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('email,badge_ids\n', 'utf16le')]);
  t.same(problemsOf(t, utf16), [{ line: 1, message: 'the file is UTF-16 (Excel "Unicode Text"), not UTF-8: save it as "CSV UTF-8"' }]);

  const accents = parseDriverCsv(csv('email,badge_ids\njérôme@exemple.fr,B1\n'));
  t.same(drivers(accents), { 'jérôme@exemple.fr': ['B1'] }, 'real UTF-8 with accents is fine');
});

t.test('every problem of a file in one run, in line order', async (t) => {
  const text = [
    'email;badge_ids',
    'ok@x.com;B1',
    'bad;B2', // 3: bad email
    'empty@x.com;', // 4: no badge
    `long@x.com;${'L'.repeat(40)}`, // 5: too long
    'dup@x.com;b1', // 6: B1 already on line 2
    '"quoted"x;B7', // 7: text after closing quote
    ';B8', // 8: empty email
    '',
  ].join('\r\n');
  const problems = problemsOf(t, csv(text));
  t.same(problems.map((problem) => problem.line), [3, 4, 5, 6, 7, 8]);
});

t.test('a row with a bad email still claims its badges, so a duplicate of one is reported too', async (t) => {
  const problems = problemsOf(t, csv('email,badge_ids\nnope,B1\nb@x.com,B1\n'));
  t.same(problems.map((problem) => problem.line), [2, 3], 'both the bad email and the duplicate are reported');
});

t.test('validateDriverEntries applies the same rules to a list from the cloud', async (t) => {
  const list = validateDriverEntries([
    { line: 1, email: 'A@x.com', badgeIds: ['b1', ' B2 '] },
    { line: 2, email: 'c@x.com', badgeIds: ['B3'] },
  ]);
  t.same(drivers(list), { 'a@x.com': ['B1', 'B2'], 'c@x.com': ['B3'] });
  t.throws(() => validateDriverEntries([{ line: 1, email: 'a@x.com', badgeIds: [] }]), DriverImportError);
  t.same(drivers(parseDriverCsvText('\ufeffemail,badge_ids\na@x.com,B1\n')), { 'a@x.com': ['B1'] }, 'CSV text with a BOM character');
});

t.test('issue 8.16: the daemon checks a large list in slices, with the event loop running between them, and finds the same', async (t) => {
  const entries = Array.from({ length: 1_000 }, (_, index) => ({ line: index + 1, email: `d${index}@x.com`, badgeIds: [`B${index}`] }));
  // A badge claimed again three slices later, and a bad email: the rules that span entries hold across slices.
  entries.push({ line: 1_001, email: 'late@x.com', badgeIds: ['b5'] }, { line: 1_002, email: 'nope', badgeIds: ['B-NEW'] });
  let turns = 0;
  const ticking = setInterval(() => (turns += 1), 0);
  const sliced = await validateDriverEntriesInSlices(entries, 100).catch((error: unknown) => error);
  clearInterval(ticking);
  const whole = (() => {
    try {
      return validateDriverEntries(entries);
    } catch (error: unknown) {
      return error;
    }
  })();
  t.ok(sliced instanceof DriverImportError && whole instanceof DriverImportError, 'both refuse the list');
  t.same((sliced as DriverImportError).problems, (whole as DriverImportError).problems, 'with the same problems');
  t.match((sliced as DriverImportError).problems, [{ line: 1_001, message: /also on line 6/ }, { line: 1_002, message: /not an email/ }]);
  t.ok(turns > 0, `timers ran between the slices (${turns})`);
  const clean = await validateDriverEntriesInSlices(entries.slice(0, 1_000), 100);
  t.same(clean, validateDriverEntries(entries.slice(0, 1_000)), 'a clean list gives the same rows and warnings');
});
