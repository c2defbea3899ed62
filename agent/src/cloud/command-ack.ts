import type { CommandErrorCode } from './cloud-command.js';

/**
 * What the gateway answers on `P/ack` (docs/cloud.md "Commands"). `id` is null only
 * when the command was unreadable and no id could be taken from it.
 */
export type CommandAck =
  | { readonly id: string; readonly command: string; readonly ok: true; readonly result: unknown }
  | {
      readonly id: string | null;
      readonly command: string;
      readonly ok: false;
      readonly error: { readonly code: CommandErrorCode; readonly message: string };
    };

export function okAck(id: string, command: string, result: unknown): CommandAck {
  // JSON has no undefined: a handler that returns nothing acks `"result": null`.
  return { id, command, ok: true, result: result === undefined ? null : result };
}

export function errorAck(id: string | null, command: string, code: CommandErrorCode, message: string): CommandAck {
  return { id, command, ok: false, error: { code, message } };
}
