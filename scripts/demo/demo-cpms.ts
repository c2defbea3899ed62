import type { AddressInfo } from 'node:net';
import { RPCServer } from 'ocpp-rpc';

interface DemoClient {
  readonly identity: string;
  handle(handler: (call: { method?: string; params: unknown; messageId?: string }) => unknown): void;
  call(method: string, params: unknown): Promise<unknown>;
}

interface DemoServer {
  on(event: 'client', listener: (client: DemoClient) => void): void;
  listen(port: number, host: string): Promise<import('node:http').Server>;
  close(options: Record<string, unknown>): Promise<void>;
}

export interface DemoCpms {
  readonly url: string;
  call(stationId: string, method: string, params: unknown): Promise<unknown>;
  receivedCalls(): number;
  sawGatewayTraffic(): boolean;
  close(): Promise<void>;
}

export interface DemoCpmsOptions {
  /** Told of every call a station sends (through the gateway), before it is answered. */
  readonly onCall?: (stationId: string, method: string) => void;
}

/** A small but real CPMS (ocpp-rpc, strict schema validation) for the demo. */
export async function startDemoCpms(options: DemoCpmsOptions = {}): Promise<DemoCpms> {
  const Server = RPCServer as unknown as new (options: Record<string, unknown>) => DemoServer;
  const server = new Server({ protocols: ['ocpp1.6', 'ocpp2.0.1'], strictMode: true });
  const clients = new Map<string, DemoClient>();
  let received = 0;
  let sawGateway = false;
  let nextTransactionId = 1000;
  server.on('client', (client) => {
    clients.set(client.identity, client);
    client.handle(({ method, params, messageId }) => {
      received += 1;
      options.onCall?.(client.identity, method ?? '?');
      if (messageId?.startsWith('pgw-')) sawGateway = true;
      const now = new Date().toISOString();
      switch (method) {
        case 'BootNotification':
          return { status: 'Accepted', currentTime: now, interval: 300 };
        case 'Heartbeat':
          return { currentTime: now };
        case 'Authorize':
          return 'idToken' in (params as object) ? { idTokenInfo: { status: 'Accepted' } } : { idTagInfo: { status: 'Accepted' } };
        case 'StartTransaction':
          nextTransactionId += 1;
          return { transactionId: nextTransactionId, idTagInfo: { status: 'Accepted' } };
        case 'StopTransaction':
          return { idTagInfo: { status: 'Accepted' } };
        case 'TransactionEvent':
          return {};
        default:
          return {};
      }
    });
  });
  const http = await server.listen(0, '127.0.0.1');
  const port = (http.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/ocpp`,
    call: (stationId, method, params) => {
      const client = clients.get(stationId);
      if (!client) return Promise.reject(new Error(`${stationId} is not connected to the demo CPMS`));
      return client.call(method, params);
    },
    receivedCalls: () => received,
    sawGatewayTraffic: () => sawGateway,
    close: async () => {
      await server.close({ force: true });
      http.close();
    },
  };
}
