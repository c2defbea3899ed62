/** Running `pleevi-edge diag check` as a process against a test site, for the diag-check*.test.ts files. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { runCli } from './run-cli.js';

export interface Check {
  id: string;
  title: string;
  status: 'pass' | 'warn' | 'fail' | 'skip';
  detail: string;
  fix?: string;
}

export const DAY_MS = 24 * 60 * 60 * 1000;

/** A short folder (the admin socket path must fit in 107 bytes) with a config file in it, removed in teardown. */
export function site(t: Test, config: (dir: string) => Record<string, unknown>): { dir: string; configPath: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pe-diag-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ dataDir: join(dir, 'data'), admin: { socket: join(dir, 'admin.sock') }, listen: { host: '127.0.0.1', port: 0 }, ...config(dir) }), { mode: 0o600 });
  return { dir, configPath };
}

export async function diagJson(configPath: string): Promise<{ code: number | null; checks: Check[] }> {
  const run = await runCli(['diag', 'check', '--json', '--config', configPath]);
  return { code: run.code, checks: JSON.parse(run.stdout) as Check[] };
}

export function byId(checks: readonly Check[], id: string): Check {
  const found = checks.find((check) => check.id === id);
  if (!found) throw new Error(`no check ${id} in ${checks.map((check) => check.id).join(', ')}`);
  return found;
}

/** A loopback port nobody listens on. */
export function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
