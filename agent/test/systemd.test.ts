import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ROOT } from './helpers/run-cli.js';
import { waitUntil } from './helpers/wait-until.js';

const UNIT = join(ROOT, 'systemd/pleevi-edge.service');

t.test('the unit file passes systemd-analyze verify without a warning', { skip: existsSync('/usr/bin/systemd-analyze') ? false : 'systemd-analyze not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pe-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Point ExecStart at this checkout: verify fails when the binary is missing.
  const unit = readFileSync(UNIT, 'utf8').replace(/^ExecStart=\S+ \S+/m, `ExecStart=${process.execPath} ${CLI}`);
  const path = join(dir, 'pleevi-edge.service');
  writeFileSync(path, unit);
  const result = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
  // systemd-analyze only warns (exit 0) on unknown keys or bad values: any stderr is a failure.
  t.equal(result.stderr.trim(), '', 'no complaint about the unit');
  t.equal(result.status, 0);
  // The same check does catch a bad key, so the empty stderr above means something.
  writeFileSync(path, unit.replace('[Service]', '[Service]\nWatchdogSecs=30'));
  const broken = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
  t.match(broken.stderr, /Unknown key 'WatchdogSecs'/, 'a misspelt key is reported');
});

t.test('under systemd the daemon sends READY, WATCHDOG and STOPPING', { skip: existsSync('/usr/bin/systemd-notify') ? false : 'systemd-notify not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pe-notify-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socketPath = join(dir, 'notify.sock');
  // python3 stands in for systemd: a unix datagram socket that prints what it receives.
  const listener = spawn('python3', ['-u', '-c', `
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(${JSON.stringify(socketPath)})
print("LISTENING", flush=True)
while True:
    print(s.recv(4096).decode().replace("\\n", " "), flush=True)
`]);
  t.teardown(() => listener.kill('SIGKILL'));
  let received = '';
  listener.stdout.on('data', (chunk: Buffer) => (received += chunk.toString()));
  await waitUntil(() => received.includes('LISTENING'), 'the stand-in for systemd listens');

  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0 }, upstream: { url: 'ws://127.0.0.1:9/ocpp' }, admin: { socket: join(dir, 'a.sock') } }));
  const daemon = spawn(process.execPath, [CLI, 'run', '--config', configPath], {
    env: { ...process.env, NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: '400000' },
  });
  t.teardown(() => daemon.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => daemon.once('exit', (code) => resolve(code)));
  await waitUntil(() => /READY=1/.test(received), 'READY=1 arrives');
  t.match(received, /STATUS=relaying on port \d+/, 'with a status line');
  await waitUntil(() => (received.match(/WATCHDOG=1/g) ?? []).length >= 2, 'the watchdog keeps pinging');
  daemon.kill('SIGTERM');
  await waitUntil(() => /STOPPING=1/.test(received), 'STOPPING=1 on SIGTERM');
  t.equal(await exited, 0);
  t.match(received, new RegExp(`MAINPID=${daemon.pid}`), 'the notifications name the daemon as the main PID');
});

t.test('outside systemd nothing is sent and nothing fails', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pe-nonotify-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0 }, upstream: { url: 'ws://127.0.0.1:9/ocpp' }, admin: { socket: join(dir, 'a.sock') } }));
  const env = { ...process.env };
  delete env.NOTIFY_SOCKET;
  const daemon = spawn(process.execPath, [CLI, 'run', '--config', configPath], { env });
  let out = '';
  daemon.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => daemon.once('exit', (code) => resolve(code)));
  await waitUntil(() => out.includes('admin API listening'), 'the daemon is up');
  daemon.kill('SIGTERM');
  t.equal(await exited, 0);
  t.notMatch(out, /systemd/, 'no complaint about systemd');
});

t.test('every unit runs its program from the installed release through /opt/pleevi-edge/current, and the program is in the release tree', async (t) => {
  const { readdirSync } = await import('node:fs');
  const units = readdirSync(join(ROOT, 'systemd')).filter((name) => /\.(service|path)$/.test(name));
  t.ok(units.length >= 5, `the units: ${units.join(', ')}`);
  for (const name of units) {
    const text = readFileSync(join(ROOT, 'systemd', name), 'utf8');
    for (const line of text.split('\n').filter((l) => /^(ExecStart|ExecStartPre|ExecStopPost|Documentation)=/.test(l))) {
      for (const path of line.match(/\/opt\/pleevi-edge\/\S*/g) ?? []) {
        t.match(path, /^\/opt\/pleevi-edge\/current\//, `${name}: ${path} goes through current/ (switched by updates)`);
        const inRelease = path.replace(/^\/opt\/pleevi-edge\/current\//, '');
        t.ok(existsSync(join(ROOT, inRelease)), `${name}: ${inRelease} exists in the built tree`);
      }
    }
  }
});
