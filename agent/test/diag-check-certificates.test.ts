/** `pleevi-edge diag check`, the certificates the gateway presents: expired, near expiry, the enrolled one. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { createCa, issueClientCert, issueServerCert } from './helpers/certs.js';
import { byId, closedPort, DAY_MS, diagJson, site } from './helpers/diag-check-run.js';

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

  // The enrolled client certificate, as enrollment leaves it in <dataDir>/identity/.
  const enrolled = site(t, () => ({ upstream: { url: `ws://127.0.0.1:${port}/ocpp` } }));
  const identity = join(enrolled.dir, 'data', 'identity');
  mkdirSync(identity, { recursive: true });
  const gatewayCert = await issueClientCert(ca, 'gw-diag-enrolled', { notAfter: new Date(Date.now() + 3 * DAY_MS + 60_000) });
  writeFileSync(join(identity, 'gateway.crt'), gatewayCert.cert);
  writeFileSync(join(identity, 'gateway.key'), gatewayCert.key, { mode: 0o600 });
  const renewal = byId((await diagJson(enrolled.configPath)).checks, 'certificate-1');
  t.equal(renewal.title, 'certificate identity/gateway.crt');
  t.equal(renewal.status, 'warn');
  t.match(renewal.detail, /CN=gw-diag-enrolled/);
  t.match(renewal.fix, /renews it at two thirds/, 'the fix for the enrolled certificate is about renewal');
});
