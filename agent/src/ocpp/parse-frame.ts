import { MAX_MESSAGE_ID_LENGTH, MessageType, type OcppFrame } from './ocpp-frame.js';

export type FrameParseResult =
  | { readonly ok: true; readonly frame: OcppFrame }
  | { readonly ok: false; readonly reason: string };

function fail(reason: string): FrameParseResult {
  return { ok: false, reason };
}

/**
 * Parse one OCPP-J message. Never throws: a frame that is not OCPP-J comes
 * back as `{ ok: false, reason }`, is counted, and is still relayed (the
 * receiving side decides, docs/ocpp-notes.md "Frames").
 */
export function parseFrame(text: string): FrameParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail('not JSON');
  }
  if (!Array.isArray(value)) return fail('not a JSON array');
  return classify(value);
}

function classify(value: readonly unknown[]): FrameParseResult {
  const messageType: unknown = value[0];
  const id: unknown = value[1];
  if (typeof messageType !== 'number' || !Number.isInteger(messageType)) return fail('message type is not an integer');
  if (typeof id !== 'string') return fail('message id is not a string');
  if (id.length === 0 || id.length > MAX_MESSAGE_ID_LENGTH) return fail(`message id length ${id.length} outside 1..36`);

  switch (messageType) {
    case MessageType.Call:
    case MessageType.Send: {
      const action: unknown = value[2];
      if (value.length !== 4) return fail(`CALL has ${value.length} elements, expected 4`);
      if (typeof action !== 'string' || action.length === 0) return fail('CALL action is not a string');
      const payload: unknown = value[3];
      return messageType === MessageType.Call
        ? { ok: true, frame: { messageType, id, action, payload } }
        : { ok: true, frame: { messageType, id, action, payload } };
    }
    case MessageType.CallResult:
      if (value.length !== 3) return fail(`CALLRESULT has ${value.length} elements, expected 3`);
      return { ok: true, frame: { messageType, id, payload: value[2] } };
    case MessageType.CallError:
    case MessageType.CallResultError: {
      const errorCode: unknown = value[2];
      const errorDescription: unknown = value[3];
      if (value.length !== 5) return fail(`CALLERROR has ${value.length} elements, expected 5`);
      if (typeof errorCode !== 'string' || typeof errorDescription !== 'string') return fail('CALLERROR code or description is not a string');
      return { ok: true, frame: { messageType, id, errorCode, errorDescription, errorDetails: value[4] } };
    }
    default:
      return { ok: true, frame: { messageType, id, unknownType: true } };
  }
}
