/**
 * The cloud link against a real mosquitto (helpers/mosquitto.ts): retained
 * status and last will, events out of the durable outbox in seq order across
 * a broker restart, metrics, and mutual TLS with right and wrong client
 * certificates. Commands are in cloud-commands.test.ts.
 */
import { connectAsync, type IPublishPacket, type MqttClient } from 'mqtt';
import { createConnection, createServer, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { CommandDispatcher } from '../src/cloud/command-dispatcher.js';
import { CommandLog } from '../src/cloud/command-log.js';
import { DurableOutbox } from '../src/cloud/durable-outbox.js';
import { MqttLink, type MqttLinkOptions } from '../src/cloud/mqtt-link.js';
import type { MqttConfig } from '../src/config/gateway-config.js';
import type { GatewayEvent } from '../src/events/gateway-events.js';
import { openStore, type SqliteDatabase } from '../src/store/gateway-store.js';
import { createLogger } from '../src/util/logger.js';
import { createCa, issueClientCert } from './helpers/certs.js';
import { MOSQUITTO_MISSING, startMosquitto, type MosquittoBroker } from './helpers/mosquitto.js';
import { waitUntil } from './helpers/wait-until.js';

const level = process.env.PLEEVI_TEST_LOG;
const logger = createLogger(level === 'debug' || level === 'info' || level === 'warn' ? level : 'silent');

interface Received {
  readonly topic: string;
  readonly body: Record<string, unknown>;
  readonly packet: IPublishPacket;
}

/** An independent MQTT 5 client that records what it sees; persistent, so it catches up after a broker restart. */
async function observe(t: Test, url: string, topics: string[], clientId: string): Promise<{ client: MqttClient; received: Received[] }> {
  const received: Received[] = [];
  const client = await connectAsync(url, {
    protocolVersion: 5,
    clientId,
    clean: false,
    properties: { sessionExpiryInterval: 300 },
    reconnectPeriod: 100,
  });
  client.on('message', (topic, payload, packet) => received.push({ topic, body: JSON.parse(payload.toString('utf8')) as Record<string, unknown>, packet }));
  await client.subscribeAsync(topics, { qos: 1 });
  t.teardown(() => client.endAsync(true));
  return { client, received };
}

interface LinkSetup {
  readonly db: SqliteDatabase;
  readonly outbox: DurableOutbox;
  readonly link: MqttLink;
  readonly prefix: string;
}

async function startLink(
  t: Test,
  gatewayId: string,
  url: string,
  extra: { tls?: MqttConfig['tls']; maxEvents?: number; options?: Partial<MqttLinkOptions> } = {},
): Promise<LinkSetup> {
  const db = openStore(t.testdir());
  const prefix = `pleevi/v1/gw/${gatewayId}`;
  const outbox = new DurableOutbox(db, { logger, ...(extra.maxEvents ? { maxEvents: extra.maxEvents } : {}) });
  const commands = new CommandDispatcher({ log: new CommandLog(db), logger });
  const link = new MqttLink({
    config: { url, tls: extra.tls ?? {}, topicPrefix: prefix, outboxMaxEvents: 100_000, protocolVersion: 5 },
    clientId: gatewayId,
    outbox,
    commands,
    counters: () => ({ stationsConnected: 2, framesFromStations: 41 }),
    logger,
    startedAt: new Date('2025-03-01T08:00:00.000Z'),
    version: '9.9.9-test',
    backoff: { initialDelayMs: 50, maxDelayMs: 300 },
    ...extra.options,
  });
  t.teardown(async () => {
    await link.stop();
    db.close();
  });
  return { db, outbox, link, prefix };
}

function stationEvent(n: number): GatewayEvent {
  return { topic: 'station', payload: { event: 'status', stationId: 'CP-1', ocppVersion: '1.6', connectorId: 1, status: `S${n}`, errorCode: 'NoError', statusAt: '2025-03-01T10:00:00.000Z' } };
}

/** A TCP hop between the link and the broker whose sockets a test can cut: a network loss the broker sees as one. */
async function startCuttableHop(t: Test, targetPort: number): Promise<{ port: number; cut: () => void }> {
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = createConnection({ port: targetPort, host: '127.0.0.1' });
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('hop has no port');
  return { port: address.port, cut: () => sockets.forEach((socket) => socket.destroy()) };
}

/** Seqs in the order first seen. QoS 1 is at least once: a repeat after a reconnect is expected, and dropped by seq as the cloud does. */
function firstSeen(received: readonly Received[]): number[] {
  const seen = new Set<number>();
  const order: number[] = [];
  for (const { body } of received) {
    const seq = body.seq;
    if (typeof seq === 'number' && !seen.has(seq)) {
      seen.add(seq);
      order.push(seq);
    }
  }
  return order;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

t.test('cloud link against mosquitto', { skip: MOSQUITTO_MISSING }, async (t) => {
  const broker: MosquittoBroker = await startMosquitto(t, { tls: true });

  t.test('retained status on connect, last will on a lost connection, offline on stop', async (t) => {
    const hop = await startCuttableHop(t, broker.port);
    const { link, prefix } = await startLink(t, 'gw-status', `mqtt://127.0.0.1:${hop.port}`);
    link.start();
    await waitUntil(() => link.connected, 'the link is connected');

    // Subscribed after the publish: what arrives is the retained message.
    const { received } = await observe(t, broker.url, [`${prefix}/status`], 'obs-status');
    await waitUntil(() => received.length >= 1, 'retained status arrives');
    t.same(received[0]?.body, { online: true, version: '9.9.9-test', startedAt: '2025-03-01T08:00:00.000Z' });
    t.equal(received[0]?.packet.retain, true, 'delivered as retained');

    hop.cut();
    await waitUntil(() => received.some((message) => message.body.online === false), 'the will arrives');
    t.same(received.find((message) => message.body.online === false)?.body, { online: false });

    await waitUntil(() => link.connected && received.filter((message) => message.body.online === true).length >= 2, 'back online after reconnecting');
    t.equal(link.status().connects, 2);

    await link.stop();
    await waitUntil(() => received.at(-1)?.body.online === false, 'offline status on a clean stop');
    t.equal(link.status().state, 'stopped');
  });

  t.test('an event goes out on P/events/<topic> with seq and ts, and leaves the outbox after its PUBACK', async (t) => {
    const { link, outbox, prefix } = await startLink(t, 'gw-event', broker.url);
    const { received } = await observe(t, broker.url, [`${prefix}/events/+`], 'obs-event');
    link.start();
    await waitUntil(() => link.connected, 'connected');
    outbox.emit({
      topic: 'session',
      payload: {
        event: 'started',
        stationId: 'CP-7',
        ocppVersion: '1.6',
        connectorId: 1,
        transactionId: '42',
        idTag: 'BADGE1',
        driver: { email: 'jo@example.com' },
        startedAt: '2025-03-01T09:00:00.000Z',
        endedAt: null,
        meterStartWh: 1000,
        meterStopWh: null,
        energyWh: 0,
        stopReason: null,
      },
    });
    await waitUntil(() => received.length === 1, 'the event arrives');
    const [message] = received;
    t.equal(message?.topic, `${prefix}/events/session`);
    t.match(message?.body, { seq: 1, event: 'started', stationId: 'CP-7', transactionId: '42', driver: { email: 'jo@example.com' } });
    t.match(message?.body.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'ts is ISO 8601');
    await waitUntil(() => outbox.depth === 0, 'removed after PUBACK');
    t.equal(link.status().outboxDepth, 0);
  });

  t.test('broker stopped while events are emitted, then restarted: every event arrives, in seq order', async (t) => {
    const { link, outbox, prefix } = await startLink(t, 'gw-restart', broker.url);
    const { received } = await observe(t, broker.url, [`${prefix}/events/+`], 'obs-restart');
    link.start();
    await waitUntil(() => link.connected, 'connected');

    for (let n = 1; n <= 10; n++) outbox.emit(stationEvent(n));
    // Not awaited first: some of these are in flight when the broker goes.
    const stopping = broker.stop();
    for (let n = 11; n <= 20; n++) outbox.emit(stationEvent(n));
    await stopping;
    await waitUntil(() => !link.connected, 'the link noticed');
    t.equal(link.status().state === 'connected', false);
    for (let n = 21; n <= 30; n++) {
      outbox.emit(stationEvent(n));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    t.ok(outbox.depth >= 10, 'held in the outbox while the broker is away');
    await broker.start();
    for (let n = 31; n <= 40; n++) outbox.emit(stationEvent(n));

    await waitUntil(() => firstSeen(received).length === 40 && outbox.depth === 0, 'all 40 events arrived and were acknowledged', 15_000);
    t.same(firstSeen(received), range(1, 40), 'complete and in seq order (repeats dropped by seq)');
    const statuses = received.map((message) => message.body.status);
    t.same(statuses.filter((status, i) => statuses.indexOf(status) === i), range(1, 40).map((n) => `S${n}`), 'each seq carries its own event');
    t.ok(link.status().connects >= 2, 'reconnected');
  });

  t.test('an outbox that fills before the link is up drops the oldest and counts them; the rest arrive in order', async (t) => {
    const { link, outbox, prefix } = await startLink(t, 'gw-full', broker.url, { maxEvents: 5 });
    const { received } = await observe(t, broker.url, [`${prefix}/events/+`], 'obs-full');
    for (let n = 1; n <= 8; n++) outbox.emit(stationEvent(n));
    t.equal(outbox.depth, 5);
    t.equal(link.status().outboxDropped, 3);
    link.start();
    await waitUntil(() => firstSeen(received).length === 5, 'the kept events arrive');
    t.same(firstSeen(received), [4, 5, 6, 7, 8]);
  });

  t.test('metrics every interval with the provided counters and the outbox figures', async (t) => {
    const { link, prefix } = await startLink(t, 'gw-metrics', broker.url, { options: { metricsIntervalMs: 100 } });
    const { received } = await observe(t, broker.url, [`${prefix}/metrics`], 'obs-metrics');
    link.start();
    await waitUntil(() => received.length >= 2, 'two metrics messages');
    t.match(received[0]?.body, { stationsConnected: 2, framesFromStations: 41, outboxDepth: 0, outboxDropped: 0, lastSeq: 0, cloudConnects: 1 });
    t.match(received[0]?.body.ts, /Z$/);
    t.type(received[0]?.body.uptimeS, 'number');
  });

  t.test('mutual TLS: the gateway certificate is accepted, a certificate from another CA is refused', async (t) => {
    const tls = broker.tls;
    if (tls === undefined) throw new Error('broker started without TLS');
    const good = await issueClientCert(tls.ca, 'gw-tls');
    const { link, outbox, prefix } = await startLink(t, 'gw-tls', tls.url, { tls: { ca: tls.ca.cert, cert: good.cert, key: good.key } });
    const { received } = await observe(t, broker.url, [`${prefix}/status`, `${prefix}/events/+`], 'obs-tls');
    link.start();
    await waitUntil(() => link.connected, 'connected over mutual TLS');
    outbox.emit(stationEvent(1));
    await waitUntil(() => received.some((message) => message.topic.endsWith('/events/station')), 'event over TLS');
    t.ok(received.some((message) => message.body.online === true), 'status over TLS');

    const impostorCa = await createCa('Impostor MQTT CA');
    const wrong = await issueClientCert(impostorCa, 'gw-wrong');
    const refused = await startLink(t, 'gw-wrong', tls.url, { tls: { ca: tls.ca.cert, cert: wrong.cert, key: wrong.key } });
    refused.link.start();
    await waitUntil(() => refused.link.status().lastError !== null, 'the refusal is reported');
    await new Promise((resolve) => setTimeout(resolve, 300));
    t.equal(refused.link.status().connects, 0, 'never connected');
    t.not(refused.link.status().state, 'connected');

    // And the gateway refuses a broker it cannot verify: no CA given, the test CA is not a system root.
    const unverified = await startLink(t, 'gw-unverified', tls.url, { tls: { cert: good.cert, key: good.key } });
    unverified.link.start();
    await waitUntil(() => unverified.link.status().lastError !== null, 'verification failure reported');
    t.match(unverified.link.status().lastError, /certificate/i);
    t.equal(unverified.link.status().connects, 0);
  });
});
