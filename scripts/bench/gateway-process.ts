/**
 * The gateway under test, alone in its own process so that its RSS and CPU
 * time are its own. It runs the production defaults (CONFIG_DEFAULTS) with
 * logging silenced, listening on 127.0.0.1 port 0.
 *
 * argv: <upstream url> <data dir> [tls=<folder>] [handshakes=<n>]
 * (`tls=`: the bench's ca.pem, client.pem, client.key for a `wss://` CPMS
 * with mutual TLS; `handshakes=`: upstream.maxConcurrentHandshakes)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GatewayConfig } from '../../agent/src/config/gateway-config.js';
import { Gateway } from '../../agent/src/gateway.js';
import { createLogger } from '../../agent/src/util/logger.js';
import { benchGatewayConfig } from './bench-gateway-config.js';
import { reportStartFailure, serveBench } from './child-ipc.js';

interface ProcessExtras {
  readonly tlsDir?: string;
  readonly maxConcurrentHandshakes?: number;
}

function parseExtras(args: readonly string[]): ProcessExtras {
  const value = (name: string): string | undefined => args.find((arg) => arg.startsWith(`${name}=`))?.slice(name.length + 1);
  const handshakes = value('handshakes');
  const tlsDir = value('tls');
  return { ...(tlsDir ? { tlsDir } : {}), ...(handshakes ? { maxConcurrentHandshakes: Number(handshakes) } : {}) };
}

function benchConfig(upstreamUrl: string, dataDir: string, extras: ProcessExtras): GatewayConfig {
  const dir = extras.tlsDir;
  return benchGatewayConfig(upstreamUrl, dataDir, {
    ...(dir ? { upstreamTls: { ca: readFileSync(join(dir, 'ca.pem'), 'utf8'), cert: readFileSync(join(dir, 'client.pem'), 'utf8'), key: readFileSync(join(dir, 'client.key'), 'utf8') } } : {}),
    ...(extras.maxConcurrentHandshakes !== undefined ? { maxConcurrentHandshakes: extras.maxConcurrentHandshakes } : {}),
  });
}

async function main(): Promise<void> {
  const [upstreamUrl, dataDir, ...extra] = process.argv.slice(2);
  if (!upstreamUrl || !dataDir) throw new Error('usage: gateway-process <upstream url> <data dir> [tls=<folder>] [handshakes=<n>]');
  const gateway = await Gateway.start(benchConfig(upstreamUrl, dataDir, parseExtras(extra)), { logger: createLogger('silent') });
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
