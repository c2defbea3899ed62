/**
 * A real mosquitto broker per test file, started from its own config in the
 * test's folder: one plain listener and, when asked, a TLS listener that
 * requires a client certificate signed by the test CA (the identity becomes
 * the MQTT username, as on the production broker). Both on free loopback
 * ports that stay the same across `stop()` / `start()`, so a client can
 * reconnect to "the same broker after a restart".
 *
 * Persistence is on (in the test folder): sessions, queued messages and
 * retained status survive a restart, as they do on a real broker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import type { Test } from 'tap';
import { createCa, issueServerCert, type CertificateAuthority } from './certs.js';

export const MOSQUITTO_BIN = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';

/** A reason to skip, for `t.test(name, { skip }, ...)`, when the broker is not installed. */
export const MOSQUITTO_MISSING: string | false = existsSync(MOSQUITTO_BIN)
  ? false
  : `mosquitto not found at ${MOSQUITTO_BIN} (apt-get install mosquitto, or set MOSQUITTO_BIN)`;

export interface MosquittoOptions {
  /** Add the mutual-TLS listener. */
  readonly tls?: boolean;
  /** More CAs (PEM) whose client certificates the TLS listener accepts, e.g. an enrollment service's. */
  readonly clientCas?: readonly string[];
}

export interface MosquittoBroker {
  readonly port: number;
  /** `mqtt://127.0.0.1:<port>` */
  readonly url: string;
  /** Present with `tls: true`. */
  readonly tls?: {
    readonly port: number;
    /** `mqtts://127.0.0.1:<port>` */
    readonly url: string;
    /** The CA that signed the broker's certificate and must sign every client's. */
    readonly ca: CertificateAuthority;
  };
  /** Everything mosquitto logged so far, for failure messages. */
  log(): string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** Start mosquitto for this test; stopped in teardown. */
export async function startMosquitto(t: Test, options: MosquittoOptions = {}): Promise<MosquittoBroker> {
  const dir = t.testdir();
  const port = await freePort();
  const lines = [
    'per_listener_settings false',
    'allow_anonymous true',
    'persistence true',
    `persistence_location ${dir}/`,
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    // Root in a container would otherwise drop to the mosquitto user, who cannot read the test folder.
    'user root',
    `listener ${port} 127.0.0.1`,
  ];
  let tls: MosquittoBroker['tls'];
  if (options.tls === true) {
    const ca = await createCa('Pleevi test MQTT CA');
    const server = await issueServerCert(ca);
    writeFileSync(join(dir, 'ca.pem'), [ca.cert, ...(options.clientCas ?? [])].map((pem) => pem.trim()).join('\n') + '\n');
    writeFileSync(join(dir, 'server.pem'), server.cert);
    writeFileSync(join(dir, 'server.key'), server.key);
    const tlsPort = await freePort();
    lines.push(
      `listener ${tlsPort} 127.0.0.1`,
      `cafile ${join(dir, 'ca.pem')}`,
      `certfile ${join(dir, 'server.pem')}`,
      `keyfile ${join(dir, 'server.key')}`,
      'require_certificate true',
      'use_identity_as_username true',
    );
    tls = { port: tlsPort, url: `mqtts://127.0.0.1:${tlsPort}`, ca };
  }
  const configFile = join(dir, 'mosquitto.conf');
  writeFileSync(configFile, `${lines.join('\n')}\n`);

  let child: ChildProcess | undefined;
  let output = '';
  const start = async (): Promise<void> => {
    if (child !== undefined) return;
    const started = spawn(MOSQUITTO_BIN, ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    started.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    started.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    started.on('exit', () => {
      if (child === started) child = undefined;
    });
    const deadline = Date.now() + 5_000;
    for (const listening of [port, ...(tls ? [tls.port] : [])]) {
      while (!(await accepts(listening))) {
        if (child !== started) throw new Error(`mosquitto exited at start:\n${output}`);
        if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${listening} within 5 s:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  };
  const stop = async (): Promise<void> => {
    const running = child;
    if (running === undefined) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    // SIGTERM: mosquitto saves its persistence file (sessions, queued and retained messages) and closes every client.
    running.kill('SIGTERM');
    await exited;
  };
  await start();
  t.teardown(stop);
  return { port, url: `mqtt://127.0.0.1:${port}`, ...(tls ? { tls } : {}), log: () => output, stop, start };
}

/** A loopback port nobody listens on right now (the kernel's pick, released at once). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (address !== null && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
