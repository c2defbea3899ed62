/**
 * RFC 4180 CSV, read the way spreadsheet exports actually arrive: UTF-8 with
 * or without a byte-order mark, CRLF or LF (a lone CR, as old Mac exports
 * write, too), comma- or semicolon-separated (European Excel writes `;`
 * because `,` is their decimal separator), quoted fields with `""` for a
 * quote and line breaks or delimiters inside. Written here rather than taken
 * from a package: the whole format is this page, and the gateway needs the
 * physical line of every record for its error messages.
 *
 * Leniencies beyond RFC 4180, each what a hand-edited file needs:
 * - blanks before an opening quote or after a closing one are ignored
 *   (`a@x.com, "B1, B2"`);
 * - a quote inside an unquoted field is an ordinary character (`ab"c`);
 * - empty lines are skipped;
 * - a tab-separated header is recognised like a `,` or `;` one.
 */

export type CsvDelimiter = ',' | ';' | '\t';

export interface CsvRecord {
  /** Physical line (1-based) where the record starts; a quoted field spanning lines moves the next record further down. */
  readonly line: number;
  readonly fields: readonly string[];
}

export interface CsvProblem {
  readonly line: number;
  readonly message: string;
}

export interface CsvReadResult {
  readonly delimiter: CsvDelimiter;
  /** Every well-formed record, the header first; a record with a syntax problem is left out (its problem says why). */
  readonly records: readonly CsvRecord[];
  readonly problems: readonly CsvProblem[];
}

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const SPACE = 0x20;
const TAB = 0x09;
const CANDIDATES: readonly CsvDelimiter[] = [',', ';', '\t'];

// `fatal` turns a bad byte into an exception instead of U+FFFD, so a
// Latin-1 export is refused rather than imported with mangled emails. The
// decoder drops a leading BOM itself (ignoreBOM is false by default).
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Decode `bytes` as UTF-8 (refusing anything else) and read them as CSV. */
export function readCsvBytes(bytes: Uint8Array): CsvReadResult {
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    return { delimiter: ',', records: [], problems: locateInvalidUtf8(bytes) };
  }
  return readCsvText(text);
}

/** Read CSV that is already text (the cloud's `replace-drivers` carries it in JSON). */
export function readCsvText(text: string): CsvReadResult {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const delimiter = detectDelimiter(body);
  const d = delimiter.charCodeAt(0);
  const atFieldEnd = (code: number): boolean => code === d || code === LF || code === CR;
  const isBlank = (code: number): boolean => code === SPACE || (code === TAB && d !== TAB);
  const records: CsvRecord[] = [];
  const problems: CsvProblem[] = [];
  const n = body.length;
  let i = 0;
  let line = 1;

  while (i < n) {
    const first = body.charCodeAt(i);
    if (first === LF || first === CR) {
      i += first === CR && body.charCodeAt(i + 1) === LF ? 2 : 1;
      line++;
      continue;
    }
    const recordLine = line;
    const fields: string[] = [];
    let broken = false;
    for (;;) {
      let j = i;
      while (j < n && isBlank(body.charCodeAt(j))) j++;
      if (j < n && body.charCodeAt(j) === QUOTE) {
        const openedOn = line;
        i = j + 1;
        let value = '';
        let start = i;
        let closed = false;
        while (i < n) {
          const c = body.charCodeAt(i);
          if (c === QUOTE) {
            if (body.charCodeAt(i + 1) === QUOTE) {
              value += body.slice(start, i + 1);
              i += 2;
              start = i;
              continue;
            }
            value += body.slice(start, i);
            i++;
            closed = true;
            break;
          }
          if (c === LF || (c === CR && body.charCodeAt(i + 1) !== LF)) line++;
          i++;
        }
        if (!closed) {
          problems.push({
            line: openedOn,
            message: 'a quoted field opened on this line is never closed (a " without its closing "); the rest of the file was read into it',
          });
          return { delimiter, records, problems };
        }
        while (i < n && isBlank(body.charCodeAt(i))) i++;
        if (i < n && !atFieldEnd(body.charCodeAt(i))) {
          problems.push({ line, message: 'text after the closing quote of a field (inside a quoted field write a quote as "")' });
          broken = true;
          while (i < n && !atFieldEnd(body.charCodeAt(i))) i++;
        }
        fields.push(value);
      } else {
        const start = i;
        while (i < n && !atFieldEnd(body.charCodeAt(i))) i++;
        fields.push(body.slice(start, i));
      }
      if (i >= n) break;
      const c = body.charCodeAt(i);
      if (c === d) {
        i++;
        continue;
      }
      i += c === CR && body.charCodeAt(i + 1) === LF ? 2 : 1;
      line++;
      break;
    }
    if (!broken) records.push({ line: recordLine, fields });
  }
  return { delimiter, records, problems };
}

/**
 * The delimiter the header line uses most, outside quotes; a tie (or a
 * one-column header) means comma, RFC 4180's own. Only the header decides:
 * data fields legitimately hold commas ("B1, B2") in a semicolon file.
 */
export function detectDelimiter(text: string): CsvDelimiter {
  const counts = new Map<number, number>(CANDIDATES.map((candidate) => [candidate.charCodeAt(0), 0]));
  let quoted = false;
  let i = 0;
  // Skip the blank lines a header may follow, as readCsvText does.
  while (i < text.length && (text.charCodeAt(i) === LF || text.charCodeAt(i) === CR)) i++;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) quoted = !quoted;
    else if (!quoted && (c === LF || c === CR)) break;
    else if (!quoted && counts.has(c)) counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let best: CsvDelimiter = ',';
  for (const candidate of CANDIDATES) {
    if ((counts.get(candidate.charCodeAt(0)) ?? 0) > (counts.get(best.charCodeAt(0)) ?? 0)) best = candidate;
  }
  return best;
}

/**
 * Every physical line holding bytes that are not UTF-8, so the installer sees
 * where the accented names are; a line break byte never occurs inside a UTF-8
 * sequence, so decoding line by line is exact. Only runs on a file already
 * refused.
 */
function locateInvalidUtf8(bytes: Uint8Array): CsvProblem[] {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    return [{ line: 1, message: 'the file is UTF-16 (Excel "Unicode Text"), not UTF-8: save it as "CSV UTF-8"' }];
  }
  const problems: CsvProblem[] = [];
  let line = 1;
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    const c = i < bytes.length ? bytes[i] : LF;
    if (c !== LF && c !== CR) continue;
    try {
      strictUtf8.decode(bytes.subarray(start, i));
    } catch {
      const hint = problems.length === 0 ? ' (save the file as UTF-8, e.g. Excel "CSV UTF-8"; this looks like Latin-1 or Windows-1252)' : '';
      problems.push({ line, message: `not valid UTF-8${hint}` });
    }
    if (c === CR && bytes[i + 1] === LF) i++;
    line++;
    start = i + 1;
  }
  // Unreachable in practice (the whole-file decode failed, so some line must),
  // but a refusal must always say something.
  if (problems.length === 0) problems.push({ line: 1, message: 'the file is not valid UTF-8' });
  return problems;
}
