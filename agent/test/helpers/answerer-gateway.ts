import type { Test } from 'tap';
import { join } from 'node:path';
import type { GatewayConfig } from '../../src/config/gateway-config.js';
import { Gateway } from '../../src/gateway.js';
import type { LocalAnswerer } from '../../src/ocpp/local-answerer.js';
import { createLogger } from '../../src/util/logger.js';

export interface AnswererGatewayOptions {
  readonly upstreamUrl: string;
  readonly localAnswerers: readonly LocalAnswerer[];
}

/**
 * A real gateway, as `startTestGateway` starts it, with extra local answerers
 * (`startTestGateway` does not pass any). Defaults match test-gateway.ts.
 */
export async function startAnswererGateway(t: Test, options: AnswererGatewayOptions): Promise<Gateway> {
  const dataDir = t.testdir();
  const config: GatewayConfig = {
    gatewayId: 'gw-test',
    dataDir,
    listen: { host: '127.0.0.1', port: 0, path: '/ocpp', maxFrameBytes: 65536, maxBufferedBytes: 1024 * 1024, pingIntervalMs: 30000 },
    upstream: { url: options.upstreamUrl, tls: {}, connectTimeoutMs: 3000, outageGraceMs: 3000, maxConcurrentHandshakes: 64, permessageDeflate: true },
    stations: { allowUnknown: true, list: [] },
    authorization: { mode: 'cpms' },
    smartCharging: { profileIdBase: 900000, stackLevel: 8, callTimeoutMs: 5000 },
    admin: { socket: join(dataDir, 'admin.sock') },
    log: { level: 'silent' },
  };
  const level = process.env.PLEEVI_TEST_LOG;
  const logger = createLogger(level === 'debug' || level === 'info' || level === 'warn' ? level : 'silent');
  const gateway = await Gateway.start(config, { logger, localAnswerers: options.localAnswerers });
  t.teardown(() => gateway.close());
  return gateway;
}
