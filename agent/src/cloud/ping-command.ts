import type { CloudCommand, CommandHandler } from './cloud-command.js';

/** `ping` (docs/cloud.md "Commands"): `{"id"}`, ack result `{"pong":true}`; proves the command path end to end. */
export class PingCommand implements CommandHandler {
  readonly name = 'ping';

  execute(_command: CloudCommand): Promise<unknown> {
    return Promise.resolve({ pong: true });
  }
}
