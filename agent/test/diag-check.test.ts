/**
 * `pleevi-edge diag check` against real parts: the CLI as a process, a real
 * daemon, a real CPMS (ocpp-rpc), a real mosquitto, real TLS servers with
 * certificates made per run, a real SQLite file damaged on purpose.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { once } from 'node:events';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { openStore } from '../src/store/gateway-store.js';
import { createCa, issueClientCert, issueServerCert } from './helpers/certs.js';
import { startDaemon } from './helpers/daemon-process.js';
import { MOSQUITTO_MISSING, startMosquitto } from './helpers/mosquitto.js';
import { startCpms } from './helpers/ocpp-peers.js';
import { runCli } from './helpers/run-cli.js';

interface Check {
  id: string;
  title: string;
  status: 'pass' | 'warn' | 'fail' | 'skip';
  detail: string;
  fix?: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** A short folder (the admin socket path must fit in 107 bytes) with a config file in it. */
function site(t: Test, config: (dir: string) => Record<string, unknown>): { dir: string; configPath: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pe-diag-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ dataDir: join(dir, 'data'), admin: { socket: join(dir, 'admin.sock') }, listen: { host: '127.0.0.1', port: 0 }, ...config(dir) }), { mode: 0o600 });
  return { dir, configPath };
}

async function diagJson(configPath: string): Promise<{ code: number | null; checks: Check[] }> {
  const run = await runCli(['diag', 'check', '--json', '--config', configPath]);
  return { code: run.code, checks: JSON.parse(run.stdout) as Check[] };
}

function byId(checks: readonly Check[], id: string): Check {
  const found = checks.find((check) => check.id === id);
  if (!found) throw new Error(`no check ${id} in ${checks.map((check) => check.id).join(', ')}`);
  return found;
}

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

t.test('a running daemon with a reachable CPMS and broker: nothing fails, exit 0; text and --json agree', { skip: MOSQUITTO_MISSING }, async (t) => {
  const cpms = await startCpms();
  t.teardown(() => cpms.close());
  const broker = await startMosquitto(t);
  const { configPath } = site(t, () => ({ gatewayId: 'gw-diag-ok', upstream: { url: cpms.url }, mqtt: { url: broker.url } }));
  const daemon = await startDaemon(t, configPath);

  const { code, checks } = await diagJson(configPath);
  t.equal(code, 0, 'exit 0');
  t.same(checks.filter((check) => check.status === 'fail'), [], 'no check fails');
  for (const id of ['config', 'config-permissions', 'clock', 'upstream-dns', 'upstream-tcp', 'mqtt-dns', 'mqtt-tcp', 'database', 'daemon', 'daemon-storage']) {
    t.equal(byId(checks, id).status, 'pass', `${id} passes`);
  }
  t.notOk(checks.some((check) => check.id === 'upstream-tls'), 'a ws:// upstream has no TLS step');
  t.match(byId(checks, 'daemon').detail, /gw-diag-ok/);
  t.match(byId(checks, 'database').detail, /quick_check ok/);
  for (const check of checks) {
    t.ok(['pass', 'warn', 'fail', 'skip'].includes(check.status), `${check.id}: a known status`);
    if (check.status === 'warn' || check.status === 'fail') t.type(check.fix, 'string', `${check.id}: a fix`);
  }

  const text = await runCli(['diag', 'check', '--config', configPath]);
  t.equal(text.code, 0);
  t.match(text.stdout, /^PASS {2}upstream TCP connect +127\.0\.0\.1 port \d+ accepts connections$/m);
  t.match(text.stdout, /^PASS {2}MQTT broker TCP connect /m);
  t.match(text.stdout, /\d+ passed, \d+ warnings, 0 failed, \d+ skipped/);
  t.equal(await daemon.stop(), 0);
});

t.test('an upstream nobody listens on: the TCP line fails, DNS passes, exit 1; no daemon: the daemon line fails with the systemctl fix', async (t) => {
  const port = await closedPort();
  const { configPath } = site(t, () => ({ upstream: { url: `ws://127.0.0.1:${port}/ocpp` } }));
  const { code, checks } = await diagJson(configPath);
  t.equal(code, 1, 'exit 1');
  t.equal(byId(checks, 'upstream-dns').status, 'pass');
  const tcp = byId(checks, 'upstream-tcp');
  t.equal(tcp.status, 'fail');
  t.match(tcp.detail, new RegExp(`127\\.0\\.0\\.1 port ${port}: .*ECONNREFUSED`));
  t.match(tcp.fix, /upstream\.url/);
  t.equal(byId(checks, 'mqtt').status, 'skip', 'no mqtt configured: skipped');
  const daemon = byId(checks, 'daemon');
  t.equal(daemon.status, 'fail');
  t.match(daemon.fix, /systemctl status pleevi-edge/);

  const text = await runCli(['diag', 'check', '--config', configPath]);
  t.equal(text.code, 1);
  t.match(text.stdout, /^FAIL {2}upstream TCP connect .*ECONNREFUSED.*\n +fix: check upstream\.url/m);
});

t.test('a wss:// upstream: TLS passes with the right CA and client certificate, fails with another CA, fails when the client certificate is missing', async (t) => {
  const [rightCa, otherCa] = await Promise.all([createCa('Diag CPMS CA'), createCa('Diag other CA')]);
  const serverCert = await issueServerCert(rightCa, { notAfter: new Date(Date.now() + 365 * DAY_MS) });
  const clientCert = await issueClientCert(rightCa, 'gw-diag-tls', { notAfter: new Date(Date.now() + 365 * DAY_MS) });
  const server: TlsServer = createTlsServer({ cert: serverCert.cert, key: serverCert.key, ca: rightCa.cert, requestCert: true, rejectUnauthorized: true }, (socket) => {
    socket.on('data', () => socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n'));
    socket.on('error', () => undefined);
  });
  server.on('tlsClientError', () => undefined);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const url = `wss://127.0.0.1:${(server.address() as AddressInfo).port}/ocpp`;
  const files = (dir: string, ca: string): Record<string, string> => {
    writeFileSync(join(dir, 'ca.pem'), ca);
    writeFileSync(join(dir, 'client.pem'), clientCert.cert);
    writeFileSync(join(dir, 'client.key'), clientCert.key, { mode: 0o600 });
    return { ca: 'ca.pem', cert: 'client.pem', key: 'client.key' };
  };

  const good = site(t, (dir) => ({ upstream: { url, tls: files(dir, rightCa.cert) } }));
  const passing = await diagJson(good.configPath);
  const tls = byId(passing.checks, 'upstream-tls');
  t.equal(tls.status, 'pass', 'the right CA and client certificate');
  t.match(tls.detail, /verified against the configured CA, with the client certificate/);
  t.equal(byId(passing.checks, 'certificate-1').status, 'pass', 'the client certificate has a year left');

  const wrong = site(t, (dir) => ({ upstream: { url, tls: files(dir, otherCa.cert) } }));
  const failing = await diagJson(wrong.configPath);
  t.equal(failing.code, 1);
  t.equal(byId(failing.checks, 'upstream-tcp').status, 'pass', 'TCP still connects');
  const refused = byId(failing.checks, 'upstream-tls');
  t.equal(refused.status, 'fail', 'another CA: the TLS line fails');
  t.match(refused.detail, /certificate|verify/i);
  t.match(refused.fix, /not signed by the configured CA/);

  const anonymous = site(t, (dir) => {
    writeFileSync(join(dir, 'ca.pem'), rightCa.cert);
    return { upstream: { url, tls: { ca: 'ca.pem' } } };
  });
  const noClient = await diagJson(anonymous.configPath);
  const withoutCert = byId(noClient.checks, 'upstream-tls');
  t.equal(withoutCert.status, 'fail', 'the CPMS refuses a gateway without a client certificate: the TLS line fails');
  t.match(withoutCert.detail, /without a client certificate/);
});

t.test('certificates: an expired one fails, one with days left warns', async (t) => {
  const ca = await createCa('Diag listener CA');
  const expired = await issueServerCert(ca, { notBefore: new Date(Date.now() - 40 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) });
  const soon = await issueServerCert(ca, { notAfter: new Date(Date.now() + 5 * DAY_MS + 60_000) });
  const port = await closedPort();
  const withListener = (pem: { cert: string; key: string }) => (dir: string) => {
    writeFileSync(join(dir, 'server.pem'), pem.cert);
    writeFileSync(join(dir, 'server.key'), pem.key, { mode: 0o600 });
    return { upstream: { url: `ws://127.0.0.1:${port}/ocpp` }, listen: { host: '127.0.0.1', port: 0, tls: { port: 0, cert: 'server.pem', key: 'server.key' } } };
  };

  const old = await diagJson(site(t, withListener(expired)).configPath);
  const failed = byId(old.checks, 'certificate-1');
  t.equal(failed.status, 'fail');
  t.match(failed.title, /\$\.listen\.tls\.cert/);
  t.match(failed.detail, /^EXPIRED: /);
  t.equal(old.code, 1);

  const nearly = await diagJson(site(t, withListener(soon)).configPath);
  const warned = byId(nearly.checks, 'certificate-1');
  t.equal(warned.status, 'warn');
  t.match(warned.detail, /^expires in 5 days/);
  t.type(warned.fix, 'string');
});

t.test('a damaged database fails the integrity check, read next to nothing else', async (t) => {
  const port = await closedPort();
  const { dir, configPath } = site(t, () => ({ upstream: { url: `ws://127.0.0.1:${port}/ocpp` } }));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const db = openStore(dataDir);
  const insert = db.prepare('INSERT INTO stations (station_id, first_seen_at) VALUES (?, ?)');
  for (let index = 0; index < 2000; index++) insert.run(`CP-${index}-${'x'.repeat(40)}`, new Date().toISOString());
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();

  const before = await diagJson(configPath);
  t.equal(byId(before.checks, 'database').status, 'pass', 'intact: passes');

  // Overwrite two pages in the middle of the file: the stations table's leaves (the small tables' roots come first).
  const file = join(dataDir, 'pleevi-edge.db');
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(8192, 0x41), 0, 8192, Math.floor(statSync(file).size / 2 / 4096) * 4096);
  closeSync(fd);
  const after = await diagJson(configPath);
  const check = byId(after.checks, 'database');
  t.equal(check.status, 'fail', 'damaged: fails');
  t.match(check.detail, /is damaged|malformed/);
  t.match(check.fix, /systemctl stop pleevi-edge/);
  t.equal(after.code, 1);

  writeFileSync(join(dataDir, 'pleevi-edge.db'), 'not a database at all '.repeat(50));
  rmSync(join(dataDir, 'pleevi-edge.db-wal'), { force: true });
  rmSync(join(dataDir, 'pleevi-edge.db-shm'), { force: true });
  const garbage = byId((await diagJson(configPath)).checks, 'database');
  t.equal(garbage.status, 'fail');
  t.match(garbage.detail, /not a database/);
});

t.test('an unclaimed gateway: the configuration line warns with "claim the gateway"; a broken file fails with the config check fix', async (t) => {
  const unclaimed = site(t, () => ({ provisioning: { url: 'http://127.0.0.1:9/enroll' } }));
  const { checks } = await diagJson(unclaimed.configPath);
  const config = byId(checks, 'config');
  t.equal(config.status, 'warn');
  t.match(config.fix, /^claim the gateway/);
  t.equal(byId(checks, 'upstream').status, 'skip');

  const broken = site(t, () => ({ upstream: { url: 'http://not-a-websocket' } }));
  const failed = await diagJson(broken.configPath);
  t.equal(failed.code, 1);
  const problem = byId(failed.checks, 'config');
  t.equal(problem.status, 'fail');
  t.match(problem.detail, /\$\.upstream\.url/);
  t.match(problem.fix, /pleevi-edge config check/);
  t.equal(byId(failed.checks, 'clock').status, 'pass', 'the clock is still checked');
});
