/**
 * OCPP-J message frames (OCPP-J 1.6 section 4; 2.0.1 Part 4 section 4; 2.1
 * adds CALLRESULTERROR and SEND). The gateway parses a *copy* of each frame to
 * inspect it; the relayed bytes are never re-serialized.
 */
export const MessageType = {
  Call: 2,
  CallResult: 3,
  CallError: 4,
  /** OCPP 2.1: an error about a CALLRESULT. */
  CallResultError: 5,
  /** OCPP 2.1: a CALL that is never answered. */
  Send: 6,
} as const;

export interface CallFrame {
  readonly messageType: 2;
  readonly id: string;
  readonly action: string;
  readonly payload: unknown;
}

export interface SendFrame {
  readonly messageType: 6;
  readonly id: string;
  readonly action: string;
  readonly payload: unknown;
}

export interface CallResultFrame {
  readonly messageType: 3;
  readonly id: string;
  readonly payload: unknown;
}

export interface CallErrorFrame {
  readonly messageType: 4 | 5;
  readonly id: string;
  readonly errorCode: string;
  readonly errorDescription: string;
  readonly errorDetails: unknown;
}

/** A frame with a message type this gateway does not know: relayed untouched. */
export interface UnknownTypeFrame {
  readonly messageType: number;
  readonly id: string;
  readonly unknownType: true;
}

export type OcppFrame = CallFrame | SendFrame | CallResultFrame | CallErrorFrame | UnknownTypeFrame;

export type ReplyFrame = CallResultFrame | CallErrorFrame;

/** The largest message id OCPP allows (OCPP-J 1.6 section 4.1.3, 2.0.1 Part 4 section 4.1.3). */
export const MAX_MESSAGE_ID_LENGTH = 36;

export function isCall(frame: OcppFrame): frame is CallFrame {
  return frame.messageType === MessageType.Call;
}

export function isReply(frame: OcppFrame): frame is ReplyFrame {
  return (
    frame.messageType === MessageType.CallResult ||
    frame.messageType === MessageType.CallError ||
    frame.messageType === MessageType.CallResultError
  );
}
