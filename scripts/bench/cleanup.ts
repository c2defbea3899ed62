import { rmSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';

const GENTLE_STOP_MS = 1_500;

/**
 * Everything the bench started, ended on every way out: normal end, error,
 * Ctrl-C, SIGTERM, or the run's own time limit. Only the processes the bench
 * spawned itself are signalled, by their pid.
 */
export class Cleanup {
  private readonly children = new Set<ChildProcess>();
  private readonly dirs = new Set<string>();
  private readonly actions: Array<() => void> = [];
  private installed = false;

  track(child: ChildProcess): void {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
  }

  /** A synchronous last step, e.g. ending a grandchild such as nginx's worker, which outlives a killed master. */
  add(action: () => void): void {
    this.actions.push(action);
  }

  trackDir(dir: string): void {
    this.dirs.add(dir);
  }

  /** Synchronous, so it also works from the 'exit' event. */
  runNow(): void {
    for (const child of this.children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    this.children.clear();
    for (const action of this.actions.splice(0)) {
      try {
        action();
      } catch {
        // Best effort: the process may already be gone.
      }
    }
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
    this.dirs.clear();
  }

  /** SIGTERM first, so nginx's master ends its worker and every child is reaped; SIGKILL follows in runNow. */
  private async stopGently(): Promise<void> {
    const exits = [...this.children].map((child) => new Promise<void>((resolve) => child.once('exit', () => resolve())));
    for (const child of this.children) child.kill('SIGTERM');
    await Promise.race([Promise.all(exits), new Promise((resolve) => setTimeout(resolve, GENTLE_STOP_MS))]);
  }

  install(): void {
    if (this.installed) return;
    this.installed = true;
    process.once('exit', () => this.runNow());
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(signal, () => {
        process.stderr.write(`\nbench: ${signal}, stopping the processes it started\n`);
        void this.stopGently().then(() => {
          this.runNow();
          process.exit(130);
        });
      });
    }
  }
}
