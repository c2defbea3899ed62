import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Test } from 'tap';
import { CLI, ROOT } from './run-cli.js';
import { waitUntil } from './wait-until.js';

export interface DaemonProcess {
  /** Everything the daemon logged so far. */
  log(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** The real `pleevi-edge run --config FILE` as a process, up once its admin API listens; killed in teardown. */
export async function startDaemon(t: Test, configPath: string): Promise<DaemonProcess> {
  const daemon = spawn(process.execPath, [CLI, 'run', '--config', configPath], { cwd: ROOT });
  let log = '';
  daemon.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
  daemon.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = once(daemon, 'exit');
  t.teardown(() => {
    daemon.kill('SIGKILL');
  });
  // 30 s: an unclaimed gateway makes its RSA key first, which takes seconds on a busy 2-core machine.
  await waitUntil(() => log.includes('admin API listening') || daemon.exitCode !== null, 'the daemon is up', 30_000);
  if (daemon.exitCode !== null) throw new Error(`the daemon exited with ${daemon.exitCode}:\n${log}`);
  return {
    log: () => log,
    stop: async () => {
      daemon.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}
