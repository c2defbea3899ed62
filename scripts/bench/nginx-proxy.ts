import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Cleanup } from './cleanup.js';
import { childPids, sampleProcess, type ProcSample } from './proc-stat.js';

/** Debian's nginx-light puts the binary here. */
export const NGINX_PATH = '/usr/sbin/nginx';
const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

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
function nginxConf(dir: string, port: number, upstreamPort: number): string {
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
      proxy_pass http://cpms;
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
  ) {}

  static async start(dir: string, upstreamPort: number, cleanup: Cleanup): Promise<NginxProxy> {
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const confPath = join(dir, 'nginx.conf');
    writeFileSync(confPath, nginxConf(dir, port, upstreamPort));
    // -e: nginx otherwise opens the packaged /var/log/nginx/error.log before reading the config.
    const master = spawn(NGINX_PATH, ['-p', dir, '-c', confPath, '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
    cleanup.track(master);
    let stderr = '';
    master.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    try {
      await waitForPort(port, master);
    } catch (error: unknown) {
      master.kill('SIGKILL');
      const log = existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '';
      throw new Error(`nginx did not start: ${error instanceof Error ? error.message : String(error)} ${stderr} ${log}`.trim());
    }
    const workers = master.pid === undefined ? [] : childPids(master.pid);
    const workerPid = workers[0];
    if (workerPid === undefined || workers.length !== 1) {
      master.kill('SIGKILL');
      throw new Error(`expected one nginx worker, found ${workers.length}`);
    }
    cleanup.add(() => {
      if (master.exitCode === null && master.signalCode === null) process.kill(workerPid, 'SIGKILL');
    });
    return new NginxProxy(master, port, workerPid, dir);
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
  }
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
