import t from 'tap';
import { CLI, ROOT, runCli, type CliRun } from './helpers/run-cli.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectStation, startCpms } from './helpers/ocpp-peers.js';
import { waitUntil } from './helpers/wait-until.js';

t.test('pleevi-edge run serves stations; status reads the live picture; SIGTERM stops it cleanly', async (t) => {
  const cpms = await startCpms({ onClient: (client) => client.handle('Heartbeat', () => ({ currentTime: new Date().toISOString() })) });
  t.teardown(() => cpms.close());
  // A short folder: a unix socket path must fit in 107 bytes.
  const dir = mkdtempSync(join(tmpdir(), 'pe-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = join(dir, 'config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      gatewayId: 'gw-cli-test',
      dataDir: join(dir, 'data'),
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { url: cpms.url },
      stations: { list: [{ id: 'CP-CLI', password: 'cli-test-password-1' }] },
      admin: { socket: join(dir, 'admin.sock') },
    }),
  );
  // As `sudo tee` leaves it: readable by everyone, with a station password in it.
  chmodSync(configPath, 0o644);
  const daemon: ChildProcess = spawn(process.execPath, [CLI, 'run', '--config', configPath], { cwd: ROOT });
  let log = '';
  daemon.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  daemon.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => daemon.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    daemon.kill('SIGKILL');
  });
  await waitUntil(() => log.includes('admin API listening'), 'the daemon is up');
  t.match(
    log,
    /"level":"warn"[^\n]*"mode":"0644","readableBy":"every user on this machine","secrets":\["\$\.stations\.list\[0\]\.password"\],"fix":"sudo chown root:pleevi-edge [^"]+ && sudo chmod 640 [^"]+[^\n]*"msg":"the config file holds secrets and other users can read it"/,
    'a world-readable config with a password is warned about at start',
  );

  const before = await runCli(['status', '--json', '--config', configPath]);
  t.equal(before.code, 0, 'status exits 0');
  const status = JSON.parse(before.stdout) as { gatewayId: string; listen: { port: number }; stations: unknown[] };
  t.equal(status.gatewayId, 'gw-cli-test');
  t.same(status.stations, []);

  const station = await connectStation({ endpoint: `ws://127.0.0.1:${status.listen.port}/ocpp`, identity: 'CP-CLI', password: 'cli-test-password-1' });
  await station.call('Heartbeat', {});
  const after = await runCli(['status', '--config', configPath]);
  t.equal(after.code, 0);
  t.match(after.stdout, /stations connected: 1/);
  t.match(after.stdout, /CP-CLI\s+ocpp1\.6\s+open/);
  t.match(after.stdout, /recent events[^\n]*\n\s+station\s+connected\s+CP-CLI/, 'the station event is visible in status');

  await station.close();
  daemon.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM: clean exit 0');
  t.match(log, /"msg":"gateway stopped"/);
  t.notMatch(log, /cli-test-password-1/, 'the station password never reached the log');
  t.notMatch(log, /Basic [A-Za-z0-9+/=]{8,}/, 'no Authorization header in the log');
});

t.test('status without a running daemon says so, exit 1', async (t) => {
  const dir = t.testdir();
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ dataDir: join(dir, 'data'), upstream: { url: 'ws://127.0.0.1:9/ocpp' }, admin: { socket: join(dir, 'none.sock') } }));
  const result = await runCli(['status', '--config', configPath]);
  t.equal(result.code, 1);
  t.match(result.stderr, /cannot reach the daemon/);
});

t.test('run with a broken config exits 2 and names the problem', async (t) => {
  const dir = t.testdir();
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ upstream: { url: 'http://not-a-websocket' }, listen: { port: 'eighty' } }));
  const result = await runCli(['run', '--config', configPath]);
  t.equal(result.code, 2);
  t.match(result.stderr, /\$\.upstream\.url/);
  t.match(result.stderr, /\$\.listen\.port/);
});

/**
 * `pleevi-edge run` expected to stop on its own; killed after `limitMs` so
 * that a daemon that keeps running fails the test instead of hanging it.
 */
async function runUntilExit(configPath: string, limitMs = 15_000): Promise<CliRun & { killed: boolean }> {
  const daemon = spawn(process.execPath, [CLI, 'run', '--config', configPath], { cwd: ROOT });
  let stdout = '';
  let stderr = '';
  daemon.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  daemon.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    daemon.kill('SIGKILL');
  }, limitMs);
  const [code] = (await once(daemon, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr, killed };
}

function daemonConfig(dir: string, socket: string): string {
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0 }, upstream: { url: 'ws://127.0.0.1:9/ocpp' }, admin: { socket } }));
  return configPath;
}

t.test('run stops, exit 1, when its admin API cannot start; it never relays without one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pe-adm-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Longer than a unix socket path may be: listen() cannot bind it.
  const result = await runUntilExit(daemonConfig(dir, join(dir, `${'x'.repeat(120)}.sock`)));
  t.notOk(result.killed, 'the daemon stopped by itself');
  t.equal(result.code, 1, 'exit 1');
  t.match(result.stdout, /"level":"fatal"[^\n]*"msg":"the admin API cannot start; stopping"/, 'a clear log line');
  // The admin API starts first: without it the relay never starts at all.
  t.notMatch(result.stdout, /"msg":"gateway started"/, 'the relay never started');
  t.notMatch(result.stdout, /"msg":"admin API listening"/);
  t.match(result.stderr, /the admin API cannot start: admin\.socket path is longer than 107 bytes.*\[PE_ERR_ADMIN_SOCKET\]/);
});

t.test('run next to a daemon that still answers on the admin socket stops, exit 1, and leaves that socket alone', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pe-adm-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 'admin.sock');
  const running = createServer((connection) => connection.on('error', () => undefined).end());
  running.listen(socket);
  await once(running, 'listening');
  t.teardown(() => void running.close());
  const result = await runUntilExit(daemonConfig(dir, socket));
  t.notOk(result.killed, 'the daemon stopped by itself');
  t.equal(result.code, 1);
  t.match(result.stderr, /another pleevi-edge daemon is running and answers on it/);
  t.ok(lstatSync(socket).isSocket(), 'the running daemon keeps its socket');
});

t.test('run with a file at admin.socket refuses to start, exit 2, and the file is intact', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pe-adm-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const database = join(dir, 'pleevi-edge.db');
  writeFileSync(database, 'precious bytes');
  const result = await runUntilExit(daemonConfig(dir, database));
  t.notOk(result.killed);
  t.equal(result.code, 2);
  t.match(result.stderr, `$.admin.socket: ${database} is a regular file, not a unix socket`);
  t.equal(readFileSync(database, 'utf8'), 'precious bytes', 'the database is still there');
});

t.test('unknown commands are usage errors', async (t) => {
  const result = await runCli(['frobnicate']);
  t.equal(result.code, 2);
  t.match(result.stderr, /unknown command/);
});

t.test('the README demo runs one round and exits 0', async (t) => {
  const demo = await new Promise<CliRun>((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist/scripts/demo.js'), '--once', '--port', '0'], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  t.equal(demo.code, 0, demo.stderr);
  t.match(demo.stdout, /it saw the gateway's own call: no/);
  t.match(demo.stdout, /malformed: 0/);
  t.match(demo.stdout, /BADGE-0001 -> ana@example\.com/, 'a session identified from the driver list');
  t.match(demo.stdout, /BADGE-0002 -> unknown driver/, 'an unknown badge stays unknown');

  // The cloud link: an in-process broker, events published, a schedule pushed and applied.
  t.match(demo.stdout, /== cloud \(MQTT\)/);
  t.match(demo.stdout, /status\s+online, version /, 'the gateway announced itself');
  t.match(demo.stdout, /events\/session\s+seq\s+\d+\s+started\s+CP-DEMO-1\s+tx 1001\s+badge BADGE-0001 -> ana@example\.com/, 'a session published with its driver');
  t.match(demo.stdout, /events\/session\s+seq\s+\d+\s+ended\s+CP-DEMO-1\s+tx 1001/);
  t.match(demo.stdout, /events\/station\s+seq\s+\d+\s+boot\s+CS-DEMO-3/);
  const seqs = [...demo.stdout.matchAll(/events\/\w+\s+seq\s+(\d+)/g)].map((match) => Number(match[1]));
  t.ok(seqs.length > 0, 'events reached the cloud');
  t.same(seqs, seqs.map((_, index) => index + 1), 'every seq from 1, in order, none missing');
  t.match(
    demo.stdout,
    /CP-DEMO-1\s+station got SetChargingProfile: TxDefaultProfile #\d+ \(Relative, stack \d+\) on connector 0: 16 A from 0 s, 10 A from 3600 s -> Accepted/,
    'the station received the schedule as a charging profile',
  );
  t.match(demo.stdout, /CP-DEMO-1\s+station -> gateway\s+CALLRESULT SetChargingProfile\s+\(the gateway keeps this answer/);
  t.match(demo.stdout, /ack\s+demo-cmd-1 set-schedule ok: demo-evening applied on CP-DEMO-1, station Accepted/);
  t.match(
    demo.stdout,
    new RegExp(`cloud summary: ${seqs.length} events published \\([^)]*\\), all acknowledged by the broker \\(outbox empty\\); commands: 1 sent, 1 acked; schedule demo-evening on CP-DEMO-1: applied \\(station Accepted`),
  );
  const cloudAt = demo.stdout.indexOf('== cloud (MQTT)');
  t.ok(demo.stdout.indexOf('== frames') < cloudAt && cloudAt < demo.stdout.indexOf('== sessions'), 'headings: frames, cloud, sessions');
});
