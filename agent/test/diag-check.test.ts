/**
 * `pleevi-edge diag check` against real parts: the CLI as a process, a real
 * daemon, a real CPMS (ocpp-rpc), a real mosquitto. TLS:
 * diag-check-tls.test.ts; certificates: diag-check-certificates.test.ts; the
 * database and the configuration: diag-check-local.test.ts.
 */
import t from 'tap';
import { startDaemon } from './helpers/daemon-process.js';
import { byId, closedPort, diagJson, site } from './helpers/diag-check-run.js';
import { MOSQUITTO_MISSING, startMosquitto } from './helpers/mosquitto.js';
import { startCpms } from './helpers/ocpp-peers.js';
import { runCli } from './helpers/run-cli.js';

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
