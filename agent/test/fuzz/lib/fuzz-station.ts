/** A station on plain `ws` that sends whatever it is given (binary, invalid UTF-8, oversize) and keeps what it sent and got. */
import { WebSocket } from 'ws';

export interface FuzzStation {
  readonly id: string;
  readonly path: string;
  readonly socket: WebSocket;
  /** Frames handed to the socket while it was open, in order. */
  readonly sent: Buffer[];
  readonly received: Buffer[];
  closedWith: number | undefined;
  send(data: string | Buffer, binary: boolean): void;
}

export async function connectFuzzStation(endpoint: string, id: string, protocol: string, record = true): Promise<FuzzStation> {
  const socket = new WebSocket(`${endpoint}/${encodeURIComponent(id)}`, [protocol], { maxPayload: 64 * 1024 * 1024 });
  const station: FuzzStation = {
    id,
    path: `/ocpp/${encodeURIComponent(id)}`,
    socket,
    sent: [],
    received: [],
    closedWith: undefined,
    send(data, binary) {
      if (socket.readyState !== socket.OPEN) return;
      const buffer = Buffer.isBuffer(data) ? data : Buffer.from(data);
      if (record) station.sent.push(buffer);
      socket.send(buffer, { binary });
    },
  };
  socket.on('message', (data) => {
    if (record) station.received.push(Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data));
  });
  socket.on('close', (code) => {
    station.closedWith = code;
  });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return station;
}

/** Is `prefix` the start of `all`, frame for frame and byte for byte? Says where it differs otherwise. */
export function prefixProblem(prefix: readonly Buffer[], all: readonly Buffer[]): string | undefined {
  if (prefix.length > all.length) return `${prefix.length} frames arrived but only ${all.length} were sent`;
  for (let i = 0; i < prefix.length; i += 1) {
    const got = prefix[i] as Buffer;
    const want = all[i] as Buffer;
    if (!got.equals(want)) return `frame ${i} differs: sent ${JSON.stringify(want.subarray(0, 80).toString('latin1'))} (${want.length} bytes), arrived ${JSON.stringify(got.subarray(0, 80).toString('latin1'))} (${got.length} bytes)`;
  }
  return undefined;
}
