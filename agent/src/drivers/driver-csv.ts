/**
 * The driver CSV of docs/drivers.md "The file" to a
 * validated driver list. Every problem in the file is collected in one pass,
 * each with the line where its record starts, so an installer fixes the file
 * in one round; any problem refuses the whole file (DriverImportError).
 * docs/drivers.md is the user-facing description of these rules.
 */
import { readCsvBytes, readCsvText, type CsvDelimiter, type CsvReadResult, type CsvRecord } from './csv-reader.js';
import { normalizeBadge } from './driver-directory.js';
import { DriverImportError, type DriverListProblem } from './driver-import-error.js';

/** OCPP 1.6 IdToken is CiString20Type (section 7.28; maxLength 20 in the JSON schemas). */
export const OCPP16_ID_TAG_MAX = 20;
/** OCPP 2.0.1 IdTokenType.idToken is string[0..36] (Part 2, IdTokenType; maxLength 36 in the JSON schemas). */
export const OCPP201_ID_TOKEN_MAX = 36;
/** RFC 5321: a forward-path holds at most 256 octets, so an address at most 254. */
const EMAIL_MAX = 254;

/**
 * Accepted header names, compared after `headerKey` (trimmed, lower case,
 * runs of blanks and underscores read as one space). Documented in
 * docs/drivers.md; add here and there together.
 */
export const EMAIL_HEADERS: readonly string[] = ['email', 'e-mail', 'email address', 'e-mail address'];
export const BADGE_HEADERS: readonly string[] = ['badge ids', 'badge id(s)', 'badge id', 'badges', 'badge', 'badgeids', 'badgeid'];

// Pragmatic, not RFC 5322: one @, no blanks, no characters that only appear
// when a display name or a list was pasted in ("Jo <jo@x.com>", "a@x.com; b@x.com"),
// and a dotted domain. Non-ASCII letters pass (internationalised addresses).
const EMAIL_PATTERN = /^[^\s@<>()[\],;:"]+@(?:[^\s@<>()[\],;:".]+\.)+[^\s@<>()[\],;:".]{2,}$/u;
// Badge separators inside one field: the comma of the contract, plus `;` and
// a line break (Alt+Enter in a spreadsheet cell), which nobody puts inside a
// badge id but people do use to list them. Blanks are not separators: see
// `checkBadge`.
const BADGE_SEPARATORS = /[,;\r\n]+/;
// Control characters (C0, DEL, C1) and the bidi formatting characters
// (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069): invisible in a
// spreadsheet, and in a terminal they rewrite or reorder what is shown. An
// email or badge stored with one would reach the cloud and every listing.
const CONTROL_OR_BIDI = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
const BLANK = /\s/u;
const SURROGATE = /[\uD800-\uDFFF]/;

export interface DriverBadge {
  /** Normalized (`normalizeBadge`), as stored and compared. */
  readonly id: string;
  /** Line of the record that listed it (a driver merged from several rows has badges from several lines). */
  readonly line: number;
}

export interface DriverRow {
  /** Trimmed and lower-cased: the driver's key. */
  readonly email: string;
  /** The first line that named this driver. */
  readonly line: number;
  /** At least one, no two alike. */
  readonly badges: readonly DriverBadge[];
}

export interface DriverList {
  /** In file order of each driver's first row. */
  readonly rows: readonly DriverRow[];
  readonly warnings: readonly DriverListProblem[];
}

/** One driver as written, before validation: a CSV record or an entry of the cloud's JSON list. */
export interface DriverEntry {
  readonly line: number;
  readonly email: string;
  /** As written; blanks around each are ignored and empty ones dropped. */
  readonly badgeIds: readonly string[];
}

/** Bytes of a driver CSV file to a validated list. Throws DriverImportError with every problem. */
export function parseDriverCsv(bytes: Uint8Array): DriverList {
  return driversFromCsv(readCsvBytes(bytes));
}

/** The same for CSV already decoded (the `csv` form of the cloud's `replace-drivers`). */
export function parseDriverCsvText(text: string): DriverList {
  return driversFromCsv(readCsvText(text));
}

/**
 * Apply the docs/drivers.md "The file" rules to entries from any source (the CSV
 * reader here, the cloud's `{"drivers":[{"email","badgeIds"}]}`). Throws
 * DriverImportError with every problem.
 */
export function validateDriverEntries(entries: readonly DriverEntry[]): DriverList {
  const checked = checkEntries(entries);
  if (checked.problems.length > 0) throw new DriverImportError(checked.problems, checked.warnings);
  return { rows: checked.rows, warnings: checked.warnings };
}

/** A badge field to its badge ids: `"B1, B2"`, `B1;B2` and one per line all give two. */
export function splitBadgeField(field: string): string[] {
  return field
    .split(BADGE_SEPARATORS)
    .map((badge) => badge.trim())
    .filter((badge) => badge !== '');
}

function driversFromCsv(read: CsvReadResult): DriverList {
  const problems: DriverListProblem[] = [...read.problems];
  const warnings: DriverListProblem[] = [];
  const [header, ...records] = read.records;
  if (header === undefined) {
    if (problems.length === 0) problems.push({ line: 1, message: 'the file is empty: expected a header line "email,badge_ids" and one line per driver' });
    throw new DriverImportError(problems);
  }
  const columns = mapColumns(header, read.delimiter, problems, warnings);
  if (columns === undefined) throw new DriverImportError(byLine(problems), byLine(warnings));

  const entries: DriverEntry[] = [];
  for (const record of records) {
    if (record.fields.every((field) => field.trim() === '')) continue;
    const extra = record.fields.slice(header.fields.length);
    if (extra.some((field) => field.trim() !== '')) {
      problems.push({ line: record.line, message: tooManyFields(record, header, read.delimiter) });
      continue;
    }
    entries.push({
      line: record.line,
      email: record.fields[columns.email] ?? '',
      badgeIds: splitBadgeField(record.fields[columns.badges] ?? ''),
    });
  }
  if (entries.length === 0 && problems.length === 0) {
    problems.push({ line: header.line, message: 'no drivers after the header; an import replaces the whole list, so an empty file is refused' });
  }
  const checked = checkEntries(entries);
  // concat, not push(...list): a spread passes every element as a call argument and overflows the stack past about 120,000 (a large file where every line is wrong).
  const allProblems = problems.concat(checked.problems);
  const allWarnings = warnings.concat(checked.warnings);
  if (allProblems.length > 0) throw new DriverImportError(byLine(allProblems), byLine(allWarnings));
  return { rows: checked.rows, warnings: byLine(allWarnings) };
}

interface Columns {
  readonly email: number;
  readonly badges: number;
}

/** Find the two columns; other named columns (a name, a note) are ignored with a warning so a typo is noticed. */
function mapColumns(header: CsvRecord, delimiter: CsvDelimiter, problems: DriverListProblem[], warnings: DriverListProblem[]): Columns | undefined {
  const emails: number[] = [];
  const badges: number[] = [];
  header.fields.forEach((name, column) => {
    const key = headerKey(name);
    if (EMAIL_HEADERS.includes(key)) emails.push(column);
    else if (BADGE_HEADERS.includes(key)) badges.push(column);
    else if (key !== '') warnings.push({ line: header.line, message: `column "${name.trim()}" ignored` });
  });
  const found = header.fields.map((name) => `"${name.trim()}"`).join(', ');
  const looksLikeData = header.fields.some((field) => field.includes('@'));
  const before = problems.length;
  if (emails.length === 0 || badges.length === 0) {
    const missing = [emails.length === 0 ? '"email"' : '', badges.length === 0 ? '"badge_ids"' : ''].filter(Boolean).join(' and ');
    const hint = looksLikeData
      ? 'the first line must be the header, e.g. email,badge_ids'
      : `found ${found} (separated by "${delimiterName(delimiter)}")`;
    problems.push({ line: header.line, message: `missing header ${missing}: ${hint}` });
  }
  if (emails.length > 1) problems.push({ line: header.line, message: `${emails.length} email columns (${columnList(emails)}); keep one` });
  if (badges.length > 1) problems.push({ line: header.line, message: `${badges.length} badge columns (${columnList(badges)}); put every badge of a driver in one field` });
  const [email] = emails;
  const [badge] = badges;
  if (problems.length > before || email === undefined || badge === undefined) return undefined;
  return { email, badges: badge };
}

function headerKey(name: string): string {
  return name.trim().toLowerCase().replace(/[\s_]+/g, ' ');
}

function columnList(columns: readonly number[]): string {
  return columns.map((column) => `column ${column + 1}`).join(', ');
}

function delimiterName(delimiter: CsvDelimiter): string {
  return delimiter === '\t' ? 'tab' : delimiter;
}

function tooManyFields(record: CsvRecord, header: CsvRecord, delimiter: CsvDelimiter): string {
  const counts = `${record.fields.length} fields but the header has ${header.fields.length} columns`;
  // The classic: a comma file with `a@x.com,B1, B2` unquoted.
  if (delimiter === ',') return `${counts}; several badges in one field must be quoted: "B1, B2"`;
  return `${counts}; a field holding "${delimiter}" must be quoted`;
}

interface CheckedEntries {
  readonly rows: DriverRow[];
  readonly problems: DriverListProblem[];
  readonly warnings: DriverListProblem[];
}

interface DriverBuilder {
  readonly email: string;
  readonly line: number;
  readonly badges: Map<string, DriverBadge>;
}

/**
 * The rules, all in one pass. The same email on several rows is one driver
 * with the badges of all those rows (a "one row per badge" export is common);
 * the same badge twice for one driver is kept once; a badge on two drivers is
 * refused on the later line, naming the earlier one.
 */
function checkEntries(entries: readonly DriverEntry[]): CheckedEntries {
  const checker = new EntryChecker();
  for (const entry of entries) checker.add(entry);
  return checker.result();
}

/** Entries checked between two turns of the event loop by `validateDriverEntriesInSlices`. */
const ENTRIES_PER_SLICE = 5_000;

/**
 * `validateDriverEntries` for the daemon: the same rules, checked a slice of
 * entries at a time with a turn of the event loop between slices, so a
 * cloud `replace-drivers` of 100,000 drivers never holds the station relay
 * for the whole check (issue 8 item 16; about 0.4 s in one go on the dev VM).
 */
export async function validateDriverEntriesInSlices(entries: readonly DriverEntry[], entriesPerSlice = ENTRIES_PER_SLICE): Promise<DriverList> {
  const checker = new EntryChecker();
  for (let from = 0; from < entries.length; from += entriesPerSlice) {
    if (from > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const to = Math.min(entries.length, from + entriesPerSlice);
    for (let index = from; index < to; index += 1) checker.add(entries[index] as DriverEntry);
  }
  const checked = checker.result();
  if (checked.problems.length > 0) throw new DriverImportError(checked.problems, checked.warnings);
  return { rows: checked.rows, warnings: checked.warnings };
}

/** The driver list rules, one entry at a time: the state that spans entries (who owns which badge) lives here. */
class EntryChecker {
  private readonly problems: DriverListProblem[] = [];
  private readonly warnings: DriverListProblem[] = [];
  private readonly drivers = new Map<string, DriverBuilder>();
  private readonly owners = new Map<string, { readonly email: string; readonly line: number }>();

  add(entry: DriverEntry): void {
    const { problems, warnings, drivers, owners } = this;
    const email = entry.email.trim().toLowerCase();
    const emailProblem = checkEmail(entry.email.trim());
    if (emailProblem !== undefined) problems.push({ line: entry.line, message: emailProblem });
    const badges = entry.badgeIds.map((badge) => badge.trim()).filter((badge) => badge !== '');
    if (badges.length === 0) {
      problems.push({ line: entry.line, message: `no badge id${email === '' ? '' : ` for ${email}`} (the badge_ids field is empty)` });
    }
    let driver = drivers.get(email);
    if (driver === undefined) {
      driver = { email, line: entry.line, badges: new Map() };
      drivers.set(email, driver);
    }
    for (const badge of badges) {
      const problem = checkBadge(badge);
      if (problem !== undefined) {
        problems.push({ line: entry.line, message: problem });
        continue;
      }
      const length = characterCount(badge);
      if (length > OCPP16_ID_TAG_MAX) {
        warnings.push({
          line: entry.line,
          message: `badge "${badge}" has ${length} characters: usable only on OCPP 2.0.1 stations (an OCPP 1.6 idTag has at most ${OCPP16_ID_TAG_MAX})`,
        });
      }
      const id = normalizeBadge(badge);
      const owner = owners.get(id);
      if (owner !== undefined && owner.email !== email) {
        problems.push({ line: entry.line, message: `badge "${badge}" is also on line ${owner.line} (${owner.email}); a badge belongs to one driver` });
        continue;
      }
      if (owner === undefined) owners.set(id, { email, line: entry.line });
      if (!driver.badges.has(id)) driver.badges.set(id, { id, line: entry.line });
    }
  }

  result(): CheckedEntries {
    const rows = [...this.drivers.values()].map((driver) => ({ email: driver.email, line: driver.line, badges: [...driver.badges.values()] }));
    return { rows, problems: this.problems, warnings: this.warnings };
  }
}

function checkEmail(email: string): string | undefined {
  if (email === '') return 'email is empty';
  if (email.length > EMAIL_MAX) return `email has ${email.length} characters; an address has at most ${EMAIL_MAX}`;
  if (CONTROL_OR_BIDI.test(email)) return `"${email}" contains a control or bidi formatting character`;
  if (!EMAIL_PATTERN.test(email)) return `"${email}" is not an email address`;
  return undefined;
}

function checkBadge(badge: string): string | undefined {
  const length = characterCount(badge);
  if (length > OCPP201_ID_TOKEN_MAX) {
    return `badge "${badge}" has ${length} characters; OCPP allows at most ${OCPP201_ID_TOKEN_MAX} (2.0.1 idToken; ${OCPP16_ID_TAG_MAX} for a 1.6 idTag)`;
  }
  // A blank inside is almost always two badges written "B1 B2": refusing is
  // safer than guessing, since a wrong guess silently fails to identify anyone.
  if (BLANK.test(badge) || CONTROL_OR_BIDI.test(badge)) return `badge "${badge}" contains a blank or control character; separate several badges with commas`;
  return undefined;
}

/** Characters as OCPP's JSON schemas count them (code points); a badge is almost always ASCII, so skip the split then. */
function characterCount(text: string): number {
  return SURROGATE.test(text) ? [...text].length : text.length;
}

function byLine(problems: readonly DriverListProblem[]): DriverListProblem[] {
  // Array.prototype.sort is stable, so problems on one line keep their order.
  return [...problems].sort((a, b) => a.line - b.line);
}
