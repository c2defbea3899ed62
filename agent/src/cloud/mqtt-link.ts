import type * as Mqtt from 'mqtt';
import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt';
import { lazyModule } from '../util/lazy-module.js';
import type { MqttConfig, TlsFiles } from '../config/gateway-config.js';
import { describeError } from '../errors.js';
import type { Logger } from '../util/logger.js';
import { GATEWAY_VERSION } from '../version.js';
import type { CommandAck } from './command-ack.js';
import type { CommandDispatcher } from './command-dispatcher.js';
import { CloudTopics } from './cloud-topics.js';
import type { DurableOutbox } from './durable-outbox.js';
import { ReconnectBackoff, type BackoffOptions } from './reconnect-backoff.js';
import { responseTopicProblem } from './response-topic.js';
import { withTimeout } from '../util/with-timeout.js';

/** The MQTT client library loads with the first connection: a gateway without `mqtt` never needs it. */
const loadMqtt = lazyModule<typeof Mqtt>('mqtt');

export interface MqttLinkOptions {
  readonly config: MqttConfig;
  /** The MQTT client id: the gateway id, fixed, so the broker keeps one session per gateway. */
  readonly clientId: string;
  readonly outbox: DurableOutbox;
  readonly commands: CommandDispatcher;
  /** Counters for `P/metrics` (stations connected, frames relayed, sessions, schedule results, ...). */
  readonly counters: () => Record<string, number>;
  readonly logger: Logger;
  /** The gateway's start time, for the retained status. */
  readonly startedAt: Date;
  readonly version?: string;
  /** Metrics every minute (docs/cloud.md "Metrics"); shorter in tests. */
  readonly metricsIntervalMs?: number;
  /** Events handed to the client before waiting for a PUBACK. */
  readonly publishWindow?: number;
  readonly backoff?: BackoffOptions;
  /** A connection that held this long resets the backoff. */
  readonly stableAfterMs?: number;
  /** MQTT 5 Session Expiry Interval: how long the broker keeps the session (and queued commands) while the gateway is away. */
  readonly sessionExpiryS?: number;
  readonly keepaliveS?: number;
  readonly connectTimeoutMs?: number;
}

export type MqttLinkState = 'connecting' | 'connected' | 'disconnected' | 'stopped';

/** What `status` shows about the cloud link. */
export interface MqttLinkStatus {
  readonly state: MqttLinkState;
  readonly url: string;
  readonly clientId: string;
  readonly lastError: string | null;
  readonly lastConnectedAt: string | null;
  readonly lastDisconnectedAt: string | null;
  readonly connects: number;
  readonly outboxDepth: number;
  readonly outboxDropped: number;
  readonly lastSeq: number;
}

/** Where an ack goes besides `P/ack`: the MQTT 5 Response Topic of the command, with its Correlation Data. */
interface ReplyTo {
  readonly topic: string;
  readonly correlationData?: Buffer;
}

/** One network connection; a lost one is thrown away whole and a new client made. */
interface Connection {
  readonly client: MqttClient;
  /** CONNACK received: publishing is allowed. */
  ready: boolean;
  connectedAt: number;
  /** Highest seq handed to the client on this connection. */
  sentUpTo: number;
  inFlight: number;
}

const OFFLINE = JSON.stringify({ online: false });
const MAX_PENDING_ACKS = 1_000;
const STOP_GRACE_MS = 2_000;

/**
 * The gateway's MQTT link to the cloud (docs/cloud.md).
 *
 * Each connection is a fresh MQTT.js client with `reconnectPeriod: 0`; the
 * link reconnects on its own timer (ReconnectBackoff: exponential, equal
 * jitter), because MQTT.js retries at a fixed period, with no jitter, and
 * keeps in-flight publishes in a memory store of its own. The outbox in
 * SQLite is the only queue here: a new connection starts again from the
 * oldest unacknowledged event, so events go out in seq order across any
 * number of reconnects (a failed publish is always retried before later
 * ones). What the broker had received just before a loss may arrive twice;
 * QoS 1 is at least once, and `seq` lets the cloud drop the repeat.
 *
 * The session is persistent (Clean Start 0, fixed client id, Session Expiry
 * Interval), so commands sent while the gateway was away are delivered when
 * it comes back.
 */
export class MqttLink {
  readonly topics: CloudTopics;
  private readonly options: MqttLinkOptions;
  /** The TLS files of the next connection: the configured ones, or a renewed client certificate. */
  private tls: TlsFiles;
  private readonly logger: Logger;
  private readonly backoff: ReconnectBackoff;
  private readonly window: number;
  private connection: Connection | undefined;
  private state: MqttLinkState = 'disconnected';
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private metricsTimer: NodeJS.Timeout | undefined;
  private stopListening: (() => void) | undefined;
  private pendingAcks: { ack: CommandAck; reply: ReplyTo | undefined }[] = [];
  private lastError: string | null = null;
  private lastConnectedAt: Date | null = null;
  private lastDisconnectedAt: Date | null = null;
  private connects = 0;

  constructor(options: MqttLinkOptions) {
    this.options = options;
    this.tls = options.config.tls;
    this.logger = options.logger.child({ component: 'cloud-link' });
    this.topics = new CloudTopics(options.config.topicPrefix);
    this.backoff = new ReconnectBackoff(options.backoff);
    this.window = options.publishWindow ?? 8;
    if (!Number.isSafeInteger(this.window) || this.window < 1) throw new RangeError(`publishWindow must be a positive integer, got ${this.window}`);
  }

  /** Start connecting; returns at once. The link then keeps itself connected until `stop`. */
  start(): void {
    if (this.stopped || this.connection !== undefined || this.reconnectTimer !== undefined) return;
    this.stopListening = this.options.outbox.onAppend(() => this.pump());
    const interval = this.options.metricsIntervalMs ?? 60_000;
    this.metricsTimer = setInterval(() => this.publishMetrics(), interval);
    this.metricsTimer.unref();
    this.open();
  }

  status(): MqttLinkStatus {
    return {
      state: this.state,
      url: this.options.config.url,
      clientId: this.options.clientId,
      lastError: this.lastError,
      lastConnectedAt: this.lastConnectedAt?.toISOString() ?? null,
      lastDisconnectedAt: this.lastDisconnectedAt?.toISOString() ?? null,
      connects: this.connects,
      outboxDepth: this.options.outbox.depth,
      outboxDropped: this.options.outbox.dropped,
      lastSeq: this.options.outbox.lastSeq,
    };
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  /**
   * Say goodbye: the retained status becomes `{"online":false}` (a clean
   * DISCONNECT does not fire the will), then disconnect. Unacknowledged
   * events stay in the outbox for the next start.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.state = 'stopped';
    clearTimeout(this.reconnectTimer);
    clearInterval(this.metricsTimer);
    this.stopListening?.();
    const connection = this.connection;
    this.connection = undefined;
    if (connection === undefined) return;
    const { client } = connection;
    if (connection.ready) {
      await withTimeout(client.publishAsync(this.topics.status, OFFLINE, { qos: 1, retain: true }).then(() => undefined), STOP_GRACE_MS).catch(
        (error: unknown) => this.logger.warn({ err: error }, 'could not publish the offline status'),
      );
    }
    // A clean DISCONNECT waits for the publishes still in flight; a broker
    // that does not answer gets the socket closed under it instead.
    await withTimeout(
      new Promise<void>((resolve) => client.end(false, {}, () => resolve())),
      STOP_GRACE_MS,
    ).catch(() => client.stream?.destroy());
    client.removeAllListeners();
    client.on('error', () => undefined);
    this.logger.info('cloud link stopped');
  }

  /**
   * A renewed client certificate (docs/provisioning.md "Renewal"): used
   * from the next connection on; the current one stays up, since the broker
   * checked the certificate when it accepted it.
   */
  useTls(tls: TlsFiles): void {
    this.tls = tls;
  }

  private open(): void {
    this.reconnectTimer = undefined;
    if (this.stopped) return;
    const { config, clientId } = this.options;
    this.state = 'connecting';
    const options: IClientOptions = {
      clientId,
      protocolVersion: config.protocolVersion,
      // A persistent session: commands sent while the gateway is away wait at the broker.
      clean: false,
      ...(config.protocolVersion === 5 ? { properties: { sessionExpiryInterval: this.options.sessionExpiryS ?? 86_400 } } : {}),
      keepalive: this.options.keepaliveS ?? 60,
      connectTimeout: this.options.connectTimeoutMs ?? 30_000,
      reconnectPeriod: 0,
      will: { topic: this.topics.status, payload: Buffer.from(OFFLINE), qos: 1, retain: true },
      // Verification is never switched off: the broker must prove itself with a certificate from `tls.ca` (or the system roots).
      rejectUnauthorized: true,
      ...(this.tls.ca !== undefined ? { ca: this.tls.ca } : {}),
      ...(this.tls.cert !== undefined ? { cert: this.tls.cert } : {}),
      ...(this.tls.key !== undefined ? { key: this.tls.key } : {}),
    };
    const client = loadMqtt().connect(config.url, options);
    const connection: Connection = { client, ready: false, connectedAt: 0, sentUpTo: 0, inFlight: 0 };
    this.connection = connection;
    client.on('connect', (connack) => this.onConnect(connection, connack.sessionPresent));
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet));
    client.on('error', (error) => {
      // OpenSSL messages end in a newline; the close that follows logs this with the retry delay.
      this.lastError = describeError(error).trim();
      this.logger.debug({ err: error, url: config.url }, 'cloud link error');
    });
    client.on('close', () => this.onClose(connection));
  }

  private onConnect(connection: Connection, sessionPresent: boolean): void {
    if (connection !== this.connection) return;
    const { client } = connection;
    connection.ready = true;
    connection.connectedAt = Date.now();
    this.state = 'connected';
    this.lastConnectedAt = new Date();
    this.connects++;
    this.logger.info({ url: this.options.config.url, sessionPresent, outboxDepth: this.options.outbox.depth }, 'cloud link connected');
    const online = JSON.stringify({ online: true, version: this.options.version ?? GATEWAY_VERSION, startedAt: this.options.startedAt.toISOString() });
    client.publish(this.topics.status, online, { qos: 1, retain: true }, (error) => {
      if (error) this.logger.warn({ err: error }, 'could not publish the online status');
    });
    // The session may already hold the subscription; subscribing again is harmless and covers a broker that lost it.
    client.subscribe(this.topics.commands, { qos: 1 }, (error, granted) => {
      const refused = error ?? (granted?.some((grant) => grant.qos === 128) ? new Error(`broker refused the subscription to ${this.topics.commands}`) : undefined);
      if (refused) {
        this.lastError = describeError(refused);
        this.logger.error({ err: refused }, 'cannot subscribe to cloud commands');
      }
    });
    const acks = this.pendingAcks;
    this.pendingAcks = [];
    for (const { ack, reply } of acks) this.sendAck(ack, reply);
    this.pump();
  }

  private onClose(connection: Connection): void {
    if (connection !== this.connection) return;
    this.connection = undefined;
    const { client } = connection;
    client.removeAllListeners();
    // MQTT.js may still report on a client being torn down; nobody listens any more.
    client.on('error', () => undefined);
    client.end(true);
    if (this.stopped) return;
    if (connection.ready) {
      this.lastDisconnectedAt = new Date();
      if (Date.now() - connection.connectedAt >= (this.options.stableAfterMs ?? 30_000)) this.backoff.reset();
    }
    this.state = 'disconnected';
    const delayMs = this.backoff.next();
    this.logger[connection.ready ? 'warn' : 'info'](
      { delayMs, lastError: this.lastError, outboxDepth: this.options.outbox.depth },
      connection.ready ? 'cloud link lost; reconnecting' : 'cloud broker not reachable; retrying',
    );
    this.reconnectTimer = setTimeout(() => this.open(), delayMs);
  }

  /** Hand the next events to the client, at most `window` unacknowledged at a time, in seq order. */
  private pump(): void {
    const connection = this.connection;
    if (connection === undefined || !connection.ready) return;
    while (connection.inFlight < this.window) {
      let entries;
      try {
        entries = this.options.outbox.peek(this.window - connection.inFlight, connection.sentUpTo);
      } catch (error: unknown) {
        this.logger.error({ err: error }, 'cannot read the cloud outbox');
        return;
      }
      if (entries.length === 0) return;
      for (const entry of entries) {
        connection.sentUpTo = entry.seq;
        connection.inFlight++;
        connection.client.publish(this.topics.event(entry.topic), entry.payload, { qos: 1 }, (error) => this.onEventAcked(connection, entry.seq, error));
      }
    }
  }

  private onEventAcked(connection: Connection, seq: number, error: Error | undefined): void {
    if (!error) {
      try {
        this.options.outbox.remove(seq);
      } catch (removeError: unknown) {
        // Left in the outbox: it goes out again after the next reconnect, a duplicate the cloud drops by seq.
        this.logger.error({ err: removeError, seq }, 'cannot remove an acknowledged event from the outbox');
      }
    }
    if (connection !== this.connection) return;
    connection.inFlight--;
    if (error) {
      // Later events may already be on the wire; only a new connection,
      // starting again from the oldest event, keeps the order intact.
      this.lastError = describeError(error);
      this.logger.warn({ err: error, seq }, 'broker refused an event; reconnecting to send it again in order');
      connection.ready = false;
      connection.client.end(true);
      return;
    }
    this.pump();
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const name = this.topics.commandName(topic);
    if (name === undefined) {
      this.logger.debug({ topic }, 'message outside the command topics ignored');
      return;
    }
    const responseTopic = packet.properties?.responseTopic;
    const correlationData = packet.properties?.correlationData;
    // A bad response topic (a wildcard makes the broker disconnect us) is
    // never published to: the command is refused on P/ack alone, not run.
    const problem = responseTopic === undefined ? undefined : responseTopicProblem(responseTopic, this.topics);
    // P/ack itself as response topic: the ack goes there once, with the correlation data.
    const reply = responseTopic === undefined || problem !== undefined ? undefined : { topic: responseTopic, ...(correlationData ? { correlationData } : {}) };
    const refusal = problem === undefined ? undefined : { code: 'invalid_response_topic' as const, message: `${problem}; the command was not executed` };
    // The PUBACK goes out now and the command runs afterwards: MQTT.js reads
    // packets one at a time, and holding it back would also hold back every
    // PUBACK of our own events behind a slow station. A command lost to a
    // crash in between is retried by the cloud with the same id.
    void this.options.commands.dispatch(name, payload, refusal).then((ack) => this.sendAck(ack, reply));
  }

  private sendAck(ack: CommandAck, reply: ReplyTo | undefined): void {
    const connection = this.connection;
    if (connection === undefined || !connection.ready) {
      // Kept for the next connection; past the bound the cloud's retry (same id, stored ack) recovers it.
      if (this.pendingAcks.length >= MAX_PENDING_ACKS) {
        const dropped = this.pendingAcks.shift();
        this.logger.warn({ commandId: dropped?.ack.id }, 'too many acks waiting for the cloud link; oldest dropped');
      }
      this.pendingAcks.push({ ack, reply });
      return;
    }
    const body = JSON.stringify(ack);
    const warn = (topic: string) => (error?: Error) => {
      if (error) this.logger.warn({ err: error, topic, commandId: ack.id }, 'could not publish a command ack');
    };
    if (reply?.topic !== this.topics.ack) connection.client.publish(this.topics.ack, body, { qos: 1 }, warn(this.topics.ack));
    if (reply !== undefined) {
      const properties = reply.correlationData ? { correlationData: reply.correlationData } : {};
      connection.client.publish(reply.topic, body, { qos: 1, properties }, warn(reply.topic));
    }
  }

  /**
   * A snapshot of the counters on `P/metrics`, only while connected: a
   * snapshot is worth nothing later, so it is neither queued nor stored.
   */
  private publishMetrics(): void {
    const connection = this.connection;
    if (connection === undefined || !connection.ready) return;
    let counters: Record<string, number>;
    try {
      counters = this.options.counters();
    } catch (error: unknown) {
      this.logger.error({ err: error }, 'cannot collect the metrics counters');
      return;
    }
    const { outbox } = this.options;
    const payload = JSON.stringify({
      ts: new Date().toISOString(),
      uptimeS: Math.round((Date.now() - this.options.startedAt.getTime()) / 1000),
      ...counters,
      outboxDepth: outbox.depth,
      outboxDropped: outbox.dropped,
      lastSeq: outbox.lastSeq,
      cloudConnects: this.connects,
    });
    connection.client.publish(this.topics.metrics, payload, { qos: 1 }, (error) => {
      if (error) this.logger.debug({ err: error }, 'metrics not published');
    });
  }
}

