import { spawn } from 'node:child_process';
import type { Logger } from '../util/logger.js';

/** Longest a stop or start command may take; `systemctl stop` waits at most the unit's TimeoutStopSec (20 s). */
const COMMAND_TIMEOUT_MS = 90_000;

/**
 * Run one of the helper's service commands (`systemctl stop ...`, or a
 * test's script) through /bin/sh. A failure is logged, not thrown: whether
 * the update holds is decided by the readiness check, not by the exit code.
 */
export function runShellCommand(command: string, logger: Logger, what: string): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer): void => {
      if (output.length < 4000) output += chunk.toString('utf8');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      logger.error({ err: error, command }, `cannot ${what}`);
      resolve(null);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) logger.info({ command }, what);
      else logger.warn({ command, code, output: output.trim() }, `${what}: the command failed`);
      resolve(code);
    });
  });
}
