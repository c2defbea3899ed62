/**
 * `npm run demo`: the gateway on an embedded default. A demo CPMS and three
 * simulated stations (OCPP 1.6 and 2.0.1, from the independent ocpp-rpc
 * library) run through the real gateway, and every frame that passes is
 * printed. No external CPMS or broker needed.
 *
 *   npm run demo               run until Ctrl-C (stations keep sending meter values)
 *   npm run demo -- --once     one round of traffic, print the summary, exit 0
 *   npm run demo -- --port N   station listener port (default 8080; a free port if taken)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../agent/src/config/load-config.js';
import { Gateway } from '../agent/src/gateway.js';
import type { FrameEvent, FrameObserver } from '../agent/src/ocpp/frame-observer.js';
import { createLogger } from '../agent/src/util/logger.js';
import { parseDriverCsvText } from '../agent/src/drivers/driver-csv.js';
import { importDrivers } from '../agent/src/drivers/driver-list-store.js';
import { SessionRecords } from '../agent/src/sessions/session-records.js';
import { openStore } from '../agent/src/store/gateway-store.js';
import { startDemoCpms } from './demo/demo-cpms.js';
import { runStation16, runStation201 } from './demo/demo-stations.js';

const { values: flags } = parseArgs({
  options: { once: { type: 'boolean', default: false }, port: { type: 'string', default: '8080' }, verbose: { type: 'boolean', default: false } },
});

const arrows: Record<FrameEvent['origin'], string> = { station: 'station -> CPMS   ', cpms: 'CPMS    -> station', gateway: 'gateway -> station' };

const printer: FrameObserver = {
  name: 'demo-printer',
  onStationConnected: (station) => console.log(`+ ${station.stationId} connected (${station.protocol})`),
  onStationDisconnected: (station, code) => console.log(`- ${station.stationId} disconnected (${code})`),
  onFrame: ({ station, origin, frame, answers }) => {
    const kind = frame.messageType === 2 ? `CALL       ${'action' in frame ? frame.action : ''}` : frame.messageType === 3 ? `CALLRESULT ${answers?.action ?? ''}` : `CALLERROR  ${answers?.action ?? ''}`;
    const toGateway = origin === 'station' && frame.id.startsWith('pgw-') && frame.messageType !== 2;
    const arrow = toGateway ? 'station -> gateway' : arrows[origin];
    const note = toGateway ? '  (the gateway keeps this answer: never forwarded to the CPMS)' : '';
    console.log(`  ${station.stationId.padEnd(10)} ${arrow}  ${kind}${note}`);
  },
  onMalformedFrame: ({ station, reason }) => console.log(`  ${station.stationId} malformed frame: ${reason}`),
};

async function main(): Promise<void> {
  const cpms = await startDemoCpms();
  const dataDir = mkdtempSync(join(tmpdir(), 'pleevi-edge-demo-'));
  // The site's driver list (what `pleevi-edge drivers import FILE` loads): BADGE-0002 is left off on purpose.
  const seed = openStore(dataDir);
  importDrivers(seed, parseDriverCsvText('email;badge_ids\nana@example.com;BADGE-0001\nchris@example.com;"badge-0003, BADGE-0033"\n').rows, { mode: 'replace', source: 'demo' });
  seed.close();
  const build = (port: number) =>
    parseConfig(
      {
        gatewayId: 'gw-demo',
        dataDir,
        listen: { host: '127.0.0.1', port },
        upstream: { url: cpms.url, outageGraceMs: 5000 },
        admin: { socket: join(dataDir, 'admin.sock') },
        log: { level: flags.verbose ? 'info' : 'warn' },
      },
      { baseDir: dataDir, env: {}, source: 'built-in demo config' },
    );
  let config = build(Number(flags.port));
  const logger = createLogger(config.log.level);
  let gateway: Gateway;
  try {
    gateway = await Gateway.start(config, { logger, observers: [printer] });
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    config = build(0);
    gateway = await Gateway.start(config, { logger, observers: [printer] });
  }
  const endpoint = `ws://127.0.0.1:${gateway.port}/ocpp`;
  console.log(`pleevi-edge demo: gateway on ${endpoint}/<stationId>, demo CPMS on ${cpms.url}\n`);

  const stop = async (code: number): Promise<void> => {
    await gateway.close();
    await cpms.close();
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));

  const stations = await Promise.all([
    runStation16(endpoint, 'CP-DEMO-1', 'BADGE-0001'),
    runStation16(endpoint, 'CP-DEMO-2', 'BADGE-0002'),
    runStation201(endpoint, 'CS-DEMO-3', 'BADGE-0003'),
  ]);

  // The CPMS asks a station something, and the gateway makes a call of its own
  // through the shared lane: its answer is shown but never reaches the CPMS.
  await cpms.call('CP-DEMO-1', 'GetConfiguration', { key: ['HeartbeatInterval'] });
  const own = await gateway.callStation('CP-DEMO-2', 'GetConfiguration', { key: ['MeterValueSampleInterval'] });
  console.log(`\ngateway's own call answered: ${JSON.stringify(own)}`);

  const status = gateway.status();
  console.log(`\nframes seen: ${status.counters.framesFromStations} from stations, ${status.counters.framesFromCpms} from the CPMS; malformed: ${status.counters.malformedFrames}; gateway calls: ${status.counters.gatewayCalls}`);
  console.log(`stations connected: ${status.stations.map((s) => `${s.stationId} (${s.protocol})`).join(', ')}`);
  console.log(`frames the CPMS received from stations: ${cpms.receivedCalls()} calls; it saw the gateway's own call: ${cpms.sawGatewayTraffic() ? 'YES (bug)' : 'no'}`);

  console.log('\nsessions identified from the frames (pleevi-edge sessions):');
  for (const session of new SessionRecords(gateway.store).list()) {
    const energy = session.energyWh === null ? '' : `, ${session.energyWh} Wh`;
    console.log(`  ${session.stationId.padEnd(10)} tx ${session.transactionId.padEnd(14)} badge ${session.idTag ?? '-'} -> ${session.driverEmail ?? 'unknown driver'} (${session.state}${energy})`);
  }

  if (flags.once) {
    for (const station of stations) await station.close();
    await stop(cpms.sawGatewayTraffic() ? 1 : 0);
    return;
  }
  console.log(`\nRunning: stations send meter values every 10 s. Point your own station at ${endpoint}/<id>. Ctrl-C stops.`);
  setInterval(() => {
    for (const station of stations) void station.meterTick().catch(() => undefined);
  }, 10_000);
}

main().catch((error: unknown) => {
  console.error('demo failed:', error);
  process.exit(1);
});
