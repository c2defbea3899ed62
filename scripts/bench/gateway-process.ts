/**
 * The gateway under test, alone in its own process so that its RSS and CPU
 * time are its own. It runs the production defaults (CONFIG_DEFAULTS) with
 * logging silenced, listening on 127.0.0.1 port 0.
 *
 * argv: <upstream url> <data dir>
 */
import { join } from 'node:path';
import { CONFIG_DEFAULTS } from '../../agent/src/config/config-schema.js';
import type { GatewayConfig } from '../../agent/src/config/gateway-config.js';
import { Gateway } from '../../agent/src/gateway.js';
import { createLogger } from '../../agent/src/util/logger.js';
import { reportStartFailure, serveBench } from './child-ipc.js';

function benchConfig(upstreamUrl: string, dataDir: string): GatewayConfig {
  const defaults = CONFIG_DEFAULTS;
  return {
    gatewayId: 'gw-bench',
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
      tls: {},
      connectTimeoutMs: defaults.upstream.connectTimeoutMs,
      outageGraceMs: defaults.upstream.outageGraceMs,
      maxConcurrentHandshakes: defaults.upstream.maxConcurrentHandshakes,
      permessageDeflate: defaults.upstream.permessageDeflate,
    },
    stations: { allowUnknown: true, list: [] },
    authorization: { mode: defaults.authorization.mode },
    smartCharging: { ...defaults.smartCharging },
    admin: { socket: join(dataDir, 'admin.sock') },
    log: { level: 'silent' },
  };
}

async function main(): Promise<void> {
  const [upstreamUrl, dataDir] = process.argv.slice(2);
  if (!upstreamUrl || !dataDir) throw new Error('usage: gateway-process <upstream url> <data dir>');
  const gateway = await Gateway.start(benchConfig(upstreamUrl, dataDir), { logger: createLogger('silent') });
  serveBench(gateway.port, {
    counters: () => ({ ...gateway.metrics.snapshot(), stationsConnected: countLinks(gateway) }),
    stop: () => gateway.close(),
  });
}

/** status() builds a row per station; cheap enough for the few reads the bench makes. */
function countLinks(gateway: Gateway): number {
  return gateway.status().stations.length;
}

main().catch(reportStartFailure);
