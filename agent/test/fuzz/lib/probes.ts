/**
 * What the invariants look at: this process's file descriptors and TCP
 * sockets (from /proc), the heap after a full GC, and raw TCP attackers.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

function ownSocketInodes(): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (match?.[1]) inodes.add(match[1]);
    } catch {
      // closed while we looked
    }
  }
  return inodes;
}

const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED', '02': 'SYN_SENT', '03': 'SYN_RECV', '04': 'FIN_WAIT1', '05': 'FIN_WAIT2', '06': 'TIME_WAIT',
  '07': 'CLOSE', '08': 'CLOSE_WAIT', '09': 'LAST_ACK', '0A': 'LISTEN', '0B': 'CLOSING',
};

/**
 * TCP sockets this process holds whose local port is `port`, listeners
 * excluded: on the gateway's port, the gateway's side of station connections.
 */
export function socketsOnLocalPort(port: number): string[] {
  const inodes = ownSocketInodes();
  const states: string[] = [];
  for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      const state = fields[3];
      const inode = fields[9];
      if (!local || !state || !inode) continue;
      const localPort = parseInt(local.split(':')[1] ?? '', 16);
      if (localPort !== port || state === '0A' || !inodes.has(inode)) continue;
      states.push(TCP_STATES[state] ?? state);
    }
  }
  return states;
}

let gcFunction: (() => void) | undefined;

/** `global.gc` without --expose-gc: the flag can be set at run time and gc taken from a fresh context. */
function gc(): (() => void) | undefined {
  if (gcFunction) return gcFunction;
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return (gcFunction = exposed);
  try {
    setFlagsFromString('--expose-gc');
    const fromContext: unknown = runInNewContext('gc');
    if (typeof fromContext === 'function') gcFunction = fromContext as () => void;
  } catch {
    gcFunction = undefined;
  }
  return gcFunction;
}

/** Heap in use after full collections; `precise` false means no GC was available (use a generous bound then). */
export async function heapAfterGc(): Promise<{ bytes: number; precise: boolean }> {
  const collect = gc();
  for (let i = 0; i < 3; i += 1) {
    collect?.();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { bytes: process.memoryUsage().heapUsed, precise: collect !== undefined };
}

export interface RawExchange {
  /** The first line the server answered, e.g. `HTTP/1.1 404 Not Found`; '' when it answered nothing. */
  readonly statusLine: string;
  readonly status: number | undefined;
  readonly response: Buffer;
  /** The server ended or reset the connection before we let go. */
  readonly serverClosed: boolean;
  readonly socket: Socket;
}

/**
 * Write `chunks` to the station listener over a raw TCP socket, then wait
 * until the server answers and closes, or `waitMs` passes. The socket is
 * left as `then` says: ended by us, or held open (an idle attacker); the
 * caller destroys held ones.
 */
export function rawExchange(port: number, chunks: readonly Buffer[], pauseMs: number, then: 'end' | 'hold', waitMs: number): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const received: Buffer[] = [];
    let serverClosed = false;
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const response = Buffer.concat(received);
      const statusLine = response.toString('latin1').split('\r\n', 1)[0] ?? '';
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1];
      resolve({ statusLine, status: status ? Number(status) : undefined, response, serverClosed, socket });
    };
    const timer = setTimeout(finish, waitMs);
    socket.on('data', (chunk: Buffer) => {
      if (received.reduce((sum, b) => sum + b.length, 0) < 65536) received.push(chunk);
      // An accepted upgrade: the server will not close; the answer is all we wait for.
      if (/^HTTP\/1\.1 101/.test(Buffer.concat(received).toString('latin1'))) finish();
    });
    socket.on('end', () => {
      serverClosed = true;
      finish();
    });
    socket.on('error', () => {
      serverClosed = true;
      finish();
    });
    socket.on('close', () => {
      serverClosed = true;
      finish();
    });
    socket.once('connect', () => {
      void (async () => {
        for (const chunk of chunks) {
          if (socket.destroyed) return;
          socket.write(chunk);
          if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
        }
        if (then === 'end' && !socket.destroyed) socket.end();
      })();
    });
  });
}

/** Poll until `condition` holds or `limitMs` passes; resolves with whether it held (never throws). */
export async function eventually(condition: () => boolean, limitMs: number, stepMs = 20): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    if (condition()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
}
