import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Cleanup } from './cleanup.js';
import { childPids, sampleProcess, type ProcSample } from './proc-stat.js';

/** Debian's nginx-light puts the binary here. */
export const NGINX_PATH = '/usr/sbin/nginx';
const READY_TIMEOUT_MS = 10_000;
/** The listening port opens in the master before it forks its worker: wait this long for the worker too. */
const WORKER_TIMEOUT_MS = 5_000;
const STOP_TIMEOUT_MS = 5_000;

/** A `wss://` CPMS with mutual TLS: the same files the gateway is given (PEM paths). */
export interface NginxUpstreamTls {
  readonly caPath: string;
  readonly clientCertPath: string;
  readonly clientKeyPath: string;
}

export function nginxVersion(): string | undefined {
  if (!existsSync(NGINX_PATH)) return undefined;
  // nginx prints its version on stderr.
  const result = spawnSync(NGINX_PATH, ['-v'], { encoding: 'utf8' });
  return `${result.stderr}${result.stdout}`.trim() || undefined;
}

/**
 * The yardstick: nginx as a plain WebSocket reverse proxy with one worker,
 * the way it is commonly put in front of a CPMS. One upgraded connection holds
 * two connections in the worker, so 2,000 stations need 4,000+ of them and as
 * many file descriptors.
 */
function nginxConf(dir: string, port: number, upstreamPort: number, tls?: NginxUpstreamTls): string {
  // Verified as the gateway verifies (its ca, its client certificate). nginx
  // checks DNS names only, hence proxy_ssl_name; it reuses TLS sessions
  // upstream by default (proxy_ssl_session_reuse on), which the gateway's ws
  // client does not.
  const upstreamTls = tls
    ? `
      proxy_ssl_certificate ${tls.clientCertPath};
      proxy_ssl_certificate_key ${tls.clientKeyPath};
      proxy_ssl_trusted_certificate ${tls.caPath};
      proxy_ssl_verify on;
      proxy_ssl_verify_depth 2;
      proxy_ssl_name localhost;
      proxy_ssl_server_name on;`
    : '';
  return `worker_processes 1;
daemon off;
master_process on;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
worker_rlimit_nofile 16384;
events {
  worker_connections 10000;
}
http {
  access_log ${join(dir, 'access.log')};
  client_body_temp_path ${join(dir, 'client_body')};
  proxy_temp_path ${join(dir, 'proxy')};
  upstream cpms {
    server 127.0.0.1:${upstreamPort};
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass ${tls ? 'https' : 'http'}://cpms;${upstreamTls}
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header Host $host;
      proxy_read_timeout 3600s;
      proxy_send_timeout 3600s;
    }
  }
}
`;
}

export class NginxProxy {
  private constructor(
    private readonly master: ChildProcess,
    readonly port: number,
    private readonly workerPid: number,
    private readonly dir: string,
    private readonly workersSeen: Set<number>,
  ) {}

  static async start(dir: string, upstreamPort: number, cleanup: Cleanup, upstreamTls?: NginxUpstreamTls): Promise<NginxProxy> {
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const confPath = join(dir, 'nginx.conf');
    writeFileSync(confPath, nginxConf(dir, port, upstreamPort, upstreamTls));
    // -e: nginx otherwise opens the packaged /var/log/nginx/error.log before reading the config.
    const master = spawn(NGINX_PATH, ['-p', dir, '-c', confPath, '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
    cleanup.track(master);
    let stderr = '';
    master.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // Every worker ever seen is ended on every way out, even if the master is
    // killed first (a worker outlives a SIGKILLed master).
    const workersSeen = new Set<number>();
    cleanup.add(() => killWorkers(workersSeen));
    const fail = (reason: string): Error => {
      for (const pid of master.pid === undefined ? [] : childPids(master.pid)) workersSeen.add(pid);
      master.kill('SIGKILL');
      killWorkers(workersSeen);
      const log = existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '';
      return new Error(`nginx did not start: ${reason} ${stderr} ${log}`.trim());
    };
    try {
      await waitForPort(port, master);
    } catch (error: unknown) {
      throw fail(error instanceof Error ? error.message : String(error));
    }
    const workers = await waitForWorker(master, workersSeen);
    const workerPid = workers[0];
    if (workerPid === undefined || workers.length !== 1) throw fail(`expected one nginx worker within ${WORKER_TIMEOUT_MS} ms, found ${workers.length}`);
    return new NginxProxy(master, port, workerPid, dir, workersSeen);
  }

  /** The worker does all the relaying; the master only supervises. */
  sample(): ProcSample {
    return sampleProcess(this.workerPid);
  }

  errorLogTail(): string {
    const path = join(this.dir, 'error.log');
    if (!existsSync(path)) return '';
    return readFileSync(path, 'utf8').split('\n').slice(-5).join('\n').trim();
  }

  async stop(): Promise<void> {
    if (this.master.exitCode !== null || this.master.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.master.once('exit', () => resolve()));
    // SIGTERM is nginx's fast shutdown: the master ends its worker, then itself.
    this.master.kill('SIGTERM');
    const timer = setTimeout(() => {
      try {
        process.kill(this.workerPid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      this.master.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    // The master ended its worker before it exited; nothing is left to end.
    this.workersSeen.clear();
  }
}

/** SIGKILL what is still an nginx process among `pids` (a pid is never signalled once reused by something else). */
function killWorkers(pids: Set<number>): void {
  for (const pid of pids) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'nginx') process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  pids.clear();
}

/** The master's workers once there is one (it forks after opening the port), recording each in `seen`. */
async function waitForWorker(master: ChildProcess, seen: Set<number>): Promise<number[]> {
  const deadline = Date.now() + WORKER_TIMEOUT_MS;
  let workers: number[] = [];
  while (master.pid !== undefined && master.exitCode === null && master.signalCode === null) {
    workers = childPids(master.pid);
    for (const pid of workers) seen.add(pid);
    if (workers.length > 0 || Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return workers;
}

/** A port the kernel just handed out on loopback; nginx cannot take port 0 and report it back. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, owner: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (owner.exitCode !== null) throw new Error(`exited with code ${owner.exitCode}`);
    if (await canConnect(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`port ${port} not open within ${READY_TIMEOUT_MS} ms`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
