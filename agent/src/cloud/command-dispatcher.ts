import { describeError } from '../errors.js';
import { isStorageUnavailable } from '../store/storage-unavailable.js';
import type { Logger } from '../util/logger.js';
import { CommandError, type CloudCommand, type CommandErrorCode, type CommandHandler } from './cloud-command.js';
import { errorAck, okAck, type CommandAck } from './command-ack.js';
import type { CommandLog } from './command-log.js';

/** Why a command is answered with an error without being run (e.g. its response topic cannot be used). */
export interface CommandRefusal {
  readonly code: CommandErrorCode;
  readonly message: string;
}

export interface CommandDispatcherOptions {
  readonly log: CommandLog;
  readonly logger: Logger;
  readonly handlers?: readonly CommandHandler[];
  readonly now?: () => Date;
}

/** Longest command id accepted; it is stored and echoed, so it is kept to a sane size. */
const MAX_ID_LENGTH = 200;

/**
 * From `P/cmd/<name>` to an ack (docs/cloud.md "Commands"). Never rejects: an
 * unreadable command, an unknown name, a handler that fails, all become an
 * error ack with a stable code (docs/cloud.md), and the link stays up.
 *
 * Commands run one at a time, in the order they arrived: a `set-schedule`
 * followed by a `clear-schedule` of the same schedule must not overtake each
 * other. The price is that a command waiting on a slow station delays the
 * next one (at most `smartCharging.callTimeoutMs`).
 *
 * A command a handler ran is recorded with its ack in the command log before
 * the ack goes out; the same id again is answered from there, not executed.
 * Commands that were never run (malformed, unknown) are not recorded.
 */
export class CommandDispatcher {
  private readonly handlers = new Map<string, CommandHandler>();
  private readonly log: CommandLog;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: CommandDispatcherOptions) {
    this.log = options.log;
    this.logger = options.logger;
    this.now = options.now ?? (() => new Date());
    for (const handler of options.handlers ?? []) this.register(handler);
  }

  register(handler: CommandHandler): void {
    if (this.handlers.has(handler.name)) throw new RangeError(`a handler for command "${handler.name}" is already registered`);
    this.handlers.set(handler.name, handler);
  }

  get commandNames(): string[] {
    return [...this.handlers.keys()].sort();
  }

  /**
   * Handle the payload of `P/cmd/<name>`; resolves with the ack to publish.
   * With `refusal` the command is not run (nor looked up in or recorded to
   * the command log): it is answered with that error, under the id read from
   * the payload, in its turn so acks keep the order of the commands.
   */
  dispatch(name: string, payload: Buffer | string, refusal?: CommandRefusal): Promise<CommandAck> {
    const receivedAt = this.now();
    const turn = this.queue.then(() => (refusal === undefined ? this.handle(name, payload, receivedAt) : this.refuse(name, payload, refusal)));
    // The chain must survive anything: handle() does not reject, but keep the queue alive regardless.
    this.queue = turn.catch(() => undefined);
    return turn.catch((error: unknown) => {
      this.logger.error({ err: error, command: name }, 'command dispatch failed');
      return errorAck(null, name, 'internal_error', 'internal error; see the gateway log');
    });
  }

  private refuse(name: string, payload: Buffer | string, refusal: CommandRefusal): Promise<CommandAck> {
    const parsed = readCommand(name, payload);
    const id = 'command' in parsed ? parsed.command.id : null;
    this.logger.warn({ command: name, commandId: id, code: refusal.code, reason: refusal.message }, 'cloud command refused, not executed');
    return Promise.resolve(errorAck(id, name, refusal.code, refusal.message));
  }

  private async handle(name: string, payload: Buffer | string, receivedAt: Date): Promise<CommandAck> {
    const parsed = readCommand(name, payload);
    if ('ack' in parsed) {
      this.logger.warn({ command: name, id: parsed.ack.id, reason: parsed.reason }, 'malformed cloud command');
      return parsed.ack;
    }
    const { command } = parsed;
    const logger = this.logger.child({ commandId: command.id, command: name });
    const stored = this.log.find(command.id);
    if (stored !== undefined) {
      logger.info('repeated command id: ack sent again, not executed again');
      return stored;
    }
    const handler = this.handlers.get(name);
    if (handler === undefined) {
      logger.warn('unknown cloud command');
      const known = this.commandNames.join(', ');
      return errorAck(command.id, name, 'unknown_command', `unknown command "${name}"; this gateway knows ${known === '' ? 'none' : known}`);
    }
    const started = Date.now();
    const ack = await this.execute(handler, command, logger);
    logger.info({ ok: ack.ok, ...(ack.ok ? {} : { code: ack.error.code }), ms: Date.now() - started }, 'cloud command executed');
    // Nothing was done: the same id sent again later must run, not get this ack back.
    if (!ack.ok && ack.error.code === 'storage_unavailable') return ack;
    try {
      this.log.record(command.id, name, ack, receivedAt);
    } catch (error: unknown) {
      // The ack still goes out; only the protection against a repeat is lost for this id.
      logger.error({ err: error }, 'cannot record the command in the command log');
    }
    return ack;
  }

  private async execute(handler: CommandHandler, command: CloudCommand, logger: Logger): Promise<CommandAck> {
    try {
      return okAck(command.id, command.name, await handler.execute(command));
    } catch (error: unknown) {
      if (error instanceof CommandError) return errorAck(command.id, command.name, error.ackCode, error.message);
      if (isStorageUnavailable(error)) {
        logger.error({ err: error }, 'cloud command not carried out: the storage cannot take writes');
        return errorAck(command.id, command.name, 'storage_unavailable', `the gateway's storage cannot take writes now (${describeError(error)}); nothing was changed; send the command again later`);
      }
      logger.error({ err: error }, 'cloud command failed unexpectedly');
      return errorAck(command.id, command.name, 'internal_error', `internal error: ${describeError(error)}`);
    }
  }
}

type ReadResult = { readonly command: CloudCommand } | { readonly ack: CommandAck; readonly reason: string };

/** The command's JSON object with a usable id, or the malformed_command ack (with whatever id could be read). */
function readCommand(name: string, payload: Buffer | string): ReadResult {
  let body: unknown;
  try {
    body = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch (error: unknown) {
    return malformed(null, name, `payload is not valid JSON (${describeError(error)})`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return malformed(null, name, 'payload must be a JSON object with an "id"');
  }
  const fields = body as Record<string, unknown>;
  const id = fields.id;
  if (typeof id !== 'string' || id.trim() === '') return malformed(null, name, '"id" is missing or not a non-empty string');
  if (id.length > MAX_ID_LENGTH) return malformed(null, name, `"id" is longer than ${MAX_ID_LENGTH} characters`);
  return { command: { id, name, body: fields } };
}

function malformed(id: string | null, name: string, reason: string): ReadResult {
  return { ack: errorAck(id, name, 'malformed_command', reason), reason };
}
