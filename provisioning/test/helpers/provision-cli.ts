/**
 * The real `pleevi-provision` as a process (from dist/: build first, as
 * `npm test` does), a running `serve` on port 0 with its log kept, and HTTPS
 * requests that trust only the service's own CA.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { ROOT, runNodeScript, type CliRun } from '../../../agent/test/helpers/run-cli.js';
import { loadOrCreateIdentity, type DeviceIdentity } from '../../../agent/src/provisioning/device-identity.js';

export { ROOT, type CliRun };
export const PROVISION_CLI = join(ROOT, 'provisioning/bin/pleevi-provision.js');

export function tempDir(t: Test, prefix = 'pv-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Run one command with a clean environment: PATH plus `env`. */
export function runProvision(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return runNodeScript(PROVISION_CLI, args, { env });
}

export interface PreparedService {
  readonly data: string;
  readonly installer: string;
  readonly operator: string;
  readonly caPem: string;
}

let template: Promise<Omit<PreparedService, 'data'> & { dir: string }> | undefined;

/**
 * A data folder with a CA, a site `s1` (and `s2` with server certificates), an
 * installer and an operator token. Made once per test file by the CLI, then
 * copied for each test (every test still has its own database file): six
 * process starts per test would cost more than the tests themselves.
 */
export async function preparedService(t: Test): Promise<PreparedService> {
  template ??= makeTemplate();
  const made = await template;
  const data = tempDir(t);
  cpSync(made.dir, data, { recursive: true });
  return { data, installer: made.installer, operator: made.operator, caPem: made.caPem };
}

async function makeTemplate(): Promise<Omit<PreparedService, 'data'> & { dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'pv-template-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const run = async (args: string[]): Promise<string> => {
    const result = await runProvision([...args, '--data', dir]);
    if (result.code !== 0) throw new Error(`${args.join(' ')}: exit ${result.code}: ${result.stderr}`);
    return result.stdout;
  };
  await run(['ca', 'init', '--cn', 'Test Provisioning CA']);
  const config = join(dir, 'site.json');
  writeFileSync(config, JSON.stringify({ upstream: { url: 'wss://cpms.example/ocpp' }, mqtt: { url: 'mqtts://broker.example' } }));
  await run(['sites', 'add', 's1', '--config', config]);
  await run(['sites', 'add', 's2', '--config', config, '--server-certificate']);
  const installer = (await run(['tokens', 'add', '--role', 'installer'])).trim();
  const operator = (await run(['tokens', 'add', '--role', 'operator'])).trim();
  return { dir, installer, operator, caPem: readFileSync(join(dir, 'ca.crt'), 'utf8') };
}

export interface RunningService {
  readonly port: number;
  readonly url: string;
  /** Everything it wrote so far, stdout and stderr. */
  output(): string;
  stop(): Promise<number | null>;
}

export function startService(t: Test, data: string, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RunningService> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [PROVISION_CLI, 'serve', '--port', '0', '--data', data, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let started = false;
    const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
    const stop = async (): Promise<number | null> => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    };
    t.teardown(stop);
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const match = /^listening on (https:\/\/127\.0\.0\.1:(\d+))$/m.exec(output);
      if (!started && match?.[1] !== undefined && match[2] !== undefined) {
        started = true;
        resolve({ port: Number(match[2]), url: match[1], output: () => output, stop });
      }
    });
    void exited.then((code) => {
      if (!started) reject(new Error(`serve exited ${code} before listening: ${output}`));
    });
  });
}

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  json(): Record<string, unknown>;
}

export interface RequestOptions {
  readonly method?: string;
  readonly path: string;
  readonly body?: unknown;
  /** Sent as is (not JSON-encoded) when a string. */
  readonly rawBody?: string | Buffer;
  readonly headers?: Record<string, string>;
  readonly token?: string;
  /** A client certificate and key for mutual TLS. */
  readonly cert?: string;
  readonly key?: string;
}

export function call(service: { port: number }, caPem: string, options: RequestOptions): Promise<Answer> {
  const body = options.rawBody ?? (options.body !== undefined ? JSON.stringify(options.body) : undefined);
  const headers: Record<string, string> = {
    ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
    ...(options.token !== undefined ? { authorization: `Bearer ${options.token}` } : {}),
    ...options.headers,
  };
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: service.port,
        method: options.method ?? (body !== undefined ? 'POST' : 'GET'),
        path: options.path,
        headers,
        ca: caPem,
        ...(options.cert !== undefined ? { cert: options.cert, key: options.key } : {}),
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A gateway identity made by the gateway's own code (key, CSR, claim code) in a temp dataDir. */
export function gatewayIdentity(t: Test, gatewayId: string): DeviceIdentity & { keyPem: string; claimCode: string } {
  const dataDir = tempDir(t, 'pv-gw-');
  const identity = loadOrCreateIdentity(dataDir, { gatewayId, source: 'config' });
  const { claimCode } = identity;
  // A fresh identity is unclaimed, so it has its code.
  if (claimCode === undefined) throw new Error(`a new identity for ${gatewayId} has no claim code`);
  return { ...identity, claimCode, keyPem: readFileSync(identity.keyPath, 'utf8') };
}

export function enrollBody(identity: DeviceIdentity, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { gatewayId: identity.gatewayId, serial: `serial-${identity.gatewayId}`, claimCode: identity.claimCode, csr: identity.csrPem, lanAddresses: ['192.168.1.20'], agentVersion: '0.1.0', ...overrides };
}
