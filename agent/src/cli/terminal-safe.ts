/**
 * What the CLI prints can hold text a station chose: its id (the URL path),
 * its BootNotification fields, the badge it sent, a status, a stop reason.
 * Printed raw, such text drives the operator's terminal: ESC sequences move
 * the cursor, recolour or clear the screen, OSC 52 writes the clipboard, a
 * CR or LF fakes table rows, and bidi overrides (Trojan Source,
 * CVE-2021-42574) make `CP-1` display as something else. Every such
 * character is shown as an escape instead, visibly.
 *
 * A backslash is left as it is: the listing is for reading, and `--json`
 * gives the exact value.
 */

/**
 * C0 controls (ESC, BEL, CR, LF, TAB, ...), DEL, C1 controls (U+009B is an
 * 8-bit CSI on some terminals), the bidi formatting characters (LRE, RLE,
 * PDF, LRO, RLO U+202A-U+202E; LRI, RLI, FSI, PDI U+2066-U+2069; the marks
 * ALM U+061C, LRM U+200E, RLM U+200F) and the Unicode line and paragraph
 * separators U+2028, U+2029 (a line break to some terminals and viewers).
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * The same minus C0: JSON.stringify already writes C0 as `\n`, `\u001b`,
 * ...; RFC 8259 lets the rest pass raw, so it is escaped here.
 */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every control and bidi character shown as `\x1b`, `\x07`, `\u202e`, ... */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (character) => {
    const code = character.charCodeAt(0);
    return code < 0x100 ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`;
  });
}

/**
 * `JSON.stringify(value, null, 2)` with the characters above written as
 * `\uXXXX` escapes too. Still exact JSON: those characters can only occur
 * inside strings, and the escape parses back to the same string.
 */
export function terminalSafeJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(UNSAFE_IN_JSON, (character) => `\\u${hex(character.charCodeAt(0), 4)}`);
}

function hex(code: number, digits: number): string {
  return code.toString(16).padStart(digits, '0');
}
