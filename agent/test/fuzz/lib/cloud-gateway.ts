/**
 * A real gateway with its MQTT cloud link, for the cloud fuzz tests (the
 * shared test-gateway helper has no `mqtt` option), and an in-process aedes
 * broker (MQTT 3.1.1).
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import type { Test } from 'tap';
import type { GatewayConfig } from '../../../src/config/gateway-config.js';
import { Gateway } from '../../../src/gateway.js';
import { createLogger } from '../../../src/util/logger.js';

export async function startCloudGateway(t: Test, mqttUrl: string, protocolVersion: 4 | 5, gatewayId: string, upstreamUrl = 'ws://127.0.0.1:9/ocpp'): Promise<Gateway> {
  const dataDir = join(t.testdir(), 'data');
  const config: GatewayConfig = {
    gatewayId,
    dataDir,
    listen: { host: '127.0.0.1', port: 0, path: '/ocpp', maxFrameBytes: 65536, maxBufferedBytes: 1024 * 1024, pingIntervalMs: 30000 },
    upstream: { url: upstreamUrl, tls: {}, connectTimeoutMs: 1000, outageGraceMs: 1000, maxConcurrentHandshakes: 64, permessageDeflate: false },
    stations: { allowUnknown: true, list: [] },
    authorization: { mode: 'cpms' },
    smartCharging: { profileIdBase: 900000, stackLevel: 8, callTimeoutMs: 1000 },
    admin: { socket: join(dataDir, 'admin.sock') },
    log: { level: 'silent' },
    mqtt: { url: mqttUrl, tls: {}, topicPrefix: `pleevi/v1/gw/${gatewayId}`, outboxMaxEvents: 10_000, protocolVersion },
  };
  const level = process.env.PLEEVI_TEST_LOG;
  const gateway = await Gateway.start(config, { logger: createLogger(level === 'debug' || level === 'info' || level === 'warn' ? level : 'silent') });
  t.teardown(() => gateway.close());
  return gateway;
}

export interface AedesBroker {
  readonly url: string;
  close(): Promise<void>;
}

export async function startAedes(): Promise<AedesBroker> {
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
  return {
    url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}
