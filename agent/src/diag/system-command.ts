import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Run a system tool the diagnosis reads from (timedatectl, systemctl,
 * journalctl), bounded in time and output. `missing` when the tool is not
 * on PATH: a container or a development machine has none of them, and that
 * is a skip, never a failure.
 */
export type CommandOutcome =
  | { readonly kind: 'missing'; readonly command: string }
  | { readonly kind: 'ran'; readonly command: string; readonly code: number; readonly stdout: string; readonly stderr: string }
  | { readonly kind: 'error'; readonly command: string; readonly message: string };

export interface CommandOptions {
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
  readonly env?: NodeJS.ProcessEnv;
}

export function runSystemCommand(command: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandOutcome> {
  const env = options.env ?? process.env;
  if (findOnPath(command, env) === undefined) return Promise.resolve({ kind: 'missing', command });
  return new Promise((resolve) => {
    execFile(
      command,
      [...args],
      { timeout: options.timeoutMs ?? 5000, maxBuffer: options.maxBytes ?? 4 * 1024 * 1024, env: { ...env, LC_ALL: 'C', SYSTEMD_PAGER: '', SYSTEMD_COLORS: '0' }, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ kind: 'ran', command, code: 0, stdout, stderr });
          return;
        }
        const code = (error as { code?: unknown }).code;
        if (typeof code === 'number' && !error.killed) resolve({ kind: 'ran', command, code, stdout, stderr });
        else resolve({ kind: 'error', command, message: error.killed ? `timed out or too much output (${error.message.split('\n')[0] ?? ''})` : error.message.split('\n')[0] ?? String(error) });
      },
    );
  });
}

/** The executable `command` would run, or undefined. */
export function findOnPath(command: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (command.includes('/')) return isExecutable(command) ? command : undefined;
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first line a tool printed on failure, for a check's detail. */
export function firstLine(text: string): string {
  return text.split('\n').find((line) => line.trim() !== '')?.trim() ?? '';
}
