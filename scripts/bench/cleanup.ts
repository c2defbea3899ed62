import { rmSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';

/**
 * Everything the bench started, ended on every way out: normal end, error,
 * Ctrl-C, SIGTERM, or the run's own time limit. Only the processes the bench
 * spawned itself are signalled, by their pid.
 */
export class Cleanup {
  private readonly children = new Set<ChildProcess>();
  private readonly dirs = new Set<string>();
  private installed = false;

  track(child: ChildProcess): void {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
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
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
    this.dirs.clear();
  }

  install(): void {
    if (this.installed) return;
    this.installed = true;
    process.once('exit', () => this.runNow());
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(signal, () => {
        process.stderr.write(`\nbench: ${signal}, stopping the processes it started\n`);
        this.runNow();
        process.exit(130);
      });
    }
  }
}
