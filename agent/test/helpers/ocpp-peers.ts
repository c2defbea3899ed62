/**
 * An independent OCPP-J implementation (ocpp-rpc) as CPMS and as station, so
 * the tests never check the gateway against itself. ocpp-rpc's bundled
 * typings demand every option; these wrappers state the few we use.
 */
import { once } from 'node:events';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RPCClient, RPCServer } from 'ocpp-rpc';

export interface RpcPeer {
  readonly identity: string | undefined;
  readonly protocol: string | undefined;
  call(method: string, params?: unknown, options?: Record<string, unknown>): Promise<unknown>;
  handle(method: string, handler: (call: { params: unknown; messageId?: string }) => unknown): void;
  handle(handler: (call: { method?: string; params: unknown; messageId?: string }) => unknown): void;
  sendRaw(message: string): void;
  close(options?: { code?: number; reason?: string; force?: boolean }): Promise<unknown>;
  on(event: 'message', listener: (message: { message: Buffer | string; outbound: boolean }) => void): unknown;
  on(event: 'close', listener: (event: { code: number; reason: string }) => void): unknown;
  on(event: string, listener: (...args: never[]) => void): unknown;
}

interface Handshake {
  readonly identity: string;
  readonly headers: IncomingHttpHeaders;
  readonly protocols: Set<string>;
  readonly password: Buffer | undefined;
}

type Accept = (session?: Record<string, unknown>, protocol?: string | false) => void;
type Reject = (code: number, message: string) => void;

export interface TestCpms {
  readonly url: string;
  readonly port: number;
  /** Connected stations by identity (the latest connection). */
  readonly clients: Map<string, RpcPeer>;
  /** Every handshake the CPMS saw, in order. */
  readonly handshakes: Handshake[];
  nextClient(identity?: string): Promise<RpcPeer>;
  close(): Promise<void>;
}

export interface CpmsOptions {
  readonly protocols?: readonly string[];
  /** Decide each handshake; default accepts every identity. */
  readonly auth?: (handshake: Handshake, accept: Accept, reject: Reject) => void;
  readonly strictMode?: boolean;
  /** Handlers installed on every connecting station. */
  readonly onClient?: (client: RpcPeer) => void;
  readonly port?: number;
  readonly listen?: (handleUpgrade: RpcUpgradeHandler) => Promise<Server>;
}

export type RpcUpgradeHandler = (request: import('node:http').IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => void;

interface RpcServerLike {
  auth(callback: (accept: Accept, reject: Reject, handshake: Handshake) => void): void;
  on(event: 'client', listener: (client: RpcPeer) => void): void;
  listen(port: number, host?: string): Promise<Server>;
  readonly handleUpgrade: RpcUpgradeHandler;
  close(options: Record<string, unknown>): Promise<void>;
}

const ServerClass = RPCServer as unknown as new (options: Record<string, unknown>) => RpcServerLike;
const ClientClass = RPCClient as unknown as new (options: Record<string, unknown>) => RpcPeer & { connect(): Promise<unknown> };

/** A CPMS on 127.0.0.1, port 0 unless given, speaking the given OCPP versions. */
export async function startCpms(options: CpmsOptions = {}): Promise<TestCpms> {
  const server = new ServerClass({
    protocols: [...(options.protocols ?? ['ocpp1.6', 'ocpp2.0.1'])],
    strictMode: options.strictMode ?? true,
    pingIntervalMs: 0,
  });
  const clients = new Map<string, RpcPeer>();
  const handshakes: Handshake[] = [];
  const waiters: Array<{ identity?: string; resolve: (client: RpcPeer) => void }> = [];
  server.auth((accept, reject, handshake) => {
    handshakes.push(handshake);
    if (options.auth) options.auth(handshake, accept, reject);
    else accept();
  });
  server.on('client', (client) => {
    if (client.identity) clients.set(client.identity, client);
    options.onClient?.(client);
    const index = waiters.findIndex((waiter) => waiter.identity === undefined || waiter.identity === client.identity);
    if (index >= 0) waiters.splice(index, 1)[0]?.resolve(client);
  });
  const http = options.listen ? await options.listen(server.handleUpgrade) : await server.listen(options.port ?? 0, '127.0.0.1');
  const port = (http.address() as AddressInfo).port;
  const scheme = options.listen ? 'wss' : 'ws';
  return {
    url: `${scheme}://127.0.0.1:${port}/ocpp`,
    port,
    clients,
    handshakes,
    nextClient: (identity) => new Promise((resolve) => waiters.push(identity === undefined ? { resolve } : { identity, resolve })),
    close: async () => {
      await server.close({ force: true, awaitPending: false });
      http.close();
      http.closeAllConnections?.();
      if (http.listening) await once(http, 'close');
    },
  };
}

export interface StationOptions {
  readonly endpoint: string;
  readonly identity: string;
  readonly protocols?: readonly string[];
  readonly password?: string;
  readonly strictMode?: boolean;
  readonly callTimeoutMs?: number;
  readonly wsOpts?: Record<string, unknown>;
}

/** An independent OCPP station that connects (no automatic reconnect: the tests watch every close). */
export async function connectStation(options: StationOptions): Promise<RpcPeer> {
  const client = new ClientClass({
    endpoint: options.endpoint,
    identity: options.identity,
    protocols: [...(options.protocols ?? ['ocpp1.6'])],
    strictMode: options.strictMode ?? true,
    reconnect: false,
    pingIntervalMs: 0,
    callTimeoutMs: options.callTimeoutMs ?? 5000,
    ...(options.password !== undefined ? { password: options.password } : {}),
    ...(options.wsOpts ? { wsOpts: options.wsOpts } : {}),
  });
  await client.connect();
  return client;
}

/** A station that is expected not to get in; resolves with the error ocpp-rpc raised. */
export async function refusedStation(options: StationOptions): Promise<Error & { code?: unknown; statusCode?: number }> {
  try {
    const client = await connectStation(options);
    await client.close({ force: true });
  } catch (error: unknown) {
    return error as Error & { statusCode?: number };
  }
  throw new Error('station was accepted but should have been refused');
}

export const BOOT_1_6 = { chargePointVendor: 'Pleevi', chargePointModel: 'TestBox' };
export const BOOT_2_0_1 = { reason: 'PowerUp', chargingStation: { vendorName: 'Pleevi', model: 'TestBox' } };
