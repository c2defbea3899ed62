import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import type { Logger } from './logger.js';

/** systemd-notify (npm) is CommonJS without typings: this is the part of it we use. */
type NotifyFunction = (options: { ready?: boolean; status?: string; pid?: number }) => Promise<unknown>;
const notify = createRequire(import.meta.url)('systemd-notify') as NotifyFunction;

/**
 * Tells systemd how the daemon is doing (Type=notify): READY=1 once the
 * listeners are up, WATCHDOG=1 at half the unit's WatchdogSec, STOPPING=1 on
 * the way out. Outside systemd (no NOTIFY_SOCKET) every call is a no-op.
 *
 * Node cannot send to a unix datagram socket itself, so this spawns the
 * `systemd-notify` binary (through the systemd-notify package for READY and
 * STATUS; directly for WATCHDOG and STOPPING, which the package cannot send).
 * The unit therefore needs `NotifyAccess=all`.
 */
export class ServiceNotifier {
  private watchdogTimer: NodeJS.Timeout | undefined;
  private readonly enabled: boolean;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly logger: Logger,
  ) {
    this.enabled = typeof env.NOTIFY_SOCKET === 'string' && env.NOTIFY_SOCKET.length > 0;
  }

  async ready(status: string): Promise<void> {
    if (!this.enabled) return;
    try {
      await notify({ ready: true, status, pid: process.pid });
    } catch (error: unknown) {
      this.logger.warn({ err: String(error) }, 'could not tell systemd the daemon is ready');
    }
    this.startWatchdog();
  }

  /** A new one-line status for `systemctl status` (e.g. claimed: now relaying). */
  status(text: string): Promise<void> {
    return this.send(`STATUS=${text}`);
  }

  stopping(): Promise<void> {
    clearInterval(this.watchdogTimer);
    return this.send('STOPPING=1');
  }

  private startWatchdog(): void {
    const usec = Number(this.env.WATCHDOG_USEC);
    if (!Number.isFinite(usec) || usec <= 0) return;
    // systemd's advice (sd_watchdog_enabled(3)): ping at half the interval.
    const intervalMs = Math.max(100, Math.floor(usec / 2000));
    this.watchdogTimer = setInterval(() => void this.send('WATCHDOG=1'), intervalMs);
    this.watchdogTimer.unref();
    void this.send('WATCHDOG=1');
  }

  private send(assignment: string): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    return new Promise((resolve) => {
      const child = spawn('systemd-notify', [assignment, `--pid=${process.pid}`], { stdio: 'ignore', env: this.env });
      child.on('error', (error) => {
        this.logger.warn({ err: error.message, assignment }, 'systemd-notify failed');
        resolve();
      });
      child.on('close', () => resolve());
    });
  }
}
