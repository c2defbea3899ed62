import { MAX_MESSAGE_ID_LENGTH, type OcppFrame } from './ocpp-frame.js';

/**
 * The start of an OCPP-J frame: `[<type>,"<id>"` and, for CALL / SEND,
 * `,"<action>"`. Enough to route a frame (call lane, in-flight matching)
 * without parsing its payload: most frames (Heartbeat, DataTransfer, most
 * CALLRESULTs) are never looked at further, so they are never parsed.
 */
export interface FrameHeader {
  readonly messageType: number;
  readonly id: string;
  /** For CALL (2) and SEND (6). */
  readonly action?: string;
}

export type FrameHeaderResult = { readonly ok: true; readonly header: FrameHeader } | { readonly ok: false; readonly reason: string };

const OPEN_BRACKET = 0x5b;
const COMMA = 0x2c;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

function isBlank(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

/**
 * Scan the header straight from the received bytes (no string copy of the
 * frame). Ids and actions with escape sequences are rare; for them, and for
 * anything unusual, the full JSON parse decides (returns `undefined`).
 */
export function scanFrameHeader(data: Buffer): FrameHeaderResult | undefined {
  let at = 0;
  const length = data.length;
  const skipBlanks = (): void => {
    while (at < length && isBlank(data[at])) at += 1;
  };
  const expect = (byte: number): boolean => {
    skipBlanks();
    if (data[at] !== byte) return false;
    at += 1;
    return true;
  };
  /** A JSON string without escapes, as latin1-safe ASCII/UTF-8 text; undefined when it has escapes. */
  const readPlainString = (): string | undefined => {
    skipBlanks();
    if (data[at] !== QUOTE) return undefined;
    const start = at + 1;
    let end = start;
    while (end < length && data[end] !== QUOTE) {
      if (data[end] === BACKSLASH) return undefined;
      end += 1;
    }
    if (end >= length) return undefined;
    at = end + 1;
    return data.toString('utf8', start, end);
  };

  if (!expect(OPEN_BRACKET)) return { ok: false, reason: 'not a JSON array' };
  skipBlanks();
  const typeStart = at;
  let messageType = 0;
  while (at < length) {
    const byte = data[at] ?? 0;
    if (byte < DIGIT_0 || byte > DIGIT_9) break;
    messageType = messageType * 10 + (byte - DIGIT_0);
    at += 1;
  }
  if (at === typeStart || at - typeStart > 3) return undefined;
  if (!expect(COMMA)) return undefined;
  const id = readPlainString();
  if (id === undefined) return undefined;
  if (id.length === 0 || id.length > MAX_MESSAGE_ID_LENGTH) return { ok: false, reason: `message id length ${id.length} outside 1..36` };
  if (messageType !== 2 && messageType !== 6) return { ok: true, header: { messageType, id } };
  if (!expect(COMMA)) return undefined;
  const action = readPlainString();
  if (action === undefined || action.length === 0) return undefined;
  return { ok: true, header: { messageType, id, action } };
}

/**
 * A frame known only by its header, for routing (call lane, in-flight
 * matching). Its payload is not read: it is never handed to an observer.
 */
export function headerOnlyFrame(header: FrameHeader): OcppFrame {
  const { messageType, id, action } = header;
  if (messageType === 2 && action !== undefined) return { messageType, id, action, payload: undefined };
  if (messageType === 6 && action !== undefined) return { messageType, id, action, payload: undefined };
  if (messageType === 3) return { messageType, id, payload: undefined };
  if (messageType === 4 || messageType === 5) return { messageType, id, errorCode: '', errorDescription: '', errorDetails: undefined };
  return { messageType, id, unknownType: true };
}
