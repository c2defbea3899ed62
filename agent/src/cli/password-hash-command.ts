import { parseArgs } from 'node:util';
import { hashPassword } from '../auth/password-hash.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliCommand, type CliIo } from './cli-io.js';

const PASSWORD_HASH_USAGE = `Usage: pleevi-edge password hash < password.txt

Read a station password from stdin (the first line) and print its scrypt hash,
to put into "passwordHash" of a station in the configuration file. On a
terminal the password is asked for twice and not echoed.
`;

/** Nobody types more; a larger input is a wrong file piped in. */
const MAX_PASSWORD_BYTES = 1024;

/**
 * OCPP 2.0.1 (SecurityCtrlr.BasicAuthPassword) and the OCPP 1.6 security
 * whitepaper (AuthorizationKey) expect 16 to 40 characters. Other lengths work
 * with this gateway, so this is a warning, not an error.
 */
const OCPP_MIN_LENGTH = 16;
const OCPP_MAX_LENGTH = 40;

/** stdin as this command needs it; process.stdin in production, a Readable in tests. */
export interface PasswordInput extends NodeJS.ReadableStream {
  readonly isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

/** `pleevi-edge password hash`. Reads process.stdin only when run, so other commands never touch it. */
export const passwordHashCommand: CliCommand = (args, io) => runPasswordHash(args, io, process.stdin);

export async function runPasswordHash(args: readonly string[], io: CliIo, stdin: PasswordInput): Promise<number> {
  let flags;
  try {
    flags = parseArgs({ args: [...args], options: { help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }).values;
  } catch (error: unknown) {
    io.stderr.write(`pleevi-edge password hash: ${error instanceof Error ? error.message : String(error)}\n\n${PASSWORD_HASH_USAGE}`);
    return EXIT_USAGE;
  }
  if (flags.help) {
    io.stdout.write(PASSWORD_HASH_USAGE);
    return EXIT_OK;
  }

  let password: string | undefined;
  if (stdin.isTTY === true && stdin.setRawMode) {
    password = await readHidden(stdin, io, 'Password: ');
    if (password === undefined) return interrupted(io);
    const again = await readHidden(stdin, io, 'Again: ');
    if (again === undefined) return interrupted(io);
    if (again !== password) {
      io.stderr.write('pleevi-edge password hash: the two passwords differ\n');
      return EXIT_USAGE;
    }
  } else {
    password = await readFirstLine(stdin);
  }

  if (password === undefined) {
    io.stderr.write(`pleevi-edge password hash: input longer than ${MAX_PASSWORD_BYTES} bytes without a newline\n`);
    return EXIT_USAGE;
  }
  if (password === '') {
    io.stderr.write('pleevi-edge password hash: empty password (write it on the first line of stdin)\n');
    return EXIT_USAGE;
  }
  const length = [...password].length;
  if (length < OCPP_MIN_LENGTH || length > OCPP_MAX_LENGTH) {
    io.stderr.write(
      `warning: the password has ${length} characters; OCPP (2.0.1 BasicAuthPassword, 1.6 security whitepaper) ` +
        `expects ${OCPP_MIN_LENGTH} to ${OCPP_MAX_LENGTH}, so a station may refuse it\n`,
    );
  }
  io.stdout.write(`${await hashPassword(password)}\n`);
  return EXIT_OK;
}

function interrupted(io: CliIo): number {
  io.stderr.write('pleevi-edge password hash: interrupted\n');
  return EXIT_FAILURE;
}

/**
 * The first line of a piped stdin without its line ending ('\n' or '\r\n');
 * everything else on the line, blanks included, is part of the password.
 * Undefined when there is no line ending within MAX_PASSWORD_BYTES.
 */
export async function readFirstLine(stream: NodeJS.ReadableStream): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const newline = bytes.indexOf(0x0a);
    const part = newline >= 0 ? bytes.subarray(0, newline) : bytes;
    chunks.push(part);
    size += part.length;
    if (size > MAX_PASSWORD_BYTES) return undefined;
    // Leaving the loop destroys the stream: the rest of stdin is not ours to read.
    if (newline >= 0) break;
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\r$/, '');
}

/** One line from a terminal in raw mode, not echoed. Undefined on Ctrl-C. */
function readHidden(stdin: PasswordInput, io: CliIo, prompt: string): Promise<string | undefined> {
  io.stderr.write(prompt);
  stdin.setRawMode?.(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve) => {
    let text = '';
    const finish = (value: string | undefined): void => {
      stdin.removeListener('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      io.stderr.write('\n');
      resolve(value);
    };
    const onData = (chunk: string | Buffer): void => {
      for (const char of chunk.toString()) {
        if (char === '\r' || char === '\n' || char === '\u0004') return finish(text);
        if (char === '\u0003') return finish(undefined);
        if (char === '\u007f' || char === '\b') text = [...text].slice(0, -1).join('');
        else text += char;
      }
    };
    stdin.on('data', onData);
  });
}
