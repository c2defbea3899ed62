import { connectAsync, type MqttClient } from 'mqtt';

type Json = Record<string, unknown>;

/** One message the demo cloud received, topic without the gateway's prefix. */
export interface CloudMessage {
  readonly suffix: string;
  readonly body: Json;
  readonly retained: boolean;
}

export interface DemoCloud {
  /** `pleevi/v1/gw/<gatewayId>` */
  readonly prefix: string;
  /** Print what has arrived so far, and from now on every message as it arrives. */
  showLive(): void;
  /** Publish `P/cmd/<name>` and resolve with its `P/ack` (rejects after `timeoutMs`). */
  command(name: string, body: Json, timeoutMs: number): Promise<Json>;
  /** Resolve once `done()` holds; reject after `timeoutMs` naming `what`. */
  waitFor(what: string, done: () => boolean, timeoutMs: number): Promise<void>;
  messages(): readonly CloudMessage[];
  close(): Promise<void>;
}

/**
 * The demo's stand-in for the cloud: an MQTT client subscribed to everything
 * the gateway publishes (`P/#`), as the real cloud backend would be
 * (docs/cloud.md). It prints each message in one line.
 */
export async function startDemoCloud(brokerUrl: string, gatewayId: string): Promise<DemoCloud> {
  const prefix = `pleevi/v1/gw/${gatewayId}`;
  const client: MqttClient = await connectAsync(brokerUrl, { clientId: 'demo-cloud', protocolVersion: 4, clean: true, reconnectPeriod: 0 });
  const received: CloudMessage[] = [];
  let live = false;
  let closed: Promise<void> | undefined;
  client.on('message', (topic, payload, packet) => {
    const suffix = topic.startsWith(`${prefix}/`) ? topic.slice(prefix.length + 1) : topic;
    let body: Json;
    try {
      const parsed: unknown = JSON.parse(payload.toString('utf8'));
      body = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Json) : { value: parsed };
    } catch {
      body = { unreadable: payload.toString('utf8').slice(0, 80) };
    }
    const message: CloudMessage = { suffix, body, retained: packet.retain };
    received.push(message);
    if (live) console.log(formatCloudMessage(message));
  });
  await client.subscribeAsync(`${prefix}/#`, { qos: 1 });

  const waitFor = (what: string, done: () => boolean, timeoutMs: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      const check = (): void => {
        if (done()) return resolve();
        if (Date.now() >= deadline) return reject(new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`));
        setTimeout(check, 50);
      };
      check();
    });

  return {
    prefix,
    showLive: () => {
      for (const message of received) console.log(formatCloudMessage(message));
      live = true;
    },
    command: async (name, body, timeoutMs) => {
      await client.publishAsync(`${prefix}/cmd/${name}`, JSON.stringify(body), { qos: 1 });
      const ackOf = (): CloudMessage | undefined => received.find((message) => message.suffix === 'ack' && message.body.id === body.id);
      await waitFor(`the gateway's ack of ${name} ${String(body.id)}`, () => ackOf() !== undefined, timeoutMs);
      return ackOf()?.body ?? {};
    },
    waitFor,
    messages: () => received,
    close: () => (closed ??= client.endAsync()),
  };
}

const text = (value: unknown): string => (value === null || value === undefined ? '-' : typeof value === 'object' ? JSON.stringify(value) : String(value));
const record = (value: unknown): Json => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {});

/** One line per message: topic suffix and the fields a newcomer needs. */
export function formatCloudMessage({ suffix, body, retained }: CloudMessage): string {
  const head = `  ${suffix.padEnd(17)} `;
  const seq = `seq ${text(body.seq).padStart(3)}  ${text(body.event).padEnd(12)}`;
  switch (suffix) {
    case 'status':
      return `${head}${body.online === true ? `online, version ${text(body.version)}` : 'offline'}${retained ? ' (retained)' : ''}`;
    case 'events/session': {
      const energy = typeof body.energyWh === 'number' ? `, ${body.energyWh} Wh` : '';
      const email = record(body.driver).email;
      return `${head}${seq} ${text(body.stationId).padEnd(10)} tx ${text(body.transactionId).padEnd(14)} badge ${text(body.idTag)} -> ${email === undefined ? 'unknown driver' : text(email)}${energy}`;
    }
    case 'events/station': {
      const detail =
        body.event === 'boot'
          ? `${text(body.vendor)} ${text(body.model)}`
          : body.event === 'status'
            ? `connector ${text(body.connectorId)} ${text(body.status)}`
            : body.event === 'disconnected'
              ? `code ${text(body.code)}`
              : '';
      return `${head}${seq} ${text(body.stationId).padEnd(10)} (OCPP ${text(body.ocppVersion)}) ${detail}`.trimEnd();
    }
    case 'events/gateway':
      return `${head}${seq} ${text(body.gatewayId)}${body.notAfter ? `, certificate ${text(body.serialNumber)} until ${text(body.notAfter)}` : ''}`;
    case 'events/schedule':
      return `${head}${seq} ${text(body.scheduleId)} on ${text(body.stationId)}, station ${text(body.status)}${body.reason ? ` (${text(body.reason)})` : ''}`;
    case 'ack': {
      const outcome = body.ok === true ? `ok: ${describeResult(text(body.command), record(body.result))}` : `FAILED ${text(record(body.error).code)}: ${text(record(body.error).message)}`;
      return `${head}${text(body.id)} ${text(body.command)} ${outcome}`;
    }
    case 'metrics':
      return `${head}stations ${text(body.stationsConnected)}, frames from stations ${text(body.framesFromStations)}, outbox depth ${text(body.outboxDepth)}, last seq ${text(body.lastSeq)}`;
    default:
      if (suffix.startsWith('cmd/')) return `${head}${text(body.id)} (the demo cloud's own command, echoed by the broker)`;
      return `${head}${JSON.stringify(body)}`;
  }
}

function describeResult(command: string, result: Json): string {
  if (command === 'set-schedule' || command === 'clear-schedule') {
    return `${text(result.scheduleId)} ${text(result.state)} on ${text(result.stationId)}, station ${text(result.status)}, profile ${text(result.profileId)}`;
  }
  return JSON.stringify(result);
}
