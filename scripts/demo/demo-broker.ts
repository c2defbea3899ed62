import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Aedes } from 'aedes';

export interface DemoBroker {
  /** `mqtt://127.0.0.1:<port>` */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The demo's in-process MQTT broker: aedes on 127.0.0.1, on a free port.
 *
 * Plain `mqtt://` on loopback is for the demo only: in production the gateway
 * talks to the cloud broker over `mqtts://` with its client certificate
 * (mutual TLS, docs/cloud.md). aedes 1.x speaks MQTT 3.1.1 only, so the demo
 * config sets `mqtt.protocolVersion: 4` (docs/cloud.md "Connection": clean=false on
 * 3.1.1).
 */
export async function startDemoBroker(): Promise<DemoBroker> {
  const broker = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}
