/**
 * `pleevi-edge diag bundle` as a process against real files, a real daemon
 * and a real SQLite file; the archive is unpacked with the system's `tar`
 * and every file searched for the secrets planted in the configuration, the
 * identity and the key files.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import t, { type Test } from 'tap';
import { openStore } from '../src/store/gateway-store.js';
import { createCa, issueClientCert, issueServerCert } from './helpers/certs.js';
import { startDaemon } from './helpers/daemon-process.js';
import { CLI, runCli } from './helpers/run-cli.js';
import { waitUntil } from './helpers/wait-until.js';

const DAY_MS = 24 * 60 * 60 * 1000;

function shortDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'pe-bundle-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = (server.address() as AddressInfo);
      server.close(() => resolve(port));
    });
  });
}

/** Unpack with the system tar; every file's path (inside the top folder) to its text. */
function extract(archive: string, into: string): { top: string; files: Map<string, string> } {
  mkdirSync(into, { recursive: true });
  execFileSync('tar', ['-xzf', archive, '-C', into]);
  const [top, ...others] = readdirSync(into);
  if (top === undefined || others.length > 0) throw new Error(`one top folder expected, got ${readdirSync(into).join(', ')}`);
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.set(relative(join(into, top), path), readFileSync(path, 'utf8'));
    }
  };
  walk(join(into, top));
  return { top, files };
}

/** A secret and the forms it may leak in: whole, and each base64 line of a PEM key. */
function leakForms(secret: string): string[] {
  const lines = secret.includes('-----BEGIN') ? secret.split('\n').filter((line) => line !== '' && !line.startsWith('-----')) : [];
  return [secret.trim(), ...lines];
}

t.test('an unclaimed gateway with a running daemon: the bundle has every part and none of the planted secrets', async (t) => {
  const dir = shortDir(t);
  const provisioningPort = await closedPort();
  const mqttPort = await closedPort();
  const ca = await createCa('Bundle CA');
  const server = await issueServerCert(ca, { notAfter: new Date(Date.now() + 200 * DAY_MS) });
  const mqttClient = await issueClientCert(ca, 'gw-bundle', { notAfter: new Date(Date.now() + 200 * DAY_MS) });
  writeFileSync(join(dir, 'server.pem'), server.cert);
  writeFileSync(join(dir, 'server.key'), server.key, { mode: 0o600 });
  writeFileSync(join(dir, 'mqtt-ca.pem'), ca.cert);
  writeFileSync(join(dir, 'mqtt-client.pem'), mqttClient.cert);
  writeFileSync(join(dir, 'mqtt-client.key'), mqttClient.key, { mode: 0o600 });
  const stationPassword = 'station-lan-password-Qx7!';
  const hashedStation = 'scrypt$16384$8$1$kc/GN16BxeVGIDXxO2PSbg==$cVyG7DR5lZpeGgjOvlxDd48wNlYN/XdwmC2go2RJy3o=';
  const cpmsPassword = 'cpms-basic-auth-secret-9Z';
  const configPath = join(dir, 'config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      gatewayId: 'gw-bundle',
      dataDir: join(dir, 'data'),
      admin: { socket: join(dir, 'admin.sock') },
      listen: { host: '127.0.0.1', port: 0, tls: { port: 0, cert: 'server.pem', key: 'server.key' } },
      provisioning: { url: `http://127.0.0.1:${provisioningPort}/`, claimBaseUrl: 'https://claim.example.com' },
      stations: {
        list: [
          { id: 'CP-1', password: stationPassword, upstream: { username: 'CP-1', password: cpmsPassword } },
          { id: 'CP-2', passwordHash: hashedStation },
        ],
      },
      mqtt: { url: `mqtts://127.0.0.1:${mqttPort}`, tls: { ca: 'mqtt-ca.pem', cert: 'mqtt-client.pem', key: 'mqtt-client.key' } },
    }),
    { mode: 0o600 },
  );
  const daemon = await startDaemon(t, configPath);
  const claimFile = join(dir, 'data', 'identity', 'claim.json');
  await waitUntil(() => {
    try {
      return readFileSync(claimFile, 'utf8').includes('claimCode');
    } catch {
      return false;
    }
  }, 'the daemon made its identity');
  const claimCode = (JSON.parse(readFileSync(claimFile, 'utf8')) as { claimCode: string }).claimCode;
  t.type(claimCode, 'string', 'the gateway is unclaimed and has a claim code');
  const identityKey = readFileSync(join(dir, 'data', 'identity', 'gateway.key'), 'utf8');

  // This machine has no journal of the service: a journalctl on PATH prints the lines a leaky one would hold.
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const leakyLines = [
    `Nov 29 10:00:00 gw pleevi-edge[42]: {"level":30,"msg":"station said ${stationPassword}"}`,
    `Nov 29 10:00:01 gw pleevi-edge[42]: claim code ${claimCode} shown on the console`,
    `Nov 29 10:00:02 gw pleevi-edge[42]: {"level":50,"err":"bad key ${JSON.stringify(server.key).slice(1, -1)}"}`,
    `Nov 29 10:00:03 gw pleevi-edge[42]: upstream Authorization: Basic ${Buffer.from(`CP-1:${cpmsPassword}`).toString('base64')} (${cpmsPassword})`,
    'Nov 29 10:00:04 gw pleevi-edge[42]: {"level":30,"msg":"gateway started"}',
  ];
  writeFileSync(join(bin, 'journalctl'), `#!/bin/sh\ncat <<'EOF'\n${leakyLines.join('\n')}\nEOF\n`, { mode: 0o755 });

  const archive = join(dir, 'support.tar.gz');
  const run = await runCli(['diag', 'bundle', '-o', archive, '--config', configPath], { env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` } });
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /^wrote .*support\.tar\.gz \(\d+ bytes, mode 0600/);
  t.equal(statSync(archive).mode & 0o777, 0o600, 'the archive is 0600');

  const { top, files } = extract(archive, join(dir, 'out'));
  t.match(top, /^pleevi-edge-diag-gw-bundle-\d{8}T\d{6}Z$/);
  for (const name of [
    'README.txt',
    'version.json',
    'config/effective-config.json',
    'config/sources.json',
    'config/config-file.json',
    'status.json',
    'diag/check.json',
    'diag/check.txt',
    'store/statistics.json',
    'store/recent-records.json',
    'certificates.json',
    'identity/files.json',
    'system/facts.json',
  ]) {
    t.ok((files.get(name) ?? '').length > 0, `${name} is there and not empty`);
  }
  const status = JSON.parse(files.get('status.json') ?? '{}') as { mode?: string; gatewayId?: string };
  t.equal(status.mode, 'awaiting-claim', 'the status came from the running daemon');
  const checks = JSON.parse(files.get('diag/check.json') ?? '[]') as Array<{ id: string; status: string }>;
  t.equal(checks.find((check) => check.id === 'config')?.status, 'warn', 'the check output is the unclaimed gateway\'s');
  t.match(files.get('diag/check.txt'), /^WARN {2}configuration /m);
  const certificates = JSON.parse(files.get('certificates.json') ?? '[]') as Array<{ sources: string[]; certificates: Array<{ subject: string; notAfter: string; serialNumber: string; issuer: string; notBefore: string }> }>;
  const listener = certificates.find((entry) => entry.sources.includes('$.listen.tls.cert'));
  t.ok(listener, 'the listener certificate is listed');
  t.match(listener?.certificates[0], { subject: /CN=127\.0\.0\.1/, issuer: /CN=Bundle CA/, serialNumber: /^[0-9A-F]+$/i, notBefore: /^\d{4}-/, notAfter: /^\d{4}-/ });
  const identity = JSON.parse(files.get('identity/files.json') ?? '{}') as { files: Array<{ file: string; mode: string }>; claim: { state: string } };
  t.equal(identity.claim.state, 'unclaimed');
  t.ok(identity.files.some((file) => file.file === 'gateway.key' && file.mode === '0600'), 'the key file is listed with its mode, not its content');
  t.match(files.get('config/config-file.json'), /"password": "\[REDACTED\]"/, 'the station password reads [REDACTED]');
  t.match(files.get('config/config-file.json'), /"stations"/, 'the rest of the config is there');
  const journal = files.get('system/journal.txt') ?? '';
  t.match(journal, /gateway started/, 'the journal is in the bundle');
  t.match(journal, /station said \[REDACTED\]/, 'a password in a journal line is scrubbed');
  t.match(journal, /claim code \[REDACTED\] shown/, 'the claim code in a journal line is scrubbed');
  t.match(journal, /Basic \[REDACTED\]/);

  const planted: Array<[string, string]> = [
    ['the station password', stationPassword],
    ['the upstream Basic Auth password', cpmsPassword],
    ['the password hash', hashedStation],
    ['the claim code', claimCode],
    ['the listener private key file', server.key],
    ['the MQTT client private key file', mqttClient.key],
    ['the identity private key', identityKey],
  ];
  for (const [name, content] of files) {
    for (const [what, secret] of planted) {
      const leaked = leakForms(secret).filter((form) => content.includes(form));
      t.same(leaked, [], `${name}: no trace of ${what}`);
    }
    t.notMatch(content, /-----BEGIN [A-Z ]*PRIVATE KEY-----(?!\[REDACTED\])/, `${name}: no private key block`);
  }
  t.equal(await daemon.stop(), 0);
});

t.test('a configured gateway with its daemon stopped: the default name in the current folder, a status note, the store\'s counts and latest records', async (t) => {
  const dir = shortDir(t);
  const port = await closedPort();
  const dataDir = join(dir, 'data');
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ gatewayId: 'gw-bundle-2', dataDir, admin: { socket: join(dir, 'admin.sock') }, listen: { host: '127.0.0.1', port: 0 }, upstream: { url: `ws://127.0.0.1:${port}/ocpp` } }), { mode: 0o600 });
  mkdirSync(dataDir);
  const db = openStore(dataDir);
  db.prepare('INSERT INTO stations (station_id, first_seen_at) VALUES (?, ?)').run('CP-STORED', new Date().toISOString());
  db.prepare('INSERT INTO outbox (seq, topic, payload, created_at) VALUES (?, ?, ?, ?)').run(7, 'station', JSON.stringify({ seq: 7, event: 'connected', stationId: 'CP-STORED' }), new Date().toISOString());
  db.close();

  const child = spawn(process.execPath, [CLI, 'diag', 'bundle', '--config', configPath], { cwd: dir });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  t.equal(code, 0);
  const archives = readdirSync(dir).filter((name) => name.endsWith('.tar.gz'));
  t.equal(archives.length, 1, stdout);
  t.match(archives[0], /^pleevi-edge-diag-gw-bundle-2-\d{8}T\d{6}Z\.tar\.gz$/, 'the default name, in the current folder');
  const { files } = extract(join(dir, archives[0] ?? ''), join(dir, 'out'));
  t.match(files.get('status.txt'), /did not answer on its admin socket/);
  t.notOk(files.has('status.json'));
  const statistics = JSON.parse(files.get('store/statistics.json') ?? '{}') as { tables: Record<string, number>; files: Record<string, number | null>; schemaVersion: number };
  t.equal(statistics.tables['stations'], 1);
  t.equal(statistics.tables['outbox'], 1);
  t.ok((statistics.files[join(dataDir, 'pleevi-edge.db')] ?? 0) > 0, 'the database size');
  t.ok(statistics.schemaVersion >= 6);
  const recent = JSON.parse(files.get('store/recent-records.json') ?? '{}') as { outbox: Array<{ seq: number; payload: { stationId: string } }>; stations: Array<{ station_id: string }> };
  t.equal(recent.outbox[0]?.payload.stationId, 'CP-STORED', 'the waiting event, its payload as JSON');
  t.equal(recent.stations[0]?.station_id, 'CP-STORED');
  const checks = JSON.parse(files.get('diag/check.json') ?? '[]') as Array<{ id: string; status: string }>;
  t.equal(checks.find((check) => check.id === 'upstream-tcp')?.status, 'fail');
});

t.test('a configuration that does not load: the bundle is still written, with the problems and the file redacted', async (t) => {
  const dir = shortDir(t);
  const configPath = join(dir, 'config.json');
  const urlPassword = 'url-embedded-secret-77';
  writeFileSync(configPath, JSON.stringify({ gatewayId: 'gw-broken', dataDir: join(dir, 'data'), upstream: { url: `wss://cp:${urlPassword}@cpms.example.com/ocpp` }, stations: { list: [{ id: 'CP-1', password: 'broken-config-password' }] } }), { mode: 0o600 });
  const archive = join(dir, 'broken.tar.gz');
  const run = await runCli(['diag', 'bundle', '-o', archive, '--config', configPath]);
  t.equal(run.code, 0, run.stderr);
  const { files } = extract(archive, join(dir, 'out'));
  t.match(files.get('config/problems.json'), /\$\.upstream\.url/);
  t.notOk(files.has('config/effective-config.json'));
  for (const [name, content] of files) {
    t.notOk(content.includes(urlPassword), `${name}: no URL password`);
    t.notOk(content.includes('broken-config-password'), `${name}: no station password`);
  }
});
