import type { CloudCommand, CommandHandler } from './cloud-command.js';

/** CONTRACT section 5 `ping`: `{"id"}`, ack result `{"pong":true}`; proves the command path end to end. */
export class PingCommand implements CommandHandler {
  readonly name = 'ping';

  execute(_command: CloudCommand): Promise<unknown> {
    return Promise.resolve({ pong: true });
  }
}
