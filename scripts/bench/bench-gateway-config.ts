/**
 * The gateway configuration of the bench's gateway processes: the production
 * defaults (CONFIG_DEFAULTS), logging silenced, listening on 127.0.0.1 port
 * 0, every station admitted. What a phase adds (a `wss://` CPMS's TLS files,
 * another handshake bound, a cloud link) comes in `extras`.
 */
import { join } from 'node:path';
import { CONFIG_DEFAULTS } from '../../agent/src/config/config-schema.js';
import type { GatewayConfig, TlsFiles } from '../../agent/src/config/gateway-config.js';

export interface BenchGatewayExtras {
  readonly gatewayId?: string;
  /** Upstream TLS files (PEM text) for a `wss://` CPMS with mutual TLS. */
  readonly upstreamTls?: TlsFiles;
  readonly maxConcurrentHandshakes?: number;
  /** The cloud link on, to the bench's broker. */
  readonly mqttUrl?: string;
}

export function benchGatewayConfig(upstreamUrl: string, dataDir: string, extras: BenchGatewayExtras = {}): GatewayConfig {
  const defaults = CONFIG_DEFAULTS;
  return {
    gatewayId: extras.gatewayId ?? 'gw-bench',
    dataDir,
    listen: {
      host: '127.0.0.1',
      port: 0,
      path: defaults.listen.path,
      maxFrameBytes: defaults.listen.maxFrameBytes,
      maxBufferedBytes: defaults.listen.maxBufferedBytes,
      pingIntervalMs: defaults.listen.pingIntervalMs,
    },
    upstream: {
      url: upstreamUrl,
      tls: extras.upstreamTls ?? {},
      connectTimeoutMs: defaults.upstream.connectTimeoutMs,
      outageGraceMs: defaults.upstream.outageGraceMs,
      maxConcurrentHandshakes: extras.maxConcurrentHandshakes ?? defaults.upstream.maxConcurrentHandshakes,
      permessageDeflate: defaults.upstream.permessageDeflate,
    },
    stations: { allowUnknown: true, list: [] },
    authorization: { mode: defaults.authorization.mode },
    smartCharging: { ...defaults.smartCharging },
    ...(extras.mqttUrl !== undefined
      ? // aedes speaks MQTT 3.1.1 only (scripts/demo/demo-broker.ts).
        { mqtt: { url: extras.mqttUrl, tls: {}, topicPrefix: defaults.mqtt.topicPrefix, outboxMaxEvents: defaults.mqtt.outboxMaxEvents, protocolVersion: 4 as const } }
      : {}),
    admin: { socket: join(dataDir, 'admin.sock') },
    log: { level: 'silent' },
  };
}
