/**
 * The canary: a well-behaved station connected before an attack. After each
 * batch its calls must still go through byte for byte, both ways: a station
 * CALL reaches the CPMS unchanged and the CPMS's answer comes back unchanged,
 * and a CPMS CALL reaches the station and its answer the CPMS.
 */
import { WebSocket } from 'ws';
import type { CpmsConnection, FuzzCpms } from './fuzz-cpms.js';
import { eventually } from './probes.js';

export interface Canary {
  readonly id: string;
  readonly path: string;
  readonly socket: WebSocket;
  readonly received: Buffer[];
  readonly closed: { code: number; reason: string } | undefined;
}

const STATION_CALL = (n: number): string => `[2 , "canary-${n}","Heartbeat" , {"n":${n},"s":"\\u00e9 é"}]`;
const CPMS_ANSWER = (n: number): string => `[3,"canary-${n}", {"currentTime":"2025-01-01T00:00:00Z" , "é":1}]`;
const CPMS_CALL = (n: number): string => `[2,"cpms-${n}","GetConfiguration",{ "key" : [] }]`;
const STATION_ANSWER = (id: string): string => `[3, "${id}",{"configurationKey":[] ,"unknownKey":["ü"]}]`;

/** The CPMS's frame handler for the canary's path: answers the canary's calls with exact bytes; other paths go to `fallback`. */
export function canaryAwareHandler(canaryPath: string, fallback: (connection: CpmsConnection, data: Buffer, isBinary: boolean) => void) {
  return (connection: CpmsConnection, data: Buffer, isBinary: boolean): void => {
    if (connection.path !== canaryPath) return fallback(connection, data, isBinary);
    const match = /^\[2 , "canary-(\d+)"/.exec(data.toString('utf8'));
    if (match?.[1] && connection.socket.readyState === connection.socket.OPEN) connection.socket.send(CPMS_ANSWER(Number(match[1])));
  };
}

export async function connectCanary(endpoint: string, id: string, authorization?: string): Promise<Canary> {
  const socket = new WebSocket(`${endpoint}/${encodeURIComponent(id)}`, ['ocpp1.6'], authorization ? { headers: { authorization } } : {});
  const received: Buffer[] = [];
  const canary: { -readonly [K in keyof Canary]: Canary[K] } = { id, path: `/ocpp/${encodeURIComponent(id)}`, socket, received, closed: undefined };
  socket.on('message', (data, isBinary) => {
    const buffer = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    received.push(buffer);
    const call = isBinary ? null : /^\[2,"(cpms-\d+)"/.exec(buffer.toString('utf8'));
    if (call?.[1]) socket.send(STATION_ANSWER(call[1]));
  });
  socket.on('close', (code, reason) => {
    canary.closed = { code, reason: reason.toString() };
  });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return canary;
}

let round = 0;

/**
 * One round trip each way. Resolves with what went wrong, or undefined when
 * the canary is connected and every byte arrived unchanged.
 */
export async function checkCanary(canary: Canary, cpms: FuzzCpms, limitMs = 3000): Promise<string | undefined> {
  if (canary.closed) return `the canary was closed (${canary.closed.code} ${canary.closed.reason})`;
  if (canary.socket.readyState !== canary.socket.OPEN) return 'the canary socket is not open';
  const upstreams = cpms.openConnections(canary.path);
  if (upstreams.length !== 1) return `the canary has ${upstreams.length} open upstream connections at the CPMS, expected 1`;
  const upstream = upstreams[0] as CpmsConnection;
  round += 1;
  const n = round;
  const beforeUp = upstream.frames.length;
  const beforeDown = canary.received.length;
  canary.socket.send(STATION_CALL(n));
  const answered = await eventually(() => canary.received.slice(beforeDown).some((frame) => frame.toString('utf8') === CPMS_ANSWER(n)), limitMs);
  const sentUp = upstream.frames.slice(beforeUp).map((frame) => frame.toString('utf8'));
  if (!sentUp.includes(STATION_CALL(n))) return `the canary's CALL did not reach the CPMS byte for byte (got ${JSON.stringify(sentUp.slice(0, 3))})`;
  if (!answered) return `the CPMS answer did not reach the canary byte for byte (got ${JSON.stringify(canary.received.slice(beforeDown).map(String).slice(0, 3))})`;
  const beforeReply = upstream.frames.length;
  upstream.socket.send(CPMS_CALL(n));
  const replied = await eventually(() => upstream.frames.slice(beforeReply).some((frame) => frame.toString('utf8') === STATION_ANSWER(`cpms-${n}`)), limitMs);
  if (!canary.received.some((frame) => frame.toString('utf8') === CPMS_CALL(n))) return 'the CPMS CALL did not reach the canary byte for byte';
  if (!replied) return "the canary's answer to the CPMS CALL did not reach the CPMS byte for byte";
  return undefined;
}
