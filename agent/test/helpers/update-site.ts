/**
 * A gateway installed as on the appliance, in a temp folder: releases/,
 * `current`, the config with `updates.*`, the pinned public key, and the
 * stop / start commands the update helper runs (here small scripts that
 * stop the test daemon and start the one under `current`, where production
 * runs systemctl). The daemon and the helper are real processes.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Test } from 'tap';
import { adminGet } from '../../src/admin/admin-client.js';
import { switchCurrent, unpackRelease } from '../../src/update/install-tree.js';
import type { ReleaseBundle } from './release-bundle.js';
import { runNodeScript, type CliRun } from './run-cli.js';
import { waitUntilAsync } from './wait-until.js';

export interface UpdateSiteOptions {
  readonly installed: ReleaseBundle;
  readonly publicKeyPem: string;
  readonly upstreamUrl: string;
  readonly mqttUrl?: string;
  readonly readyTimeoutS?: number;
  readonly gatewayId?: string;
}

export interface UpdateSite {
  readonly dir: string;
  readonly installDir: string;
  readonly dataDir: string;
  readonly updatesDir: string;
  readonly configPath: string;
  readonly adminSocket: string;
  readonly logFile: string;
  /** `pleevi-edge ...` from the installed `current` release. */
  cli(args: readonly string[]): Promise<CliRun>;
  /** The update helper of the `current` release, with this site's folders and commands. */
  helper(args?: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliRun>;
  start(): void;
  stop(): void;
  /** Stop the daemon as a power cut would: SIGKILL. */
  kill(): void;
  /** The daemon's /v1/status, or undefined when it does not answer. */
  status(): Promise<{ version?: string; listen?: { port: number } } | undefined>;
  waitForVersion(version: string, limitMs?: number): Promise<{ listen: { port: number } }>;
  /** Every file under the install and updates folders with its size and link target: equal before and after means nothing changed. */
  manifest(): string;
  log(): string;
}

export async function makeUpdateSite(t: Test, options: UpdateSiteOptions): Promise<UpdateSite> {
  // A short folder: the admin socket path must fit in 107 bytes.
  const dir = mkdtempSync(join(tmpdir(), 'pe-upd-'));
  const installDir = join(dir, 'opt');
  const dataDir = join(dir, 'data');
  const updatesDir = join(dataDir, 'updates');
  const configPath = join(dir, 'config.json');
  const adminSocket = join(dir, 'admin.sock');
  const pidFile = join(dir, 'daemon.pid');
  const logFile = join(dir, 'daemon.log');
  const publicKey = join(dir, 'update-signing.pub');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(publicKey, options.publicKeyPem);
  writeFileSync(
    configPath,
    JSON.stringify({
      gatewayId: options.gatewayId ?? 'gw-upd',
      dataDir,
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { url: options.upstreamUrl },
      admin: { socket: adminSocket },
      ...(options.mqttUrl !== undefined ? { mqtt: { url: options.mqttUrl } } : {}),
      updates: { publicKey, readyTimeoutS: options.readyTimeoutS ?? 30 },
    }),
  );
  chmodSync(configPath, 0o640);
  await unpackRelease(installDir, options.installed.version, readFileSync(options.installed.file));
  switchCurrent(installDir, options.installed.version);

  const startScript = join(dir, 'start.sh');
  const stopScript = join(dir, 'stop.sh');
  writeFileSync(
    startScript,
    `#!/bin/sh\nnohup ${process.execPath} ${join(installDir, 'current', 'agent', 'bin', 'pleevi-edge.js')} run --config ${configPath} >> ${logFile} 2>&1 &\necho $! > ${pidFile}\n`,
  );
  // Waits for the daemon to be gone (a zombie counts as gone), SIGKILL after 10 s.
  writeFileSync(
    stopScript,
    `#!/bin/sh
[ -f ${pidFile} ] || exit 0
pid=$(cat ${pidFile})
kill -TERM "$pid" 2>/dev/null
i=0
while kill -0 "$pid" 2>/dev/null && ! grep -q '^State:.*Z' /proc/$pid/status 2>/dev/null; do
  i=$((i+1))
  [ $i -eq 200 ] && kill -KILL "$pid" 2>/dev/null
  [ $i -gt 400 ] && break
  sleep 0.05
done
rm -f ${pidFile}
`,
  );
  const sh = (script: string): void => {
    const result = spawnSync('/bin/sh', [script], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${script} failed: ${result.stderr}`);
  };
  const kill = (): void => {
    if (!existsSync(pidFile)) return;
    try {
      process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(pidFile, { force: true });
  };
  t.teardown(() => {
    kill();
    rmSync(dir, { recursive: true, force: true });
  });
  const status = async (): Promise<{ version?: string; listen?: { port: number } } | undefined> => {
    try {
      return (await adminGet(adminSocket, '/v1/status', 2000)) as { version?: string; listen?: { port: number } };
    } catch {
      return undefined;
    }
  };
  const site: UpdateSite = {
    dir,
    installDir,
    dataDir,
    updatesDir,
    configPath,
    adminSocket,
    logFile,
    cli: (args) => runNodeScript(join(installDir, 'current', 'agent', 'bin', 'pleevi-edge.js'), [...args, '--config', configPath]),
    helper: (args = [], env = {}) =>
      runNodeScript(
        join(installDir, 'current', 'dist', 'agent', 'src', 'update', 'update-helper-main.js'),
        ['--config', configPath, '--install-dir', installDir, '--stop-command', `/bin/sh ${stopScript}`, '--start-command', `/bin/sh ${startScript}`, ...args],
        { env: { ...process.env, ...env } },
      ),
    start: () => sh(startScript),
    stop: () => sh(stopScript),
    kill,
    status,
    waitForVersion: async (version, limitMs = 20_000) => {
      let seen: { version?: string; listen?: { port: number } } | undefined;
      await waitUntilAsync(async () => {
        seen = await status();
        return seen?.version === version;
      }, `the daemon answers as ${version}`, limitMs);
      return seen as { listen: { port: number } };
    },
    manifest: () => [installDir, updatesDir].flatMap((root) => listTree(root).map((path) => describeEntry(root, path))).join('\n'),
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
  };
  return site;
}

function listTree(root: string): string[] {
  if (!existsSync(root)) return [];
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      out.push(path);
      if (lstatSync(path).isDirectory()) walk(path);
    }
  };
  walk(root);
  return out;
}

function describeEntry(root: string, path: string): string {
  const info = lstatSync(path);
  const name = `${root}:${relative(root, path)}`;
  if (info.isSymbolicLink()) return `${name} -> ${readlinkSync(path)}`;
  return `${name} ${info.isDirectory() ? 'dir' : `${info.size} ${info.mtimeMs}`}`;
}
