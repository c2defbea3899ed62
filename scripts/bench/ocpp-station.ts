import { WebSocket, type RawData } from 'ws';

/**
 * One simulated charging station of the observed phases: a plain `ws` client
 * with one CALL in flight at a time (OCPP-J 1.6 section 4.1.1), whose answer
 * comes back as a promise. The relay bench's StationFleet only sends
 * Heartbeats and times them; these stations hold sessions, so they need the
 * CPMS's answers (a 1.6 transactionId).
 */
export type OcppProtocol = 'ocpp1.6' | 'ocpp2.0.1';

const HANDSHAKE_TIMEOUT_MS = 10_000;
const CALL_TIMEOUT_MS = 10_000;

export class OcppStation {
  private nextId = 1;
  private pending: { readonly id: string; readonly resolve: (payload: unknown) => void; readonly reject: (error: Error) => void; readonly timer: NodeJS.Timeout } | undefined;
  private closing = false;
  /** Sockets that closed while the phase ran, frames that answered nothing. */
  unexpected = 0;

  private constructor(
    readonly stationId: string,
    readonly protocol: OcppProtocol,
    private readonly socket: WebSocket,
  ) {
    socket.on('message', (data) => this.onMessage(data));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (!this.closing) this.unexpected += 1;
      this.pending?.reject(new Error(`${stationId} closed`));
    });
  }

  static connect(baseUrl: string, stationId: string, protocol: OcppProtocol): Promise<OcppStation> {
    return new Promise((resolve, reject) => {
      const url = `${baseUrl}/${stationId}`;
      const socket = new WebSocket(url, protocol, { perMessageDeflate: false, handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
      socket.once('unexpected-response', (_request, response) => {
        socket.terminate();
        reject(new Error(`HTTP ${response.statusCode ?? '?'} for ${url}`));
      });
      socket.once('error', reject);
      socket.once('open', () => {
        if (socket.protocol !== protocol) {
          socket.terminate();
          reject(new Error(`subprotocol '${socket.protocol}' instead of ${protocol} for ${url}`));
          return;
        }
        resolve(new OcppStation(stationId, protocol, socket));
      });
    });
  }

  get busy(): boolean {
    return this.pending !== undefined;
  }

  /** Send a CALL and resolve with its CALLRESULT payload; rejects on a CALLERROR, a close or a timeout. */
  call(action: string, payload: unknown): Promise<unknown> {
    if (this.pending) return Promise.reject(new Error(`${this.stationId}: a call is already in flight`));
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        reject(new Error(`${this.stationId}: ${action} not answered within ${CALL_TIMEOUT_MS} ms`));
      }, CALL_TIMEOUT_MS);
      this.pending = { id, resolve, reject, timer };
      this.socket.send(JSON.stringify([2, id, action, payload]));
    });
  }

  close(): Promise<void> {
    this.closing = true;
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.socket.terminate(), 5_000);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.close(1000);
    });
  }

  private onMessage(data: RawData): void {
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      this.unexpected += 1;
      return;
    }
    const pending = this.pending;
    if (!Array.isArray(frame) || !pending || frame[1] !== pending.id) {
      this.unexpected += 1;
      return;
    }
    this.pending = undefined;
    clearTimeout(pending.timer);
    if (frame[0] === 3) pending.resolve(frame[2]);
    else pending.reject(new Error(`${this.stationId}: CALLERROR ${String(frame[2])}`));
  }
}

/** Connect `count` stations, alternating 1.6 and 2.0.1 (even: 1.6), `concurrency` handshakes at a time. */
export async function connectStations(baseUrl: string, idPrefix: string, count: number, concurrency = 50): Promise<OcppStation[]> {
  const stations: OcppStation[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next;
      next += 1;
      stations.push(await OcppStation.connect(baseUrl, `${idPrefix}${index}`, index % 2 === 0 ? 'ocpp1.6' : 'ocpp2.0.1'));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  } catch (error: unknown) {
    await Promise.all(stations.map((station) => station.close()));
    throw error;
  }
  stations.sort((a, b) => a.stationId.localeCompare(b.stationId, 'en', { numeric: true }));
  return stations;
}
