/**
 * `pleevi-edge diag check`, the TLS steps: a real TLS server and a real
 * mosquitto with certificates made per run, the right CA, another CA, and
 * no client certificate where the peer requires one.
 */
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import t from 'tap';
import { createCa, issueClientCert, issueServerCert } from './helpers/certs.js';
import { byId, closedPort, DAY_MS, diagJson, site } from './helpers/diag-check-run.js';
import { MOSQUITTO_MISSING, startMosquitto } from './helpers/mosquitto.js';

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

t.test('an mqtts:// broker: TLS passes with its CA and a client certificate, fails without the certificate', { skip: MOSQUITTO_MISSING }, async (t) => {
  const broker = await startMosquitto(t, { tls: true });
  const tlsBroker = broker.tls;
  if (tlsBroker === undefined) throw new Error('no TLS listener');
  const client = await issueClientCert(tlsBroker.ca, 'gw-diag-mqtt', { notAfter: new Date(Date.now() + 365 * DAY_MS) });
  const port = await closedPort();
  const config = (withClient: boolean) => (dir: string) => {
    writeFileSync(join(dir, 'mqtt-ca.pem'), tlsBroker.ca.cert);
    writeFileSync(join(dir, 'mqtt.pem'), client.cert);
    writeFileSync(join(dir, 'mqtt.key'), client.key, { mode: 0o600 });
    return { upstream: { url: `ws://127.0.0.1:${port}/ocpp` }, mqtt: { url: tlsBroker.url, tls: { ca: 'mqtt-ca.pem', ...(withClient ? { cert: 'mqtt.pem', key: 'mqtt.key' } : {}) } } };
  };
  const good = byId((await diagJson(site(t, config(true)).configPath)).checks, 'mqtt-tls');
  t.equal(good.status, 'pass', good.detail);
  const refused = byId((await diagJson(site(t, config(false)).configPath)).checks, 'mqtt-tls');
  t.equal(refused.status, 'fail', 'the broker requires a client certificate');
  t.match(refused.detail, /without a client certificate/);
});
