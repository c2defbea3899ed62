/**
 * The gateway of the observed phases (site day, mix), alone in its own
 * process like gateway-process.ts, with what a site runs and the relay bench
 * leaves out: the cloud link on (to the bench's broker), sessions recorded in
 * a SQLite file in `dataDir` on whatever disk holds it. Its counters add the
 * session bookkeeping's, so a phase can check that sessions were recorded.
 *
 * argv: <upstream url> <data dir> <mqtt url> [<time compression>]: a day
 * replayed N times faster gets its in-memory writes flushed N times as often
 * (DEFAULT_SESSION_FLUSH_MS / N), so each flush holds what it would hold in
 * real time.
 */
import { Gateway } from '../../agent/src/gateway.js';
import { DEFAULT_SESSION_FLUSH_MS } from '../../agent/src/sessions/session-observer.js';
import { createLogger } from '../../agent/src/util/logger.js';
import { benchGatewayConfig } from './bench-gateway-config.js';
import { reportStartFailure, serveBench } from './child-ipc.js';

async function main(): Promise<void> {
  const [upstreamUrl, dataDir, mqttUrl, compression] = process.argv.slice(2);
  if (!upstreamUrl || !dataDir || !mqttUrl) throw new Error('usage: observed-gateway-process <upstream url> <data dir> <mqtt url>');
  const gateway = await Gateway.start(benchGatewayConfig(upstreamUrl, dataDir, { gatewayId: 'gw-bench-site', mqttUrl }), {
    logger: createLogger('silent'),
    sessionFlushMs: Math.max(1, Math.round(DEFAULT_SESSION_FLUSH_MS / Number(compression ?? 1))),
  });
  serveBench(gateway.port, {
    counters: () => {
      const status = gateway.status();
      const link = status.cloudLink;
      return {
        ...status.counters,
        outboxDepth: gateway.cloud?.outbox.depth ?? -1,
        cloudConnected: typeof link === 'object' && link.state === 'connected' ? 1 : 0,
      };
    },
    stop: () => gateway.close(),
  });
}

main().catch(reportStartFailure);
