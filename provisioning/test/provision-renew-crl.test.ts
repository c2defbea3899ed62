/**
 * Renewal over mutual TLS and the CRL, against a real `serve`: the gateway
 * authenticates with the certificate it enrolled with; no certificate, a
 * foreign CA's, another gateway's or a revoked one is refused; the CRL lists
 * the revoked serials and openssl verifies it against ca.crt.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';
import { buildCsr } from '../../agent/src/provisioning/gateway-csr.js';
import { call, enrollBody, gatewayIdentity, preparedService, runProvision, startService, tempDir } from './helpers/provision-cli.js';

const openssl = (args: string[]): string => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** A certificate for `commonName` from a CA the service never saw. */
function foreignCertificate(keyPem: string, commonName: string): string {
  const caKeys = forge.pki.rsa.generateKeyPair({ bits: 1024 });
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.rsa.setPublicKey(key.n, key.e);
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  cert.setSubject([{ name: 'commonName', value: commonName }]);
  cert.setIssuer([{ name: 'commonName', value: 'Test Provisioning CA' }]);
  cert.setExtensions([{ name: 'extKeyUsage', clientAuth: true }]);
  cert.sign(caKeys.privateKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

t.test('renew over mutual TLS; refusals; revoke; the CRL', async (t) => {
  const { data, operator, caPem } = await preparedService(t);
  const service = await startService(t, data);
  const api = (options: Parameters<typeof call>[2]) => call(service, caPem, options);
  const ca = new X509Certificate(caPem);

  const enrolled: Record<string, { cert: string; keyPem: string; csr: string }> = {};
  for (const id of ['gw-r', 'gw-s']) {
    const gw = gatewayIdentity(t, id);
    t.equal((await api({ path: '/v1/preauthorizations', token: operator, body: { serial: `serial-${id}`, siteId: id === 'gw-r' ? 's2' : 's1' } })).status, 201);
    const answer = await api({ path: '/v1/enroll', body: enrollBody(gw) });
    t.equal(answer.status, 200, answer.text);
    enrolled[id] = { cert: (answer.json() as { certificate: string }).certificate, keyPem: gw.keyPem, csr: gw.csrPem };
  }
  const r = enrolled['gw-r'] as { cert: string; keyPem: string; csr: string };
  const s = enrolled['gw-s'] as { cert: string; keyPem: string; csr: string };

  // The gateway renews with a fresh CSR for its same key (its CSR is derived from the key).
  const renewed = await api({ path: '/v1/renew', body: { csr: buildCsr(r.keyPem, 'gw-r'), lanAddresses: ['10.0.0.5'] }, cert: r.cert, key: r.keyPem });
  t.equal(renewed.status, 200, renewed.text);
  const renewedBody = renewed.json() as { certificate: string; serverCertificate?: string };
  const next = new X509Certificate(renewedBody.certificate);
  t.ok(next.verify(ca.publicKey));
  t.equal(next.subject, 'CN=gw-r');
  t.not(next.serialNumber, new X509Certificate(r.cert).serialNumber, 'a new serial');
  t.equal(new X509Certificate(renewedBody.serverCertificate ?? '').subjectAltName, 'IP Address:10.0.0.5, DNS:gw-r.local', 'site s2: a server certificate for the new addresses');
  const withNext = await api({ path: '/v1/renew', body: { csr: r.csr, lanAddresses: [] }, cert: renewedBody.certificate, key: r.keyPem });
  t.equal(withNext.status, 200, 'the renewed certificate renews in turn');

  const noCert = await api({ path: '/v1/renew', body: { csr: r.csr, lanAddresses: [] } });
  t.equal(noCert.status, 403);
  t.equal((noCert.json().error as { code: string }).code, 'client_certificate_required');
  const foreign = await api({ path: '/v1/renew', body: { csr: r.csr, lanAddresses: [] }, cert: foreignCertificate(r.keyPem, 'gw-r'), key: r.keyPem });
  t.equal(foreign.status, 403, 'a certificate from another CA with the same name');
  const others = await api({ path: '/v1/renew', body: { csr: r.csr, lanAddresses: [] }, cert: s.cert, key: s.keyPem });
  t.equal(others.status, 403, "gw-s's certificate cannot renew gw-r");
  t.equal((others.json().error as { code: string }).code, 'csr_subject_mismatch');

  const revoked = await runProvision(['revoke', 'gw-r', '--data', data]);
  t.equal(revoked.code, 0, revoked.stderr);
  t.equal((await runProvision(['revoke', 'gw-none', '--data', data])).code, 1);
  const afterRevoke = await api({ path: '/v1/renew', body: { csr: r.csr, lanAddresses: [] }, cert: renewedBody.certificate, key: r.keyPem });
  t.equal(afterRevoke.status, 403);
  t.equal((afterRevoke.json().error as { code: string }).code, 'certificate_revoked');
  t.equal((await api({ path: '/v1/renew', body: { csr: s.csr, lanAddresses: [] }, cert: s.cert, key: s.keyPem })).status, 200, 'gw-s is not affected');
  const listed = JSON.parse((await runProvision(['list', '--json', '--data', data])).stdout) as { gatewayId: string; state: string }[];
  t.same(listed.map((gateway) => [gateway.gatewayId, gateway.state]), [['gw-r', 'revoked'], ['gw-s', 'enrolled']]);

  const crl = await api({ path: '/v1/crl' });
  t.equal(crl.status, 200);
  t.match(crl.text, /^-----BEGIN X509 CRL-----\r?\n/);
  const dir = tempDir(t);
  writeFileSync(join(dir, 'crl.pem'), crl.text);
  writeFileSync(join(dir, 'ca.crt'), caPem);
  const text = execFileSync('openssl', ['crl', '-in', join(dir, 'crl.pem'), '-CAfile', join(dir, 'ca.crt'), '-noout', '-text'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  t.match(text, /Version 2/);
  t.match(text, /X509v3 CRL Number/);
  t.match(text, /X509v3 Authority Key Identifier/);
  const verified = execFileSync('sh', ['-c', `openssl crl -in '${join(dir, 'crl.pem')}' -CAfile '${join(dir, 'ca.crt')}' -noout 2>&1`], { encoding: 'utf8' });
  t.match(verified, /verify OK/);
  const listedSerials = [...text.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((match) => BigInt(`0x${match[1]}`));
  // Revoking gw-r revoked every certificate it was given.
  const rSerials = [r.cert, renewedBody.certificate, renewedBody.serverCertificate ?? ''].map((pem) => BigInt(`0x${new X509Certificate(pem).serialNumber}`));
  for (const serial of rSerials) t.ok(listedSerials.includes(serial), `serial ${serial.toString(16)} on the CRL`);
  t.notOk(listedSerials.includes(BigInt(`0x${new X509Certificate(s.cert).serialNumber}`)), "gw-s's certificate is not");
  t.equal(listedSerials.length, 6, 'client and server certificates of the enrollment and both renewals');

  // A CRL with nothing revoked leaves the list out and still verifies.
  const empty = await preparedService(t);
  const emptyService = await startService(t, empty.data);
  const emptyCrl = await call(emptyService, empty.caPem, { path: '/v1/crl' });
  writeFileSync(join(dir, 'empty.pem'), emptyCrl.text);
  writeFileSync(join(dir, 'empty-ca.crt'), empty.caPem);
  t.match(openssl(['crl', '-in', join(dir, 'empty.pem'), '-CAfile', join(dir, 'empty-ca.crt'), '-noout', '-text']), /No Revoked Certificates/);
});
