/**
 * `npm run demo`: the gateway on an embedded default. A demo CPMS and three
 * simulated stations (OCPP 1.6 and 2.0.1, from the independent ocpp-rpc
 * library) run through the real gateway, and every frame that passes is
 * printed. An in-process MQTT broker (aedes) and a demo "cloud" client show
 * the cloud link: the sessions and station events the gateway publishes, and
 * a charging schedule the cloud pushes to a station (set-schedule) with its
 * ack. No external CPMS or broker needed.
 *
 *   npm run demo               run until Ctrl-C (stations keep sending meter values)
 *   npm run demo -- --once     one round of traffic, print the summary, exit 0
 *   npm run demo -- --port N   station listener port (default 8080; a free port if taken)
 *   npm run demo -- --provision  the installer's flow first: an unclaimed gateway, its claim QR,
 *                              the claim, enrollment, then the stations through the enrolled
 *                              gateway (scripts/demo/demo-provision.ts; with --once too; the
 *                              station port is a free one unless --port is given)
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
import type { MqttLinkStatus } from '../agent/src/cloud/mqtt-link.js';
import { startDemoBroker } from './demo/demo-broker.js';
import { startDemoCloud } from './demo/demo-cloud.js';
import { startDemoCpms } from './demo/demo-cpms.js';
import { runProvisionDemo } from './demo/demo-provision.js';
import { runStation16, runStation201 } from './demo/demo-stations.js';

const { values: flags } = parseArgs({
  options: { once: { type: 'boolean', default: false }, port: { type: 'string' }, verbose: { type: 'boolean', default: false }, provision: { type: 'boolean', default: false } },
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

/** Bounded waits of the demo: the ack of the schedule, the events reaching the cloud. */
const WAIT_MS = 10_000;
const GATEWAY_ID = 'gw-demo';

async function main(): Promise<void> {
  const cpms = await startDemoCpms();
  // The cloud side: a broker in this process, plain mqtt:// on 127.0.0.1 for the
  // demo only (production uses mqtts:// with the gateway's client certificate,
  // docs/cloud.md), and a client standing in for the cloud, subscribed before
  // the gateway starts so that it sees everything the gateway publishes.
  const broker = await startDemoBroker();
  const cloud = await startDemoCloud(broker.url, GATEWAY_ID);
  const dataDir = mkdtempSync(join(tmpdir(), 'pleevi-edge-demo-'));
  // The site's driver list (what `pleevi-edge drivers import FILE` loads): BADGE-0002 is left off on purpose.
  const seed = openStore(dataDir);
  importDrivers(seed, parseDriverCsvText('email;badge_ids\nana@example.com;BADGE-0001\nchris@example.com;"badge-0003, BADGE-0033"\n').rows, { mode: 'replace', source: 'demo' });
  seed.close();
  const build = (port: number) =>
    parseConfig(
      {
        gatewayId: GATEWAY_ID,
        dataDir,
        listen: { host: '127.0.0.1', port },
        upstream: { url: cpms.url, outageGraceMs: 5000 },
        admin: { socket: join(dataDir, 'admin.sock') },
        mqtt: { url: broker.url, protocolVersion: 4 },
        // A station that does not answer a schedule fails the command within the demo's own wait.
        smartCharging: { callTimeoutMs: 5000 },
        log: { level: flags.verbose ? 'info' : 'warn' },
      },
      { baseDir: dataDir, env: {}, source: 'built-in demo config' },
    );
  let config = build(Number(flags.port ?? '8080'));
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
  console.log(`pleevi-edge demo: gateway on ${endpoint}/<stationId>, demo CPMS on ${cpms.url}`);
  console.log(`MQTT broker (in-process, plain, demo only) on ${broker.url}; the demo cloud listens on ${cloud.prefix}/#`);
  console.log('\n== frames: station <-> gateway <-> CPMS ==');

  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await cloud.close();
    await gateway.close();
    await cpms.close();
    await broker.close();
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));

  const fail = async (message: string): Promise<void> => {
    console.error(`demo failed: ${message}`);
    await stop(1);
  };

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

  // The cloud limits CP-DEMO-1: 16 A, then 10 A after an hour of each transaction
  // (purpose default = TxDefaultProfile, docs/schedules.md). The gateway sends
  // it to the station as SetChargingProfile through the shared call lane.
  const schedule = {
    id: 'demo-cmd-1',
    scheduleId: 'demo-evening',
    stationId: 'CP-DEMO-1',
    connectorId: 0,
    purpose: 'default',
    unit: 'A',
    periods: [
      { startOffsetS: 0, limit: 16 },
      { startOffsetS: 3600, limit: 10 },
    ],
  };
  console.log(`\nthe cloud publishes cmd/set-schedule ${schedule.scheduleId} for ${schedule.stationId} (16 A, 10 A after 1 h):`);
  let ack: Record<string, unknown>;
  try {
    ack = await cloud.command('set-schedule', schedule, WAIT_MS);
  } catch (error: unknown) {
    return fail((error as Error).message);
  }
  const ackResult = (ack.result ?? {}) as { state?: string; status?: string; profileId?: number };
  const scheduleState = ack.ok === true ? `${ackResult.state ?? '?'} (station ${ackResult.status ?? '?'}, profile ${ackResult.profileId ?? '?'})` : `FAILED ${JSON.stringify(ack.error)}`;

  // Every event the gateway stored must reach the cloud: the outbox is empty
  // (the broker acknowledged each event) and the cloud saw every seq, including
  // an event for each session identified.
  const linkStatus = (): MqttLinkStatus | undefined => {
    const link = gateway.status().cloudLink;
    return typeof link === 'string' ? undefined : link;
  };
  const sessionEvents = () => cloud.messages().filter((message) => message.suffix === 'events/session');
  const eventSeqs = () => cloud.messages().filter((message) => message.suffix.startsWith('events/')).map((message) => Number(message.body.seq));
  try {
    await cloud.waitFor(
      'the published session and station events',
      () => {
        const link = linkStatus();
        if (!link || link.outboxDepth > 0 || link.lastSeq === 0) return false;
        const seen = new Set(eventSeqs());
        for (let seq = 1; seq <= link.lastSeq; seq += 1) if (!seen.has(seq)) return false;
        return new SessionRecords(gateway.store)
          .list()
          .every((session) => sessionEvents().some((message) => message.body.stationId === session.stationId && message.body.transactionId === session.transactionId));
      },
      WAIT_MS,
    );
  } catch (error: unknown) {
    if (flags.once) return fail(`${(error as Error).message} (cloud link: ${JSON.stringify(gateway.status().cloudLink)})`);
    console.log(`warning: ${(error as Error).message}`);
  }

  console.log(`\n== cloud (MQTT): what the demo cloud received on ${cloud.prefix}/# ==`);
  cloud.showLive();
  const link = linkStatus();
  const published = eventSeqs().length;
  const perTopic = ['session', 'station', 'schedule']
    .map((topic) => ({ topic, count: cloud.messages().filter((message) => message.suffix === `events/${topic}`).length }))
    .filter(({ count }) => count > 0)
    .map(({ topic, count }) => `${count} ${topic}`)
    .join(', ');
  const acks = cloud.messages().filter((message) => message.suffix === 'ack').length;
  const brokerAcked = link && link.outboxDepth === 0 ? 'all acknowledged by the broker (outbox empty)' : `outbox still holds ${link?.outboxDepth ?? '?'}`;
  console.log(
    `cloud summary: ${published} events published (${perTopic}), ${brokerAcked}; ` +
      `commands: 1 sent, ${acks} acked; schedule ${schedule.scheduleId} on ${schedule.stationId}: ${scheduleState}`,
  );

  const status = gateway.status();
  console.log(`\nframes seen: ${status.counters.framesFromStations} from stations, ${status.counters.framesFromCpms} from the CPMS; malformed: ${status.counters.malformedFrames}; gateway calls: ${status.counters.gatewayCalls}`);
  console.log(`stations connected: ${status.stations.map((s) => `${s.stationId} (${s.protocol})`).join(', ')}`);
  console.log(`frames the CPMS received from stations: ${cpms.receivedCalls()} calls; it saw the gateway's own call: ${cpms.sawGatewayTraffic() ? 'YES (bug)' : 'no'}`);

  console.log('\n== sessions identified from the frames (pleevi-edge sessions) ==');
  for (const session of new SessionRecords(gateway.store).list()) {
    const energy = session.energyWh === null ? '' : `, ${session.energyWh} Wh`;
    console.log(`  ${session.stationId.padEnd(10)} tx ${session.transactionId.padEnd(14)} badge ${session.idTag ?? '-'} -> ${session.driverEmail ?? 'unknown driver'} (${session.state}${energy})`);
  }

  if (flags.once) {
    await cloud.close();
    for (const station of stations) await station.close();
    await stop(cpms.sawGatewayTraffic() ? 1 : 0);
    return;
  }
  console.log(`\nRunning: stations send meter values every 10 s; the cloud lines below arrive live. Point your own station at ${endpoint}/<id>. Ctrl-C stops.`);
  setInterval(() => {
    for (const station of stations) void station.meterTick().catch(() => undefined);
  }, 10_000);
}

(flags.provision ? runProvisionDemo({ once: flags.once, port: Number(flags.port ?? '0'), verbose: flags.verbose }) : main()).catch((error: unknown) => {
  console.error('demo failed:', error);
  process.exit(1);
});
