import { WebSocket, type RawData } from 'ws';
import { LatencySamples } from './latency-samples.js';

/**
 * The load generator: N simulated OCPP 1.6 stations on plain `ws` clients
 * (ocpp-rpc validates every message and would be the bottleneck at 2,000
 * stations). Each round trip is timed with the monotonic hrtime clock from
 * just before the CALL is written to the socket until its CALLRESULT arrives.
 */
interface Station {
  readonly socket: WebSocket;
  nextMessageId: number;
  /** Send time of each unanswered CALL, by message id. */
  readonly pending: Map<string, bigint>;
}

export interface FleetOptions {
  /** e.g. ws://127.0.0.1:8080/ocpp; the station id is appended. */
  readonly baseUrl: string;
  readonly count: number;
  /** Distinct per run, so a path never sees a station id twice (the gateway would replace the link). */
  readonly idPrefix: string;
  /** Handshakes in flight at once. */
  readonly concurrency?: number;
}

export interface OpenLoopCounts {
  readonly windowSeconds: number;
  readonly sent: number;
  readonly answered: number;
  readonly lost: number;
  /** Calls sent while the same station still waited for its previous answer (the path was too slow). */
  readonly overlapped: number;
}

export interface ClosedLoopCounts {
  readonly windowSeconds: number;
  readonly answered: number;
}

/** Called at the edges of the measured window; snapshots started here are awaited by the caller. */
export interface WindowHooks {
  readonly onStart?: () => void;
  readonly onEnd?: () => void;
}

const HANDSHAKE_TIMEOUT_MS = 10_000;
const DRAIN_TIMEOUT_MS = 3_000;
const CLOSE_TIMEOUT_MS = 5_000;
const NEVER = BigInt(Number.MAX_SAFE_INTEGER) * 1_000_000n;

export class StationFleet {
  private readonly stations: Station[] = [];
  private windowFrom = NEVER;
  private windowUntil = NEVER;
  private samples = new LatencySamples();
  /** Answers that arrived in the window (throughput) and answers to calls sent in it (latency). */
  private answeredInWindow = 0;
  private answeredSentInWindow = 0;
  private onAnswered: ((station: Station) => void) | undefined;
  /** Frames that were not the CALLRESULT of a pending call, and sockets that closed mid-run. */
  unexpectedFrames = 0;
  unexpectedCloses = 0;
  private closing = false;

  get size(): number {
    return this.stations.length;
  }

  static async connect(options: FleetOptions): Promise<StationFleet> {
    const fleet = new StationFleet();
    const failures: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < options.count) {
        const index = next;
        next += 1;
        try {
          fleet.stations.push(await fleet.open(`${options.baseUrl}/${options.idPrefix}${index}`));
        } catch (error: unknown) {
          failures.push(error instanceof Error ? error.message : String(error));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 50, options.count) }, worker));
    if (failures.length > 0) {
      await fleet.close();
      throw new Error(`${failures.length} of ${options.count} stations could not connect to ${options.baseUrl}; first: ${failures[0]}`);
    }
    return fleet;
  }

  /**
   * Open loop at a fixed aggregate rate, round robin over the stations, so a
   * slow proxy cannot slow the offered load down (no coordinated omission).
   */
  async runOpenLoop(rate: number, warmupMs: number, measureMs: number, sink: LatencySamples): Promise<OpenLoopCounts> {
    this.resetWindow(sink);
    const start = process.hrtime.bigint();
    this.windowFrom = start + BigInt(Math.round(warmupMs * 1e6));
    this.windowUntil = this.windowFrom + BigInt(Math.round(measureMs * 1e6));
    let sent = 0;
    let sentInWindow = 0;
    let overlapped = 0;
    let cursor = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const now = process.hrtime.bigint();
        if (now >= this.windowUntil) {
          clearInterval(timer);
          resolve();
          return;
        }
        const due = Math.floor((Number(now - start) / 1e9) * rate);
        while (sent < due) {
          const station = this.stations[cursor] as Station;
          cursor = (cursor + 1) % this.stations.length;
          const busy = station.pending.size > 0;
          const sentAt = this.send(station);
          sent += 1;
          // Counted by the same timestamp the answer is matched with, so none is miscounted as lost.
          if (sentAt >= this.windowFrom && sentAt < this.windowUntil) {
            sentInWindow += 1;
            if (busy) overlapped += 1;
          }
        }
      }, 1);
    });
    await this.drain();
    const answered = this.answeredSentInWindow;
    return { windowSeconds: measureMs / 1000, sent: sentInWindow, answered, lost: sentInWindow - answered, overlapped };
  }

  /**
   * Closed loop, one outstanding CALL per station as OCPP-J allows (1.6
   * section 4.1.1): each answer sends the next call. With enough stations this
   * saturates the path, so the answer rate is its highest sustained rate.
   */
  async runClosedLoop(warmupMs: number, measureMs: number, sink: LatencySamples, hooks: WindowHooks = {}): Promise<ClosedLoopCounts> {
    this.resetWindow(sink);
    let running = true;
    this.onAnswered = (station) => {
      if (running) this.send(station);
    };
    for (const station of this.stations) this.send(station);
    await sleep(warmupMs);
    hooks.onStart?.();
    this.windowFrom = process.hrtime.bigint();
    await sleep(measureMs);
    this.windowUntil = process.hrtime.bigint();
    hooks.onEnd?.();
    running = false;
    await this.drain();
    this.onAnswered = undefined;
    return { windowSeconds: Number(this.windowUntil - this.windowFrom) / 1e9, answered: this.answeredInWindow };
  }

  /** One CALL per station and wait for every answer, e.g. the BootNotification a real station sends first. */
  async callEach(action: string, payload: Record<string, unknown>): Promise<void> {
    this.resetWindow(new LatencySamples());
    const body = JSON.stringify(payload);
    for (const station of this.stations) this.send(station, action, body);
    const unanswered = await this.drain();
    if (unanswered > 0) throw new Error(`${unanswered} ${action} calls were not answered within ${DRAIN_TIMEOUT_MS} ms`);
  }

  async close(): Promise<void> {
    this.closing = true;
    const closed = this.stations.map(
      (station) =>
        new Promise<void>((resolve) => {
          if (station.socket.readyState === WebSocket.CLOSED) return resolve();
          station.socket.once('close', () => resolve());
          station.socket.close(1000);
        }),
    );
    const timer = setTimeout(() => {
      for (const station of this.stations) station.socket.terminate();
    }, CLOSE_TIMEOUT_MS);
    await Promise.all(closed);
    clearTimeout(timer);
    this.stations.length = 0;
  }

  private open(url: string): Promise<Station> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, 'ocpp1.6', { perMessageDeflate: false, handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
      socket.once('unexpected-response', (_request, response) => {
        socket.terminate();
        reject(new Error(`HTTP ${response.statusCode ?? '?'} for ${url}`));
      });
      socket.once('error', (error) => reject(error));
      socket.once('open', () => {
        if (socket.protocol !== 'ocpp1.6') {
          socket.terminate();
          reject(new Error(`subprotocol '${socket.protocol}' instead of ocpp1.6 for ${url}`));
          return;
        }
        const station: Station = { socket, nextMessageId: 1, pending: new Map() };
        socket.on('message', (data) => this.onMessage(station, data));
        socket.on('error', () => undefined);
        socket.on('close', () => {
          if (!this.closing) this.unexpectedCloses += 1;
        });
        resolve(station);
      });
    });
  }

  /** Returns the send time. */
  private send(station: Station, action = 'Heartbeat', body = '{}'): bigint {
    const id = String(station.nextMessageId);
    station.nextMessageId += 1;
    const sentAt = process.hrtime.bigint();
    station.pending.set(id, sentAt);
    station.socket.send(`[2,"${id}","${action}",${body}]`);
    return sentAt;
  }

  private onMessage(station: Station, data: RawData): void {
    const at = process.hrtime.bigint();
    const text = data.toString();
    // The bench CPMS answers `[3,"<id>",{...}]`; nothing else is expected.
    const end = text.startsWith('[3,"') ? text.indexOf('"', 4) : -1;
    const sentAt = end > 0 ? station.pending.get(text.slice(4, end)) : undefined;
    if (sentAt === undefined) {
      this.unexpectedFrames += 1;
      return;
    }
    station.pending.delete(text.slice(4, end));
    if (sentAt >= this.windowFrom && sentAt < this.windowUntil) {
      this.samples.add(Number(at - sentAt) / 1000);
      this.answeredSentInWindow += 1;
    }
    if (at >= this.windowFrom && at < this.windowUntil) this.answeredInWindow += 1;
    this.onAnswered?.(station);
  }

  private resetWindow(sink: LatencySamples): void {
    this.windowFrom = NEVER;
    this.windowUntil = NEVER;
    this.samples = sink;
    this.answeredInWindow = 0;
    this.answeredSentInWindow = 0;
  }

  private pendingCount(): number {
    let count = 0;
    for (const station of this.stations) count += station.pending.size;
    return count;
  }

  /** Wait for the answers still due; returns how many never came (they count as lost). */
  private async drain(): Promise<number> {
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    while (this.pendingCount() > 0 && Date.now() < deadline) await sleep(10);
    const unanswered = this.pendingCount();
    // Forget them so the next phase starts clean.
    for (const station of this.stations) station.pending.clear();
    return unanswered;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
