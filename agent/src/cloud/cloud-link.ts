import type { MqttConfig } from '../config/gateway-config.js';
import type { SqliteDatabase } from '../store/gateway-store.js';
import type { Logger } from '../util/logger.js';
import { GATEWAY_VERSION } from '../version.js';
import type { CommandHandler } from './cloud-command.js';
import { CommandDispatcher } from './command-dispatcher.js';
import { CommandLog } from './command-log.js';
import { DurableOutbox } from './durable-outbox.js';
import { MqttLink } from './mqtt-link.js';
import { PingCommand } from './ping-command.js';
import { SessionRecords } from '../sessions/session-records.js';
import { toSessionEvent } from '../sessions/session-record.js';
import { ReplaceDriversCommand } from './replace-drivers-command.js';

export interface CloudLinkOptions {
  readonly config: MqttConfig;
  readonly gatewayId: string;
  /** The gateway's own database connection: events are written inside its session transactions. */
  readonly store: SqliteDatabase;
  readonly logger: Logger;
  readonly startedAt: Date;
  readonly counters: () => Record<string, number>;
}

/**
 * The cloud side of the gateway (docs/cloud.md): the durable outbox the
 * observers write to, the command dispatcher with its handlers, and the MQTT
 * link that publishes the one and feeds the other.
 */
export class CloudLink {
  readonly outbox: DurableOutbox;
  readonly commands: CommandDispatcher;
  readonly link: MqttLink;

  constructor(options: CloudLinkOptions) {
    const { store, logger } = options;
    const sessions = new SessionRecords(store);
    this.outbox = new DurableOutbox(store, {
      logger,
      maxEvents: options.config.outboxMaxEvents,
      storedSession: (sessionId) => {
        const record = sessions.byId(sessionId);
        return record === undefined ? undefined : toSessionEvent('updated', record);
      },
    });
    this.commands = new CommandDispatcher({
      log: new CommandLog(store),
      logger,
      handlers: [new PingCommand(), new ReplaceDriversCommand(store, logger)],
    });
    this.link = new MqttLink({
      config: options.config,
      clientId: options.gatewayId,
      outbox: this.outbox,
      commands: this.commands,
      counters: options.counters,
      logger,
      startedAt: options.startedAt,
      version: GATEWAY_VERSION,
    });
  }

  /** More commands (smart charging registers set-schedule / clear-schedule). */
  register(handler: CommandHandler): void {
    this.commands.register(handler);
  }

  start(): void {
    this.link.start();
  }

  stop(): Promise<void> {
    return this.link.stop();
  }
}
