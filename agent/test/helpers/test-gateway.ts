import type { Test } from 'tap';
import type { GatewayConfig, StationConfig } from '../../src/config/gateway-config.js';
import { Gateway, type GatewayDeps } from '../../src/gateway.js';
import type { FrameObserver } from '../../src/ocpp/frame-observer.js';
import { createLogger } from '../../src/util/logger.js';
import { join } from 'node:path';

export interface TestGatewayOptions {
  readonly upstreamUrl: string;
  /** Default `gw-test`. */
  readonly gatewayId?: string;
  readonly stations?: readonly StationConfig[];
  readonly allowUnknown?: boolean;
  readonly outageGraceMs?: number;
  readonly connectTimeoutMs?: number;
  readonly maxConcurrentHandshakes?: number;
  readonly maxFrameBytes?: number;
  readonly maxBufferedBytes?: number;
  readonly callTimeoutMs?: number;
  readonly pingIntervalMs?: number;
  readonly upstreamTls?: GatewayConfig['upstream']['tls'];
  readonly listenTls?: { cert: string; key: string; clientCa?: string; crl?: string };
  readonly observers?: readonly FrameObserver[];
  readonly dataDir?: string;
  readonly authorizationMode?: 'cpms' | 'local';
  readonly drivers?: GatewayDeps['drivers'];
  readonly events?: GatewayDeps['events'];
  readonly now?: GatewayDeps['now'];
  /** Default: silent unless PLEEVI_TEST_LOG names a level. */
  readonly logger?: GatewayDeps['logger'];
  readonly scheduleSettleMs?: GatewayDeps['scheduleSettleMs'];
  readonly storageRetryMs?: GatewayDeps['storageRetryMs'];
  readonly maxDeferredFrames?: GatewayDeps['maxDeferredFrames'];
  /** Default 0: every frame's bookkeeping written at once, so a test reads it back right after the answer. */
  readonly sessionFlushMs?: GatewayDeps['sessionFlushMs'];
  readonly handshakeTimeoutMs?: GatewayDeps['handshakeTimeoutMs'];
  readonly localAnswerers?: GatewayDeps['localAnswerers'];
  /** A cloud link (e.g. to a test mosquitto); none by default. */
  readonly mqtt?: GatewayConfig['mqtt'];
  /** Update settings (the pinned key, the updates folder); defaults otherwise. */
  readonly updates?: GatewayConfig['updates'];
}

/**
 * A real gateway on 127.0.0.1 port 0 with a real SQLite file in the test's
 * own folder. Logs are silent unless PLEEVI_TEST_LOG names a level.
 */
export async function startTestGateway(t: Test, options: TestGatewayOptions): Promise<Gateway> {
  const dataDir = options.dataDir ?? t.testdir();
  const config: GatewayConfig = {
    gatewayId: options.gatewayId ?? 'gw-test',
    dataDir,
    listen: {
      host: '127.0.0.1',
      port: 0,
      path: '/ocpp',
      ...(options.listenTls ? { tls: { port: 0, ...options.listenTls } } : {}),
      maxFrameBytes: options.maxFrameBytes ?? 65536,
      maxBufferedBytes: options.maxBufferedBytes ?? 1024 * 1024,
      pingIntervalMs: options.pingIntervalMs ?? 30000,
    },
    upstream: {
      url: options.upstreamUrl,
      tls: options.upstreamTls ?? {},
      connectTimeoutMs: options.connectTimeoutMs ?? 3000,
      outageGraceMs: options.outageGraceMs ?? 3000,
      maxConcurrentHandshakes: options.maxConcurrentHandshakes ?? 64,
      permessageDeflate: true,
    },
    stations: { allowUnknown: options.allowUnknown ?? true, list: options.stations ?? [] },
    authorization: { mode: options.authorizationMode ?? 'cpms' },
    smartCharging: { profileIdBase: 900000, stackLevel: 8, callTimeoutMs: options.callTimeoutMs ?? 5000 },
    admin: { socket: join(dataDir, 'admin.sock') },
    log: { level: 'silent' },
    ...(options.mqtt ? { mqtt: options.mqtt } : {}),
    ...(options.updates ? { updates: options.updates } : {}),
  };
  const level = process.env.PLEEVI_TEST_LOG;
  const logger = options.logger ?? createLogger(level === 'debug' || level === 'info' || level === 'warn' ? level : 'silent');
  const gateway = await Gateway.start(config, {
    logger,
    ...(options.observers ? { observers: options.observers } : {}),
    ...(options.drivers ? { drivers: options.drivers } : {}),
    ...(options.events ? { events: options.events } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.scheduleSettleMs !== undefined ? { scheduleSettleMs: options.scheduleSettleMs } : {}),
    ...(options.storageRetryMs !== undefined ? { storageRetryMs: options.storageRetryMs } : {}),
    ...(options.maxDeferredFrames !== undefined ? { maxDeferredFrames: options.maxDeferredFrames } : {}),
    sessionFlushMs: options.sessionFlushMs ?? 0,
    ...(options.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: options.handshakeTimeoutMs } : {}),
    ...(options.localAnswerers ? { localAnswerers: options.localAnswerers } : {}),
  });
  t.teardown(() => gateway.close());
  return gateway;
}

export function stationEndpoint(gateway: Gateway): string {
  return `ws://127.0.0.1:${gateway.port}/ocpp`;
}
