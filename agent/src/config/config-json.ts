import { ConfigError } from '../errors.js';

/** The config file's JSON, with syntax errors located by line and column (never quoting the file: it may hold passwords). */

export function parseJson(text: string): unknown {
  // Editors on Windows save UTF-8 with a byte-order mark, which JSON.parse rejects.
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  try {
    return JSON.parse(body) as unknown;
  } catch (error: unknown) {
    const { offset, reason } = describeJsonError(error, body);
    const { line, column } = lineAndColumn(body, offset);
    const message = `invalid JSON at line ${line}, column ${column}: ${reason}`;
    throw new ConfigError('not valid JSON', [{ path: '$', message }], { cause: error });
  }
}

/**
 * V8 reports most syntax errors "at position N", but for an unexpected token
 * it quotes a slice of the file instead, which may hold a password. Never
 * pass that quote on; find the position ourselves.
 */
function describeJsonError(error: unknown, text: string): { offset: number; reason: string } {
  const raw = error instanceof Error ? error.message : '';
  const positioned = / in JSON at position (\d+)/.exec(raw);
  if (positioned) {
    return { offset: Number(positioned[1]), reason: raw.slice(0, positioned.index) };
  }
  const offset = jsonErrorOffset(text);
  return { offset, reason: offset >= text.length ? 'unexpected end of file' : 'unexpected character' };
}

/** Offset of the first character that breaks the JSON grammar (text.length when it ends early). */
function jsonErrorOffset(text: string): number {
  let i = 0;
  const skipBlanks = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text.charAt(i))) i++;
  };
  const string = (): boolean => {
    i++;
    while (i < text.length) {
      const c = text.charAt(i);
      if (c === '"') {
        i++;
        return true;
      }
      if (c < ' ') return false;
      i += c === '\\' ? 2 : 1;
    }
    return false;
  };
  const number = (): boolean => {
    const pattern = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    pattern.lastIndex = i;
    if (!pattern.exec(text)) return false;
    i = pattern.lastIndex;
    return true;
  };
  const members = (close: string, member: () => boolean): boolean => {
    i++;
    skipBlanks();
    if (text.charAt(i) === close) {
      i++;
      return true;
    }
    for (;;) {
      if (!member()) return false;
      skipBlanks();
      const c = text.charAt(i);
      if (c === close) {
        i++;
        return true;
      }
      if (c !== ',') return false;
      i++;
    }
  };
  const value = (): boolean => {
    skipBlanks();
    const c = text.charAt(i);
    if (c === '{') {
      return members('}', () => {
        skipBlanks();
        if (text.charAt(i) !== '"' || !string()) return false;
        skipBlanks();
        if (text.charAt(i) !== ':') return false;
        i++;
        return value();
      });
    }
    if (c === '[') return members(']', value);
    if (c === '"') return string();
    if (c === '-' || (c >= '0' && c <= '9')) return number();
    for (const literal of ['true', 'false', 'null']) {
      if (text.startsWith(literal, i)) {
        i += literal.length;
        return true;
      }
    }
    return false;
  };
  if (value()) skipBlanks();
  return Math.min(i, text.length);
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lines = before.split('\n');
  return { line: lines.length, column: (lines[lines.length - 1] ?? '').length + 1 };
}

