/**
 * Cloud commands through a real mosquitto: an independent MQTT 5 client plays
 * the cloud, publishes on `P/cmd/<name>` and reads `P/ack` (and its own
 * response topic). The link, dispatcher, command log and handlers are the
 * real ones, on a real SQLite file.
 */
import { connectAsync, type IClientPublishOptions, type IPublishPacket } from 'mqtt';
import t, { type Test } from 'tap';
import { CommandError, type CloudCommand, type CommandHandler } from '../src/cloud/cloud-command.js';
import { CommandDispatcher } from '../src/cloud/command-dispatcher.js';
import { CloudTopics } from '../src/cloud/cloud-topics.js';
import { CommandLog } from '../src/cloud/command-log.js';
import { DurableOutbox } from '../src/cloud/durable-outbox.js';
import { MqttLink } from '../src/cloud/mqtt-link.js';
import { PingCommand } from '../src/cloud/ping-command.js';
import { ReplaceDriversCommand } from '../src/cloud/replace-drivers-command.js';
import { responseTopicProblem } from '../src/cloud/response-topic.js';
import { SqliteDriverDirectory } from '../src/drivers/driver-list-store.js';
import { openStore, type SqliteDatabase } from '../src/store/gateway-store.js';
import { createLogger } from '../src/util/logger.js';
import { MOSQUITTO_MISSING, startMosquitto, type MosquittoBroker } from './helpers/mosquitto.js';
import { mountSmallDisk } from './helpers/small-disk.js';
import { waitUntil } from './helpers/wait-until.js';

const level = process.env.PLEEVI_TEST_LOG;
const logger = createLogger(level === 'debug' || level === 'info' || level === 'warn' ? level : 'silent');

/** Counts its executions: the proof that a repeated id is not run twice. */
class CountingCommand implements CommandHandler {
  readonly name = 'count';
  executions = 0;

  execute(): Promise<unknown> {
    this.executions++;
    return Promise.resolve({ executions: this.executions });
  }
}

class FailingCommand implements CommandHandler {
  constructor(
    readonly name: string,
    private readonly error: Error,
  ) {}

  execute(_command: CloudCommand): Promise<unknown> {
    return Promise.reject(this.error);
  }
}

interface Ack {
  readonly topic: string;
  readonly body: Record<string, unknown>;
  readonly packet: IPublishPacket;
}

interface Cloud {
  /** Publish a command; `payload` objects are sent as JSON, strings as they are. */
  send(name: string, payload: unknown, options?: IClientPublishOptions): Promise<void>;
  /** The ack on `P/ack` for `id` (the n-th one when an id is acked several times). */
  ack(id: string | null, nth?: number): Promise<Record<string, unknown>>;
  readonly received: Ack[];
}

async function startCloud(t: Test, broker: MosquittoBroker, prefix: string): Promise<Cloud> {
  const received: Ack[] = [];
  const client = await connectAsync(broker.url, { protocolVersion: 5, clientId: `cloud-${prefix.split('/').at(-1) ?? ''}`, reconnectPeriod: 100 });
  client.on('message', (topic, payload, packet) => {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
    } catch {
      body = { unparsed: payload.toString('utf8') };
    }
    received.push({ topic, body, packet });
  });
  // `P/#` besides the acks: whatever the gateway publishes under its prefix, commands the cloud sent included.
  await client.subscribeAsync([`${prefix}/#`, 'cloud/#', 'evil/#', 'pleevi/v1/gw/someone-else/#'], { qos: 1 });
  t.teardown(() => client.endAsync(true));
  const acks = (id: string | null): Ack[] => received.filter((message) => message.topic === `${prefix}/ack` && message.body.id === id);
  return {
    received,
    async send(name, payload, options = {}) {
      await client.publishAsync(`${prefix}/cmd/${name}`, typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1, ...options });
    },
    async ack(id, nth = 1) {
      await waitUntil(() => acks(id).length >= nth, `ack #${nth} for ${String(id)}`);
      const ack = acks(id)[nth - 1];
      if (ack === undefined) throw new Error('unreachable');
      return ack.body;
    },
  };
}

interface Gateway {
  readonly db: SqliteDatabase;
  readonly link: MqttLink;
  readonly counting: CountingCommand;
}

function startGateway(t: Test, broker: MosquittoBroker, gatewayId: string, dataDir: string): Gateway {
  const db = openStore(dataDir);
  const counting = new CountingCommand();
  const commands = new CommandDispatcher({
    log: new CommandLog(db),
    logger,
    handlers: [
      new PingCommand(),
      new ReplaceDriversCommand(db, logger),
      counting,
      new FailingCommand('explode', new TypeError('cannot read properties of undefined')),
      new FailingCommand('offline-station', new CommandError('unknown_station', 'station CP-9 is not known to this gateway')),
    ],
  });
  const link = new MqttLink({
    config: { url: broker.url, tls: {}, topicPrefix: `pleevi/v1/gw/${gatewayId}`, outboxMaxEvents: 100_000, protocolVersion: 5 },
    clientId: gatewayId,
    outbox: new DurableOutbox(db, { logger }),
    commands,
    counters: () => ({}),
    logger,
    startedAt: new Date(),
    backoff: { initialDelayMs: 50, maxDelayMs: 300 },
  });
  t.teardown(async () => {
    await link.stop();
    db.close();
  });
  link.start();
  return { db, link, counting };
}

t.test('cloud commands against mosquitto', { skip: MOSQUITTO_MISSING }, async (t) => {
  const broker = await startMosquitto(t);
  const prefix = 'pleevi/v1/gw/gw-cmd';
  const cloud = await startCloud(t, broker, prefix);
  const gateway = startGateway(t, broker, 'gw-cmd', t.testdir());
  await waitUntil(() => gateway.link.connected, 'the link is connected');
  // The subscription is made right after CONNACK; a ping answered proves it is in place.
  await cloud.send('ping', { id: 'warm-up' });
  await cloud.ack('warm-up');

  t.test('ping', async (t) => {
    await cloud.send('ping', { id: 'p-1' });
    t.same(await cloud.ack('p-1'), { id: 'p-1', command: 'ping', ok: true, result: { pong: true } });
  });

  t.test('a repeated id is acked again with the stored ack, not executed again', async (t) => {
    await cloud.send('count', { id: 'c-1' });
    const first = await cloud.ack('c-1');
    await cloud.send('count', { id: 'c-1' });
    await cloud.send('count', { id: 'c-1', whatever: 'changed body' });
    const second = await cloud.ack('c-1', 2);
    const third = await cloud.ack('c-1', 3);
    t.same(first, { id: 'c-1', command: 'count', ok: true, result: { executions: 1 } });
    t.same(second, first);
    t.same(third, first);
    t.equal(gateway.counting.executions, 1, 'executed once');
    await cloud.send('count', { id: 'c-2' });
    t.match(await cloud.ack('c-2'), { ok: true, result: { executions: 2 } }, 'a new id runs');
  });

  t.test('malformed commands get malformed_command with id null, and the link survives them', async (t) => {
    const nullAcks = (): number => cloud.received.filter((message) => message.body.id === null).length;
    const before = nullAcks();
    await cloud.send('ping', '{"id": "x", oops');
    await cloud.send('ping', { noId: true });
    await cloud.send('ping', '[1,2]');
    await cloud.send('ping', { id: '' });
    await waitUntil(() => nullAcks() - before === 4, 'four error acks with id null');
    const acks = cloud.received.filter((message) => message.body.id === null).slice(before);
    for (const ack of acks) t.match(ack.body, { id: null, command: 'ping', ok: false, error: { code: 'malformed_command', message: String } });
    t.match(acks[0]?.body, { error: { message: /not valid JSON/ } });
    t.match(acks[1]?.body, { error: { message: /"id"/ } });
    await cloud.send('ping', { id: 'after-garbage' });
    t.match(await cloud.ack('after-garbage'), { ok: true }, 'the link survives garbage');
  });

  t.test('unknown command', async (t) => {
    await cloud.send('reboot-everything', { id: 'u-1' });
    t.same(await cloud.ack('u-1'), {
      id: 'u-1',
      command: 'reboot-everything',
      ok: false,
      error: { code: 'unknown_command', message: 'unknown command "reboot-everything"; this gateway knows count, explode, offline-station, ping, replace-drivers' },
    });
  });

  t.test('a handler error becomes an error ack: its own code, or internal_error', async (t) => {
    await cloud.send('offline-station', { id: 'e-1' });
    t.same(await cloud.ack('e-1'), {
      id: 'e-1',
      command: 'offline-station',
      ok: false,
      error: { code: 'unknown_station', message: 'station CP-9 is not known to this gateway' },
    });
    await cloud.send('explode', { id: 'e-2' });
    t.match(await cloud.ack('e-2'), { ok: false, error: { code: 'internal_error', message: /cannot read properties/ } });
  });

  t.test('MQTT 5 response topic and correlation data are honoured', async (t) => {
    const replyTopic = `${prefix}/replies/ops`;
    await cloud.send('ping', { id: 'r-1' }, { properties: { responseTopic: replyTopic, correlationData: Buffer.from('corr-77') } });
    const onAck = await cloud.ack('r-1');
    await waitUntil(() => cloud.received.some((message) => message.topic === replyTopic && message.body.id === 'r-1'), 'reply on the response topic');
    const reply = cloud.received.find((message) => message.topic === replyTopic && message.body.id === 'r-1');
    t.same(reply?.body, onAck, 'the same ack on both topics');
    t.equal(reply?.packet.properties?.correlationData?.toString(), 'corr-77');

    // P/ack itself as the response topic: one ack there, with the correlation data.
    await cloud.send('ping', { id: 'r-2' }, { properties: { responseTopic: `${prefix}/ack`, correlationData: Buffer.from('corr-78') } });
    const r2 = await cloud.ack('r-2');
    t.same(r2, { id: 'r-2', command: 'ping', ok: true, result: { pong: true } });
    await cloud.send('ping', { id: 'r-2-after' });
    await cloud.ack('r-2-after');
    const r2Acks = cloud.received.filter((message) => message.topic === `${prefix}/ack` && message.body.id === 'r-2');
    t.equal(r2Acks.length, 1, 'not published twice on P/ack');
    t.equal(r2Acks[0]?.packet.properties?.correlationData?.toString(), 'corr-78');
  });

  t.test('a bad response topic: refused on P/ack with invalid_response_topic, not run, never published to; the link stays up', async (t) => {
    const connectsBefore = gateway.link.status().connects;
    const executionsBefore = gateway.counting.executions;
    const bad: Array<[string, RegExp]> = [
      ['evil/#', /contains a wildcard/],
      ['evil/+/x', /contains a wildcard/],
      [`${prefix}/#`, /contains a wildcard/],
      ['cloud/replies/ops', /outside this gateway's topics/],
      ['pleevi/v1/gw/someone-else/ack', /outside this gateway's topics/],
      [prefix, /outside this gateway's topics/],
      [`${prefix}/cmd/count`, /one of the gateway's own topics/],
      [`${prefix}/status`, /one of the gateway's own topics/],
      [`${prefix}/events/session`, /one of the gateway's own topics/],
      [`${prefix}/replies/${'x'.repeat(600)}`, /at most 512 are allowed/],
    ];
    for (const [index, [responseTopic, message]] of bad.entries()) {
      const id = `bad-topic-${index}`;
      await cloud.send('count', { id }, { properties: { responseTopic, correlationData: Buffer.from('c') } });
      t.match(await cloud.ack(id), { id, command: 'count', ok: false, error: { code: 'invalid_response_topic', message } }, responseTopic.slice(0, 60));
      // Other commands keep working between them, on the same connection.
      await cloud.send('ping', { id: `${id}-ping` });
      t.match(await cloud.ack(`${id}-ping`), { ok: true, result: { pong: true } });
    }
    t.equal(gateway.counting.executions, executionsBefore, 'none of the refused commands ran');
    t.equal(gateway.link.status().connects, connectsBefore, 'never disconnected by the broker');
    t.ok(gateway.link.connected);
    const strays = cloud.received.filter((message) => message.body.id !== undefined && String(message.body.id).startsWith('bad-topic-') && message.topic !== `${prefix}/ack` && !message.topic.startsWith(`${prefix}/cmd/`));
    t.same(strays.map((message) => message.topic), [], 'no ack published anywhere but P/ack');
    const loops = cloud.received.filter((message) => message.topic.startsWith(`${prefix}/cmd/`) && 'ok' in message.body);
    t.same(loops, [], 'no ack fed back in as a command');

    // The refusal is not remembered: the same id with a usable response topic runs.
    await cloud.send('count', { id: 'bad-topic-0' }, { properties: { responseTopic: `${prefix}/replies/ops` } });
    t.match(await cloud.ack('bad-topic-0', 2), { ok: true, result: { executions: executionsBefore + 1 } });
  });

  t.test('replace-drivers: JSON list, stale version ignored, CSV form, invalid lists refused', async (t) => {
    const directory = new SqliteDriverDirectory(gateway.db);
    await cloud.send('replace-drivers', {
      id: 'd-1',
      version: 5,
      drivers: [
        { email: 'Jo@Example.com', badgeIds: ['04aa11', '04AA12'] },
        { email: 'sam@example.com', badgeIds: ['04BB21'] },
      ],
    });
    t.match(await cloud.ack('d-1'), { ok: true, result: { ignored: false, version: 5, added: 2, removed: 0, changed: 0, drivers: 2, badges: 3 } });
    t.equal(directory.lookup('04AA11')?.email, 'jo@example.com');

    await cloud.send('replace-drivers', { id: 'd-2', version: 5, drivers: [] });
    t.match(await cloud.ack('d-2'), { ok: true, result: { ignored: true, storedVersion: 5, reason: /not newer/ } });
    t.equal(directory.list().length, 2, 'an equal version changes nothing');

    await cloud.send('replace-drivers', { id: 'd-3', version: 6, csv: 'email,badge_ids\njo@example.com,04AA11\nalex@example.com,04CC31\n' });
    t.match(await cloud.ack('d-3'), { ok: true, result: { ignored: false, added: 1, removed: 1, changed: 1 } });
    t.same(
      directory.list().map((driver) => driver.email),
      ['alex@example.com', 'jo@example.com'],
    );

    await cloud.send('replace-drivers', {
      id: 'd-4',
      version: 7,
      drivers: [
        { email: 'not-an-email', badgeIds: ['B1'] },
        { email: 'kim@example.com', badgeIds: ['B1'] },
      ],
    });
    const refused = await cloud.ack('d-4');
    t.match(refused, { ok: false, error: { code: 'invalid_argument', message: /2 problems in the driver list, nothing imported: entry 1: "not-an-email" is not an email address; entry 2: badge "B1" is also on line 1/ } });
    await cloud.send('replace-drivers', { id: 'd-5', version: 8, csv: 'name\nx\n' });
    t.match(await cloud.ack('d-5'), { ok: false, error: { code: 'invalid_argument', message: /line 1: missing header/ } });
    await cloud.send('replace-drivers', { id: 'd-6', version: -1, drivers: [] });
    t.match(await cloud.ack('d-6'), { ok: false, error: { code: 'invalid_argument', message: /version/ } });
    await cloud.send('replace-drivers', { id: 'd-7', version: 9, drivers: [{ email: 'a@b.co', badgeIds: 'B1' }] });
    t.match(await cloud.ack('d-7'), { ok: false, error: { code: 'invalid_argument', message: /entry 1: "badgeIds" must be a list of strings/ } });
    t.same(
      directory.list().map((driver) => driver.email),
      ['alex@example.com', 'jo@example.com'],
      'nothing written by the refused lists',
    );
  });

  t.test('commands sent while the gateway is away are delivered when it comes back (persistent session)', async (t) => {
    const dataDir = t.testdir();
    const away = startGateway(t, broker, 'gw-away', dataDir);
    const awayCloud = await startCloud(t, broker, 'pleevi/v1/gw/gw-away');
    await waitUntil(() => away.link.connected, 'first connection');
    await awayCloud.send('ping', { id: 'first' });
    await awayCloud.ack('first');
    await away.link.stop();
    away.db.close();

    await awayCloud.send('count', { id: 'while-away' });
    const back = startGateway(t, broker, 'gw-away', dataDir);
    t.match(await awayCloud.ack('while-away'), { ok: true, result: { executions: 1 } });
    t.equal(back.counting.executions, 1);
  });
});

t.test('a full disk: a command that must write gets storage_unavailable, and the same id runs once space is back', { skip: MOSQUITTO_MISSING }, async (t) => {
  const disk = mountSmallDisk(t, 4 * 1024 * 1024);
  if (!disk) {
    t.plan(0, 'mounting a tmpfs needs root');
    return;
  }
  const broker = await startMosquitto(t);
  const prefix = 'pleevi/v1/gw/gw-disk';
  const cloud = await startCloud(t, broker, prefix);
  const gateway = startGateway(t, broker, 'gw-disk', disk.path);
  await waitUntil(() => gateway.link.connected, 'the link is connected');
  await cloud.send('ping', { id: 'warm-up' });
  await cloud.ack('warm-up');

  disk.fill();
  const command = { id: 'full-1', version: 1, drivers: [{ email: 'alice@example.com', badgeIds: ['04A2B3C4'] }] };
  await cloud.send('replace-drivers', command);
  t.match(await cloud.ack('full-1'), {
    ok: false,
    error: { code: 'storage_unavailable', message: /storage cannot take writes now \(database or disk is full\); nothing was changed; send the command again later/ },
  });
  const directory = new SqliteDriverDirectory(gateway.db);
  t.equal(directory.lookup('04A2B3C4'), undefined, 'nothing was changed');

  disk.free();
  await cloud.send('replace-drivers', command);
  t.match(await cloud.ack('full-1', 2), { ok: true }, 'the same id runs once space is back');
  t.match(directory.lookup('04a2b3c4'), { email: 'alice@example.com' });
});

t.test('response topic rules (what a broker cannot carry is decided without one)', async (t) => {
  const topics = new CloudTopics('pleevi/v1/gw/gw-1/');
  t.equal(responseTopicProblem('pleevi/v1/gw/gw-1/ack', topics), undefined);
  t.equal(responseTopicProblem('pleevi/v1/gw/gw-1/ack/ops', topics), undefined);
  t.equal(responseTopicProblem('pleevi/v1/gw/gw-1/replies/ops/7', topics), undefined);
  t.match(responseTopicProblem('', topics), /empty/);
  t.match(responseTopicProblem('pleevi/v1/gw/gw-1/ack\u0000x', topics), /NUL/);
  t.match(responseTopicProblem('pleevi/v1/gw/gw-1/', topics), /outside/);
  t.match(responseTopicProblem('pleevi/v1/gw/gw-1/metrics', topics), /own topics/);
  t.match(responseTopicProblem('pleevi/v1/gw/gw-10/ack', topics), /outside/, 'a prefix of another gateway id is not ours');
  t.match(responseTopicProblem(`pleevi/v1/gw/gw-1/r/${'é'.repeat(250)}`, topics), /has 520 bytes; at most 512/, 'counted in UTF-8 bytes');
});
