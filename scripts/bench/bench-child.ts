import { fork, type ChildProcess } from 'node:child_process';
import { asChildMessage, type ChildMessage, type UsageReport } from './child-ipc.js';
import type { Cleanup } from './cleanup.js';

const READY_TIMEOUT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 8_000;

export interface BenchChildSpec {
  readonly name: string;
  /** Absolute path of the compiled child module (dist/scripts/bench/...). */
  readonly modulePath: string;
  readonly args: readonly string[];
  readonly execArgv?: readonly string[];
}

/** A forked child (CPMS or gateway) as the bench sees it: its port, its usage on request, its stop. */
export class BenchChild {
  private nextId = 1;
  private readonly waiting = new Map<number, (message: ChildMessage) => void>();

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.on('message', (raw: unknown) => {
      const message = asChildMessage(raw);
      if (!message || !('id' in message)) return;
      const resolve = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      resolve?.(message);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  static start(spec: BenchChildSpec, cleanup: Cleanup): Promise<BenchChild> {
    const child = fork(spec.modulePath, [...spec.args], {
      execArgv: [...(spec.execArgv ?? [])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    cleanup.track(child);
    return new Promise((resolve, reject) => {
      const fail = (reason: string): void => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new Error(`${spec.name} process did not start: ${reason}`));
      };
      const timer = setTimeout(() => fail(`no port within ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => fail(`exited (${signal ?? code})`);
      const onError = (error: Error): void => fail(error.message);
      child.once('exit', onExit);
      child.once('error', onError);
      const onMessage = (raw: unknown): void => {
        const message = asChildMessage(raw);
        if (message?.kind === 'failed') fail(message.message);
        if (message?.kind !== 'ready') return;
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        child.off('error', onError);
        resolve(new BenchChild(spec.name, child, message.port));
      };
      child.on('message', onMessage);
    });
  }

  /** RSS, heap and CPU time of the child, measured by the child; `gc` first collects garbage (needs --expose-gc). */
  async usage(gc = false): Promise<UsageReport> {
    const message = await this.request((id) => ({ kind: 'usage', id, gc }));
    if (message.kind !== 'usage') throw new Error(`${this.name} answered ${message.kind} to a usage request`);
    return message.report;
  }

  /** Ask the child to close its server and exit; kill it if it does not. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (this.child.connected) this.child.send({ kind: 'stop', id: this.nextId++ });
    else this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  private request(build: (id: number) => object): Promise<ChildMessage> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.name} did not answer within ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.waiting.set(id, (message) => {
        clearTimeout(timer);
        resolve(message);
      });
      this.child.send(build(id));
    });
  }
}
