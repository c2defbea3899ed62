import { GatewayError } from '../errors.js';

/**
 * A command from the cloud, `P/cmd/<name>` (docs/cloud.md "Commands"): always an
 * `id`; the other fields depend on the command and are checked by its handler.
 */
export interface CloudCommand {
  readonly id: string;
  readonly name: string;
  readonly body: Readonly<Record<string, unknown>>;
}

/**
 * One command the gateway understands (`set-schedule`, `clear-schedule`,
 * `replace-drivers`, `ping`). `execute` resolves with the ack's `result`, or
 * throws a CommandError whose code and message become the ack's `error`.
 */
export interface CommandHandler {
  readonly name: string;
  execute(command: CloudCommand): Promise<unknown>;
}

/** Stable ack error codes (documented in docs/cloud.md). */
export type CommandErrorCode =
  | 'malformed_command'
  | 'unknown_command'
  | 'invalid_argument'
  | 'invalid_response_topic'
  | 'unknown_station'
  | 'unknown_schedule'
  | 'station_error'
  | 'storage_unavailable'
  | 'internal_error'
  // `update` (docs/cloud.md, docs/appliance.md "Updates"): the bundle was refused, nothing changed.
  | 'bad_signature'
  | 'sha256_mismatch'
  | 'wrong_arch'
  | 'same_version'
  | 'version_mismatch'
  | 'unreadable_bundle'
  | 'no_public_key'
  | 'download_failed'
  | 'update_in_progress';

/** A command that cannot be carried out; becomes `{"ok":false,"error":{code,message}}`. */
export class CommandError extends GatewayError {
  constructor(
    readonly ackCode: CommandErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('PE_ERR_COMMAND', message, options);
  }
}
