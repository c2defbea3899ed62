/**
 * The reconnect storm (issue 10 target 4): after a power cut every station of
 * a site reconnects in the same second. Here every station opens its
 * WebSocket in the same tick, sends its BootNotification the moment it is
 * open, and the figure is the time until the last one is answered. A refusal
 * (HTTP status instead of 101), an error, a close before the answer or no
 * answer by the deadline is counted, never retried: a real station would
 * retry later, which only stretches the storm.
 */
import { WebSocket } from 'ws';
import { LatencySamples } from './latency-samples.js';

export interface StormFigures {
  readonly stations: number;
  readonly allAnsweredMs: number | undefined;
  readonly answered: number;
  readonly refused503: number;
  readonly refusedOther: Record<string, number>;
  /** Errors (the station's own handshake timeout among them) and closes before the answer. */
  readonly failed: number;
  /** Stations neither answered nor failed by the deadline. */
  readonly waiting: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

const BOOT = JSON.stringify({ chargePointVendor: 'Pleevi', chargePointModel: 'Storm' });
const CLOSE_WAIT_MS = 3_000;

/**
 * `timeoutMs` is each station's handshake timeout and the phase's deadline
 * for the last answer; every socket is ended before this returns.
 */
export async function reconnectStorm(baseUrl: string, count: number, idPrefix: string, timeoutMs: number): Promise<StormFigures> {
  const sockets: WebSocket[] = [];
  const samples = new LatencySamples();
  const refusedOther: Record<string, number> = {};
  let answered = 0;
  let refused503 = 0;
  let failed = 0;
  let settled = 0;
  let lastAnswerAt: bigint | undefined;
  const start = process.hrtime.bigint();
  let onAllSettled: () => void = () => undefined;
  const allSettled = new Promise<void>((resolve) => {
    onAllSettled = resolve;
  });
  const settle = (): void => {
    settled += 1;
    if (settled === count) onAllSettled();
  };
  for (let index = 0; index < count; index += 1) {
    const socket = new WebSocket(`${baseUrl}/${idPrefix}${index}`, 'ocpp1.6', { perMessageDeflate: false, handshakeTimeout: timeoutMs });
    sockets.push(socket);
    let done = false;
    const finish = (outcome: () => void): void => {
      if (done) return;
      done = true;
      outcome();
      settle();
    };
    socket.once('unexpected-response', (_request, response) => {
      const status = response.statusCode ?? 0;
      finish(() => {
        if (status === 503) refused503 += 1;
        else refusedOther[String(status)] = (refusedOther[String(status)] ?? 0) + 1;
      });
      response.resume();
      socket.terminate();
    });
    socket.on('error', () => finish(() => (failed += 1)));
    socket.once('close', () => finish(() => (failed += 1)));
    socket.once('open', () => socket.send(`[2,"boot","BootNotification",${BOOT}]`));
    socket.on('message', (data) => {
      const at = process.hrtime.bigint();
      if (!data.toString().startsWith('[3,"boot"')) return;
      finish(() => {
        answered += 1;
        lastAnswerAt = at;
        samples.add(Number(at - start) / 1000);
      });
    });
  }
  const deadline = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs + 1_000).unref());
  await Promise.race([allSettled, deadline]);
  // Read before the sockets are ended: their closes would count again.
  const unsettled = count - settled;
  const failedBefore = failed;
  const answeredBefore = answered;
  await closeAll(sockets);
  const summary = samples.summary();
  return {
    stations: count,
    allAnsweredMs: answeredBefore === count && lastAnswerAt !== undefined ? Number(lastAnswerAt - start) / 1e6 : undefined,
    answered: answeredBefore,
    refused503,
    refusedOther,
    failed: failedBefore,
    waiting: unsettled,
    p50Ms: summary.p50Ms,
    p99Ms: summary.p99Ms,
  };
}

/** Ended at once: the storm is measured, how the proxy takes 2,000 closes is not. */
async function closeAll(sockets: readonly WebSocket[]): Promise<void> {
  const closed = sockets.map((socket) => new Promise<void>((resolve) => (socket.readyState === WebSocket.CLOSED ? resolve() : socket.once('close', () => resolve()))));
  for (const socket of sockets) socket.terminate();
  await Promise.race([Promise.all(closed), new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref())]);
}
