import type { WebSocket } from 'ws';
import { CloseCode } from './close-codes.js';
import type { EarlyFrame } from './upstream-dialer.js';

/** First retry after an upstream loss, doubled per attempt up to the cap. */
const REDIAL_FIRST_DELAY_MS = 200;
const REDIAL_MAX_DELAY_MS = 3_000;

export interface Redialed {
  readonly socket: WebSocket;
  readonly early: readonly EarlyFrame[];
}

export interface RedialRequest {
  readonly redial: (deadline: number) => Promise<Redialed>;
  /** Epoch ms: the end of the outage grace. */
  readonly deadline: number;
  /** False once the station link no longer wants an upstream (it closed meanwhile). */
  readonly stillWanted: () => boolean;
  readonly onFailure: (error: unknown, leftMs: number) => void;
}

/**
 * Redial the CPMS with backoff until it answers or the grace runs out
 * (OCPP 2.0.1 Part 4 section 6.3: hide a short outage, never answer for the
 * CPMS). Undefined when the grace passed or the link stopped wanting it; a
 * connection that arrives after that is closed here.
 */
export async function redialWithinGrace(request: RedialRequest): Promise<Redialed | undefined> {
  let delay = REDIAL_FIRST_DELAY_MS;
  while (request.stillWanted()) {
    try {
      const back = await request.redial(request.deadline);
      if (request.stillWanted()) return back;
      back.socket.close(CloseCode.GoingAway);
      return undefined;
    } catch (error: unknown) {
      if (!request.stillWanted()) return undefined;
      const left = request.deadline - Date.now();
      request.onFailure(error, left);
      if (left <= 0) return undefined;
      await new Promise((resolve) => setTimeout(resolve, Math.min(delay, left)));
      delay = Math.min(delay * 2, REDIAL_MAX_DELAY_MS);
    }
  }
  return undefined;
}
