/** `vpn.wireguard`: the config's shape and key files, the gateway's own key, the tunnel state from the status file, the vpn unit. */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config/load-config.js';
import { layerConfig } from '../src/config/layered-config.js';
import { ConfigError } from '../src/errors.js';
import { tunnelState, type TunnelStatusFile } from '../src/vpn/tunnel-status.js';
import { ensureWireguardKey, generateWireguardPrivateKey, wireguardPublicKey } from '../src/vpn/wireguard-key.js';
import { CLI, ROOT, runCli } from './helpers/run-cli.js';

const PEER_KEY = wireguardPublicKey(generateWireguardPrivateKey());
const vpn = (wireguard: Record<string, unknown>): Record<string, unknown> => ({
  upstream: { url: 'ws://10.99.0.1:9000/ocpp' },
  vpn: { wireguard: { address: '10.99.0.2/32', peer: { publicKey: PEER_KEY, endpoint: 'vpn.example.com:51820', allowedIps: ['10.99.0.0/24'] }, ...wireguard } },
});

function problems(value: unknown, baseDir: string): string[] {
  try {
    parseConfig(value, { baseDir, env: {} });
    return [];
  } catch (error: unknown) {
    if (error instanceof ConfigError) return error.problems.map((problem) => `${problem.path}: ${problem.message}`);
    throw error;
  }
}

t.test('defaults: the interface, keepalive, thresholds, and the gateway\'s own key in <dataDir>/identity', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pe-vpncfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = parseConfig({ ...vpn({}), dataDir: 'data' }, { baseDir: dir, env: {} });
  t.same(config.vpn?.wireguard, {
    interface: 'pleevi-wg0',
    privateKeyFile: join(dir, 'data', 'identity', 'wireguard.key'),
    generatedKey: true,
    address: '10.99.0.2/32',
    peer: { publicKey: PEER_KEY, endpoint: 'vpn.example.com:51820', allowedIps: ['10.99.0.0/24'], persistentKeepaliveS: 25 },
    handshakeMaxAgeS: 180,
    checkIntervalS: 5,
    statusFile: join(dir, 'data', 'vpn-status.json'),
  });
  t.equal(parseConfig({ upstream: { url: 'ws://h/ocpp' } }, { baseDir: dir, env: {} }).vpn, undefined, 'without vpn nothing of it');
});

t.test('bad values are reported with their paths', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pe-vpncfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const found = problems(
    {
      upstream: { url: 'ws://h/ocpp' },
      vpn: { wireguard: { interface: 'a-name-that-is-too-long', address: '10.99.0.2', peer: { publicKey: 'short', endpoint: 'no-port', allowedIps: [] }, extra: 1 } },
    },
    dir,
  );
  t.match(found.join('\n'), /\$\.vpn\.wireguard\.interface: must be a network interface name/);
  t.match(found.join('\n'), /\$\.vpn\.wireguard\.address: must be an address with its prefix length/);
  t.match(found.join('\n'), /\$\.vpn\.wireguard\.peer\.publicKey: must be a WireGuard key/);
  t.match(found.join('\n'), /\$\.vpn\.wireguard\.peer\.endpoint: must be host:port/);
  t.match(found.join('\n'), /\$\.vpn\.wireguard\.peer\.allowedIps/);
  t.match(found.join('\n'), /\$\.vpn\.wireguard\.extra/);
  t.same(problems(vpn({ peer: { publicKey: PEER_KEY, endpoint: '[2001:db8::1]:51820', allowedIps: ['fd00::/64', '10.0.0.0/8'] } }), dir), [], 'IPv6 endpoint and prefixes are fine');
});

t.test('a private key file must be mode 0600 and hold a key; its content is never in a message', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pe-vpncfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const secret = generateWireguardPrivateKey();
  writeFileSync(join(dir, 'wg.key'), `${secret}\n`, { mode: 0o644 });
  chmodSync(join(dir, 'wg.key'), 0o644);
  const open = problems(vpn({ privateKeyFile: 'wg.key' }), dir);
  t.match(open.join('\n'), /\$\.vpn\.wireguard\.privateKeyFile: .*wg\.key is readable by others \(mode 0644\): a private key must be mode 0600/);
  t.notMatch(open.join('\n'), secret);
  chmodSync(join(dir, 'wg.key'), 0o600);
  const config = parseConfig(vpn({ privateKeyFile: 'wg.key' }), { baseDir: dir, env: {} });
  t.equal(config.vpn?.wireguard.privateKeyFile, join(dir, 'wg.key'));
  t.equal(config.vpn?.wireguard.generatedKey, false);
  writeFileSync(join(dir, 'bad.key'), 'not a key\n', { mode: 0o600 });
  t.match(problems(vpn({ privateKeyFile: 'bad.key' }), dir).join('\n'), /bad\.key is not a WireGuard key/);
  t.match(problems(vpn({ privateKeyFile: 'missing.key' }), dir).join('\n'), /missing\.key: file not found/);
  writeFileSync(join(dir, 'psk'), `${generateWireguardPrivateKey()}\n`, { mode: 0o640 });
  chmodSync(join(dir, 'psk'), 0o640);
  t.match(
    problems(vpn({ privateKeyFile: 'wg.key', peer: { publicKey: PEER_KEY, endpoint: 'h:1', allowedIps: ['10.0.0.0/8'], presharedKeyFile: 'psk' } }), dir).join('\n'),
    /\$\.vpn\.wireguard\.peer\.presharedKeyFile: .*mode 0640/,
  );
});

t.test('deliverable by enrollment: vpn in the enrolled configuration, the key local', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pe-vpncfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const loaded = layerConfig({ dataDir: 'data' }, vpn({}), undefined, { baseDir: dir, env: {} });
  t.equal(loaded.kind, 'ready');
  if (loaded.kind !== 'ready') return;
  t.equal(loaded.config.vpn?.wireguard.privateKeyFile, join(dir, 'data', 'identity', 'wireguard.key'));
  t.equal(loaded.sources.get('$.vpn.wireguard.peer.endpoint'), 'enrolled');
});

t.test('the gateway\'s key: made once, mode 0600, its public key what wg pubkey says', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pe-vpncfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'identity', 'wireguard.key');
  const first = ensureWireguardKey(path);
  t.equal(first.created, true);
  t.equal(statSync(path).mode & 0o777, 0o600);
  const again = ensureWireguardKey(path);
  t.same(again, { publicKey: first.publicKey, created: false }, 'kept, not made again');
  const wg = spawnSync('wg', ['pubkey'], { input: readFileSync(path), encoding: 'utf8' });
  if (wg.status === 0) t.equal(wg.stdout.trim(), first.publicKey, 'the same public key as wg pubkey');
});

t.test('the tunnel\'s state from the supervisor\'s status file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pe-vpncfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = parseConfig({ ...vpn({ handshakeMaxAgeS: 180 }), dataDir: dir }, { baseDir: dir, env: {} }).vpn!.wireguard;
  t.match(tunnelState(config), { state: 'down', reason: /written no status/ }, 'no file: down');
  const now = Date.parse('2026-11-29T12:00:00Z');
  const file = (changes: Partial<TunnelStatusFile>, peer: Partial<TunnelStatusFile['peer']> = {}): void =>
    writeFileSync(
      config.statusFile,
      JSON.stringify({
        version: 1, interface: 'pleevi-wg0', implementation: 'wireguard-go', interfaceUp: true, publicKey: 'PUB', address: '10.99.0.2/32',
        peer: { publicKey: PEER_KEY, endpoint: 'vpn.example.com:51820', currentEndpoint: '192.0.2.1:51820', allowedIps: ['10.99.0.0/24'], latestHandshakeAt: '2026-11-29T11:59:00Z', lastReceivedAt: '2026-11-29T11:59:50Z', rxBytes: 1000, txBytes: 2000, ...peer },
        updatedAt: '2026-11-29T11:59:58Z', checkIntervalS: 5, pid: 1, supervisor: 'running', lastError: null, ...changes,
      }),
    );
  file({});
  t.match(tunnelState(config, now), { state: 'up', handshakeAgeS: 60, heardAgeS: 10, rxBytes: 1000, txBytes: 2000, publicKey: 'PUB' });
  file({}, { latestHandshakeAt: '2026-11-29T11:50:00Z', lastReceivedAt: '2026-11-29T11:56:00Z' });
  t.match(tunnelState(config, now), { state: 'down', reason: /latest handshake is 600 s old and nothing was received for 240 s/ });
  file({}, { latestHandshakeAt: null, lastReceivedAt: null });
  t.match(tunnelState(config, now), { state: 'down', reason: /no handshake/ });
  file({ updatedAt: '2026-11-29T11:58:00Z' });
  t.match(tunnelState(config, now), { state: 'down', reason: /status is 120 s old/ }, 'a supervisor that stopped writing');
  file({ supervisor: 'stopped' });
  t.match(tunnelState(config, now), { state: 'down', reason: /supervisor is stopped/ });
  file({ interfaceUp: false, lastError: { message: 'wg set failed: nope', at: '2026-11-29T11:59:58Z' } });
  t.match(tunnelState(config, now), { state: 'down', reason: /not up: wg set failed: nope/ });
});

t.test('the vpn unit passes systemd-analyze verify without a warning', { skip: existsSync('/usr/bin/systemd-analyze') ? false : 'systemd-analyze not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pe-vpnunit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const unit = readFileSync(join(ROOT, 'systemd/pleevi-edge-vpn.service'), 'utf8').replace(/^ExecStart=\S+ \S+/m, `ExecStart=${process.execPath} ${CLI}`);
  t.match(unit, /vpn run --config/);
  const path = join(dir, 'pleevi-edge-vpn.service');
  writeFileSync(path, unit);
  const result = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
  t.equal(result.stderr.trim(), '', 'no complaint about the unit');
  t.equal(result.status, 0);
});

t.test('config check names the tunnel', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pe-vpncfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...vpn({}), dataDir: 'data', admin: { socket: 'a.sock' } }));
  const result = await runCli(['config', 'check', '--config', join(dir, 'config.json')]);
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /vpn: +WireGuard pleevi-wg0 10\.99\.0\.2\/32 to vpn\.example\.com:51820 \(10\.99\.0\.0\/24; built by "pleevi-edge vpn run"\)/);
});
