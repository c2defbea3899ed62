/**
 * A CPMS that is only reachable through a WireGuard tunnel (issue 12, "A CPMS
 * behind a VPN"), with real parts: two network namespaces made here joined by
 * a veth pair, wireguard-go on both ends (this kernel has no WireGuard
 * module), the CPMS (ocpp-rpc) listening only on its tunnel address, the
 * gateway daemon and `pleevi-edge vpn run` in the gateway's namespace, a
 * station (ocpp-rpc) connecting to the gateway there. Only addresses inside
 * these namespaces are used.
 */
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateWireguardPrivateKey, wireguardPublicKey, ensureWireguardKey } from '../src/vpn/wireguard-key.js';
import { adminGet } from '../src/admin/admin-client.js';
import { CLI, ROOT } from './helpers/run-cli.js';
import { waitUntil, waitUntilAsync } from './helpers/wait-until.js';

const haveTool = (name: string): boolean => spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
const skip =
  process.getuid?.() !== 0
    ? 'needs root (network namespaces, /dev/net/tun)'
    : !existsSync('/dev/net/tun')
      ? 'no /dev/net/tun'
      : !haveTool('wireguard-go') || !haveTool('wg') || !haveTool('ip')
        ? 'needs wireguard-go, wireguard-tools and iproute2 (apt-get install wireguard-go wireguard-tools iproute2)'
        : false;

const CPMS_SCRIPT = `
const { RPCServer } = require('ocpp-rpc');
const server = new RPCServer({ protocols: ['ocpp1.6'], strictMode: false });
server.on('client', (client) => {
  console.log('CLIENT ' + client.identity);
  client.handle('BootNotification', () => { console.log('BOOT ' + client.identity); return { status: 'Accepted', interval: 300, currentTime: new Date().toISOString() }; });
  client.handle('Heartbeat', () => { console.log('HEARTBEAT ' + client.identity); return { currentTime: new Date().toISOString() }; });
  client.on('close', (event) => console.log('CLOSE ' + client.identity + ' ' + event.code));
});
server.listen(Number(process.env.PORT), process.env.HOST).then(() => console.log('LISTENING'), (error) => { console.log('LISTEN-FAILED ' + error.message); process.exit(1); });
`;

const STATION_SCRIPT = `
const { RPCClient } = require('ocpp-rpc');
const client = new RPCClient({ endpoint: process.env.ENDPOINT, identity: 'CP-VPN-1', protocols: ['ocpp1.6'], strictMode: false, reconnect: true,
  callTimeoutMs: 5000, backoff: { initialDelay: 300, maxDelay: 1000, factor: 1.5, randomisationFactor: 0 } });
client.on('open', () => console.log('OPEN'));
// 'disconnect' each time the connection goes (ocpp-rpc then reconnects); 'close' only once it stops for good.
client.on('disconnect', (event) => console.log('CLOSE ' + event.code));
require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const [method, params] = line === 'boot' ? ['BootNotification', { chargePointVendor: 'Test', chargePointModel: 'VPN' }] : ['Heartbeat', {}];
  client.call(method, params).then((result) => console.log('RESULT ' + method + ' ' + JSON.stringify(result)), (error) => console.log('ERROR ' + method + ' ' + error.message));
});
client.connect().catch((error) => console.log('CONNECT-FAILED ' + error.message));
`;

/** A process whose stdout lines are kept. */
class Proc {
  readonly lines: string[] = [];
  readonly child: ChildProcess;
  constructor(command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(command, [...args], { cwd: ROOT, env: { ...process.env, WG_HIDE_WARNING: '1', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let rest = '';
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      this.lines.push(...parts);
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => this.lines.push(...chunk.split('\n').filter(Boolean).map((line) => `stderr: ${line}`)));
  }
  has(pattern: RegExp): boolean {
    return this.lines.some((line) => pattern.test(line));
  }
  count(pattern: RegExp): number {
    return this.lines.filter((line) => pattern.test(line)).length;
  }
  alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  send(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }
  async stop(signal: NodeJS.Signals = 'SIGTERM', limitMs = 5000): Promise<number | null> {
    if (!this.alive()) return this.child.exitCode;
    const exited = new Promise<number | null>((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), limitMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }
}

function ip(args: readonly string[]): void {
  const result = spawnSync('ip', [...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr.trim()}`);
}

function inNs(ns: string, command: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('ip', ['netns', 'exec', ns, ...command], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, WG_HIDE_WARNING: '1' }, timeout: 20_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A TCP connect from inside `ns` (bash's /dev/tcp: no node start-up per probe). */
function probe(ns: string, host: string, port: number): string {
  const result = inNs(ns, ['timeout', '3', 'bash', '-c', `exec 3<>/dev/tcp/${host}/${port} && echo CONNECTED`]);
  return result.stdout.includes('CONNECTED') ? 'CONNECTED' : `FAILED ${result.status === 124 ? 'timed out' : result.stderr.trim()}`;
}

interface StatusJson {
  vpn?: { state: string; reason?: string; handshakeAgeS: number | null; heardAgeS: number | null; rxBytes: number; txBytes: number; publicKey: string | null; implementation: string | null };
  counters: Record<string, number>;
  stations: Array<{ stationId: string }>;
}

// Namespaces, three node processes and a cut longer than the grace: more than the suite's 120 s per file on a busy machine.
t.setTimeout(240_000);

t.test('a CPMS reachable only through the WireGuard tunnel: relayed, cut (an outage), restored', { skip, timeout: 200_000 }, async (t) => {
  const id = randomBytes(3).toString('hex');
  const nsCpms = `pe-vpn-cpms-${id}`;
  const nsGw = `pe-vpn-gw-${id}`;
  // Interface names: at most 15 bytes, and each wireguard-go its own (/var/run/wireguard/<name>.sock is shared by all namespaces).
  const wgCpms = `pwg${id}c`;
  const wgGw = `pwg${id}g`;
  const vethCpms = `pvc${id}`;
  const vethGw = `pvg${id}`;
  const dir = mkdtempSync(join(tmpdir(), 'pe-vpn-'));
  const procs: Proc[] = [];
  t.teardown(async () => {
    if (process.env['VPN_TEST_LOG']) writeFileSync(process.env['VPN_TEST_LOG'], procs.map((proc) => proc.lines.join('\n')).join('\n=====\n'));
    for (const proc of procs.reverse()) await proc.stop('SIGKILL', 1000);
    spawnSync('ip', ['netns', 'del', nsGw]);
    spawnSync('ip', ['netns', 'del', nsCpms]);
    for (const name of [wgCpms, wgGw]) rmSync(`/var/run/wireguard/${name}.sock`, { force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  // The two namespaces and the "internet" between them: a veth pair.
  ip(['netns', 'add', nsCpms]);
  ip(['netns', 'add', nsGw]);
  ip(['link', 'add', vethCpms, 'type', 'veth', 'peer', 'name', vethGw]);
  ip(['link', 'set', vethCpms, 'netns', nsCpms]);
  ip(['link', 'set', vethGw, 'netns', nsGw]);
  ip(['-n', nsCpms, 'address', 'add', '172.31.250.1/30', 'dev', vethCpms]);
  ip(['-n', nsGw, 'address', 'add', '172.31.250.2/30', 'dev', vethGw]);
  for (const [ns, dev] of [[nsCpms, vethCpms], [nsGw, vethGw], [nsCpms, 'lo'], [nsGw, 'lo']] as const) ip(['-n', ns, 'link', 'set', dev, 'up']);

  // The gateway's own key, made where the supervisor makes it when privateKeyFile is not set.
  const dataDir = join(dir, 'data');
  const gwPublic = ensureWireguardKey(join(dataDir, 'identity', 'wireguard.key')).publicKey;
  const cpmsPrivate = generateWireguardPrivateKey();
  const cpmsKeyFile = join(dir, 'cpms.key');
  writeFileSync(cpmsKeyFile, `${cpmsPrivate}\n`, { mode: 0o600 });

  // The CPMS's end of the tunnel: wireguard-go, 10.99.0.1, port 51820 on the veth.
  const cpmsWg = new Proc('ip', ['netns', 'exec', nsCpms, 'wireguard-go', '-f', wgCpms]);
  procs.push(cpmsWg);
  await waitUntil(() => existsSync(`/var/run/wireguard/${wgCpms}.sock`), 'the CPMS side wireguard-go is up');
  const setCpms = inNs(nsCpms, ['wg', 'set', wgCpms, 'private-key', cpmsKeyFile, 'listen-port', '51820', 'peer', gwPublic, 'allowed-ips', '10.99.0.2/32', 'persistent-keepalive', '1']);
  t.equal(setCpms.status, 0, `wg set on the CPMS side ${setCpms.stderr}`);
  ip(['-n', nsCpms, 'address', 'add', '10.99.0.1/24', 'dev', wgCpms]);
  ip(['-n', nsCpms, 'link', 'set', wgCpms, 'up']);

  // The CPMS listens on its tunnel address only.
  const cpms = new Proc('ip', ['netns', 'exec', nsCpms, process.execPath, '-e', CPMS_SCRIPT], { HOST: '10.99.0.1', PORT: '9000' });
  procs.push(cpms);
  await waitUntil(() => cpms.has(/^LISTENING/) || !cpms.alive(), 'the CPMS listens');
  t.ok(cpms.has(/^LISTENING/), `the CPMS listens on 10.99.0.1:9000 ${cpms.lines.join(' | ')}`);

  const configPath = join(dir, 'config.json');
  const adminSocket = join(dir, 'admin.sock');
  writeFileSync(
    configPath,
    JSON.stringify({
      gatewayId: `gw-vpn-${id}`,
      dataDir,
      listen: { host: '127.0.0.1', port: 8080, pingIntervalMs: 500 },
      upstream: { url: 'ws://10.99.0.1:9000/ocpp', connectTimeoutMs: 1500, outageGraceMs: 2000 },
      admin: { socket: adminSocket },
      log: { level: 'info' },
      vpn: {
        wireguard: {
          interface: wgGw,
          address: '10.99.0.2/32',
          peer: { publicKey: wireguardPublicKey(cpmsPrivate), endpoint: '172.31.250.1:51820', allowedIps: ['10.99.0.0/24'], persistentKeepaliveS: 1 },
          handshakeMaxAgeS: 8,
          checkIntervalS: 1,
        },
      },
    }),
  );

  // Without the tunnel the CPMS cannot be reached from the gateway's namespace; its veth address has nothing on 9000 either.
  t.match(probe(nsGw, '10.99.0.1', 9000), /^FAILED .*Network is unreachable/, 'no route to the CPMS without the tunnel');
  t.match(probe(nsGw, '172.31.250.1', 9000), /^FAILED .*Connection refused/, 'the CPMS does not listen outside the tunnel');

  const daemon = new Proc('ip', ['netns', 'exec', nsGw, process.execPath, CLI, 'run', '--config', configPath]);
  procs.push(daemon);
  await waitUntil(() => daemon.has(/gateway started/) || !daemon.alive(), 'the gateway starts', 20_000);
  t.ok(daemon.alive(), 'the gateway runs');

  /** The VPN line of `diag check --json`, run in the gateway's namespace. */
  const diagVpn = (): unknown => {
    const run = inNs(nsGw, [process.execPath, CLI, 'diag', 'check', '--json', '--config', configPath]);
    return (JSON.parse(run.stdout) as Array<{ id: string }>).find((check) => check.id === 'vpn');
  };
  // What `status --json` prints, asked over the admin socket (a unix socket: reachable from any namespace) without a CLI start-up per poll.
  const status = async (): Promise<StatusJson> => (await adminGet(adminSocket, '/v1/status')) as StatusJson;
  const statusCli = (): StatusJson => {
    const result = inNs(nsGw, [process.execPath, CLI, 'status', '--json', '--config', configPath]);
    if (result.status !== 0) throw new Error(`status failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as StatusJson;
  };
  const before = await status();
  t.equal(before.vpn?.state, 'down', 'before the supervisor runs, status shows the tunnel down');
  t.match(before.vpn?.reason, /no status/, 'because the supervisor has written nothing');

  const supervisor = new Proc('ip', ['netns', 'exec', nsGw, process.execPath, CLI, 'vpn', 'run', '--config', configPath]);
  procs.push(supervisor);
  await waitUntil(() => supervisor.has(/WireGuard tunnel configured/) || !supervisor.alive(), 'the supervisor builds the tunnel', 20_000);
  t.ok(supervisor.has(/WireGuard tunnel configured/), `the supervisor built the tunnel ${supervisor.lines.slice(-3).join(' | ')}`);
  t.notOk(supervisor.lines.some((line) => line.includes(cpmsPrivate) || line.includes(readFileSync(join(dataDir, 'identity', 'wireguard.key'), 'utf8').trim())), 'no private key in its log');
  await waitUntilAsync(async () => (await status()).vpn?.state === 'up', 'the tunnel is up (a handshake)', 15_000, 300);

  const station = new Proc('ip', ['netns', 'exec', nsGw, process.execPath, '-e', STATION_SCRIPT], { ENDPOINT: 'ws://127.0.0.1:8080/ocpp' });
  procs.push(station);
  await waitUntil(() => station.has(/^OPEN/) || station.has(/CONNECT-FAILED/), 'the station connects through the gateway', 15_000);
  t.ok(station.has(/^OPEN/), `the station is connected ${station.lines.join(' | ')}`);
  station.send('boot');
  await waitUntil(() => station.has(/^RESULT BootNotification/) || station.has(/^ERROR BootNotification/), 'the BootNotification is answered', 15_000);
  t.match(station.lines.find((line) => line.startsWith('RESULT BootNotification')), /"status":"Accepted"/, 'the CPMS behind the tunnel accepted the BootNotification');
  t.ok(cpms.has(/^BOOT CP-VPN-1/), 'the CPMS saw it');

  const up = statusCli();
  t.equal(up.vpn?.state, 'up', 'status --json: the tunnel is up');
  // WireGuard makes a new handshake every 2 minutes while traffic flows; the keepalives in between count as heard from.
  t.ok(up.vpn?.handshakeAgeS !== null && (up.vpn?.handshakeAgeS ?? 999) <= 60, `with a recent handshake (${up.vpn?.handshakeAgeS} s ago)`);
  t.ok((up.vpn?.heardAgeS ?? 999) <= 8, 'and the peer heard from within handshakeMaxAgeS');
  t.ok((up.vpn?.rxBytes ?? 0) > 0 && (up.vpn?.txBytes ?? 0) > 0, 'and bytes both ways');
  t.equal(up.vpn?.publicKey, gwPublic, 'and the gateway\'s public key');
  t.equal(up.vpn?.implementation, 'wireguard-go', 'on wireguard-go (no WireGuard module in this kernel)');
  const text = inNs(nsGw, [process.execPath, CLI, 'status', '--config', configPath]).stdout;
  t.match(text, new RegExp(`vpn +up: ${wgGw} 10\\.99\\.0\\.2/32 to 172\\.31\\.250\\.1:51820, handshake \\d+ s ago, received`), 'status prints the tunnel');
  const vpnStatus = inNs(nsGw, [process.execPath, CLI, 'vpn', 'status', '--config', configPath]);
  t.equal(vpnStatus.status, 0, 'vpn status exits 0 while up');
  t.match(vpnStatus.stdout, new RegExp(`public key ${gwPublic.replace(/[+/]/g, '\\$&')}`), 'vpn status shows the public key to register');
  t.match(diagVpn(), { status: 'pass', detail: /^up: / }, 'diag check: the tunnel passes');

  // Cut: the link under the tunnel goes down. The station's upstream is lost: held for outageGraceMs, then closed (1001).
  const closesBefore = station.count(/^CLOSE/);
  ip(['-n', nsGw, 'link', 'set', vethGw, 'down']);
  await waitUntil(() => station.count(/^CLOSE/) > closesBefore, 'the station is closed once the outage outlasts the grace', 20_000);
  const close = station.lines.filter((line) => line.startsWith('CLOSE')).at(-1);
  t.equal(close, 'CLOSE 1001', 'closed with 1001 (going away): the CPMS outage outlasted outageGraceMs');
  await waitUntilAsync(async () => (await status()).vpn?.state === 'down', 'status shows the tunnel down after handshakeMaxAgeS', 20_000, 500);
  const down = await status();
  t.match(down.vpn?.reason, /latest handshake is \d+ s old/, `status says why: ${down.vpn?.reason}`);
  t.ok((down.counters['upstreamOutagesBeyondGrace'] ?? 0) >= 1, 'counted as an outage beyond the grace');
  t.equal(inNs(nsGw, [process.execPath, CLI, 'vpn', 'status', '--config', configPath]).status, 1, 'vpn status exits 1 while down');
  t.match(diagVpn(), { status: 'fail', detail: /^DOWN: /, fix: /pleevi-edge-vpn/ }, 'diag check: the tunnel fails with a fix');
  const heartbeatsBefore = cpms.count(/^HEARTBEAT/);

  // Restore: the station (reconnecting on its own) is relayed again and the tunnel shows up.
  ip(['-n', nsGw, 'link', 'set', vethGw, 'up']);
  const opensBefore = station.count(/^OPEN/);
  await waitUntil(() => station.count(/^OPEN/) > opensBefore, 'the station reconnects through the restored tunnel', 30_000);
  station.send('heartbeat');
  await waitUntil(() => cpms.count(/^HEARTBEAT/) > heartbeatsBefore, 'the Heartbeat reaches the CPMS', 15_000);
  await waitUntil(() => station.has(/^RESULT Heartbeat/), 'and is answered', 10_000);
  await waitUntilAsync(async () => (await status()).vpn?.state === 'up', 'status shows the tunnel up again', 15_000, 300);
  t.pass('relayed again after the tunnel came back');

  // Stopping the supervisor removes the interface and says so.
  t.equal(await supervisor.stop('SIGTERM', 10_000), 0, 'the supervisor stops cleanly on SIGTERM');
  t.not(inNs(nsGw, ['ip', 'link', 'show', 'dev', wgGw]).status, 0, 'and removed the interface');
  const stopped = await status();
  t.equal(stopped.vpn?.state, 'down', 'status: down');
  t.match(stopped.vpn?.reason, /supervisor is stopped/, 'because the supervisor is stopped');
});
