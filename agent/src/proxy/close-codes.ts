import type { WebSocket } from 'ws';

/** RFC 6455 section 7.4.1 codes the gateway uses itself. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  /** Never sent on the wire: the peer vanished without a close frame. */
  Abnormal: 1006,
  /** Never sent on the wire: a close frame without a code. */
  NoStatus: 1005,
} as const;

/**
 * Upstream close codes that mean "the CPMS went away and may come back":
 * the gateway then reconnects within `outageGraceMs` instead of closing the
 * station. Any other code is a decision of the CPMS and is mirrored at once.
 */
export const TRANSIENT_UPSTREAM_CLOSE_CODES: ReadonlySet<number> = new Set([1001, 1006, 1011, 1012, 1013, 1014]);

/** Codes a peer may put in a close frame (RFC 6455 section 7.4, ws's own check). */
function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/**
 * Close `socket` the way its peer closed: the same code and reason when it
 * can be sent, no code for 1005, and an abrupt end for 1006 (the other side
 * vanished, so this side sees it vanish too).
 */
export function mirrorClose(socket: WebSocket, code: number, reason: Buffer | string): void {
  if (socket.readyState === socket.CLOSED) return;
  if (code === CloseCode.NoStatus) {
    socket.close();
  } else if (isSendableCloseCode(code)) {
    // A close reason is at most 123 bytes (RFC 6455 section 5.5).
    const text = Buffer.isBuffer(reason) ? reason : Buffer.from(reason);
    socket.close(code, text.subarray(0, 123));
  } else {
    socket.terminate();
  }
}
