/**
 * The enrollment API against a real `pleevi-provision serve` (HTTPS on port
 * 0, its own CA, its own SQLite file), with gateway identities made by the
 * gateway's own code: register, claim, enroll, the claim code's rules, the
 * request bounds and the claim page.
 */
import t from 'tap';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { buildCsr } from '../../agent/src/provisioning/gateway-csr.js';
import { call, enrollBody, gatewayIdentity, preparedService, runProvision, startService } from './helpers/provision-cli.js';

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

t.test('enroll 202, claim 201, enroll 200 with a certificate from the CA; the code then used up', async (t) => {
  const { data, installer, operator, caPem } = await preparedService(t);
  const service = await startService(t, data);
  const api = (options: Parameters<typeof call>[2]) => call(service, caPem, options);
  const gw = gatewayIdentity(t, 'gw-a');
  const typedCode = gw.claimCode.toLowerCase().replace(/-/g, '');
  const secrets = [gw.claimCode, typedCode, installer, operator];

  const waiting = await api({ path: '/v1/enroll', body: enrollBody(gw) });
  t.equal(waiting.status, 202);
  t.same(waiting.json(), { retryAfterS: 30 });
  t.equal(waiting.headers['retry-after'], '30');

  const listed = await runProvision(['list', '--json', '--data', data]);
  t.match(JSON.parse(listed.stdout), [{ gatewayId: 'gw-a', serial: 'serial-gw-a', state: 'unclaimed', siteId: null, certificateExpiresAt: null }]);

  t.equal((await api({ path: '/v1/claims', body: { gatewayId: 'gw-a', claimCode: typedCode, siteId: 's1' } })).status, 401, 'no token');
  const unknownSite = await api({ path: '/v1/claims', token: installer, body: { gatewayId: 'gw-a', claimCode: gw.claimCode, siteId: 'nope' } });
  t.equal(unknownSite.status, 404);
  t.equal((unknownSite.json().error as { code: string }).code, 'site_not_found');

  const claimed = await api({ path: '/v1/claims', token: installer, body: { gatewayId: 'gw-a', claimCode: typedCode, siteId: 's1' } });
  t.equal(claimed.status, 201, claimed.text);
  t.match(claimed.json(), { gatewayId: 'gw-a', siteId: 's1' });
  const again = await api({ path: '/v1/claims', token: installer, body: { gatewayId: 'gw-a', claimCode: gw.claimCode, siteId: 's1' } });
  t.equal(again.status, 409);
  t.same(Object.keys(again.json()), ['error']);
  t.equal((again.json().error as { code: string }).code, 'code_used');

  const wrong = await api({ path: '/v1/enroll', body: enrollBody(gw, { claimCode: '0000-0000-0000-0000' }) });
  t.equal(wrong.status, 403);
  t.equal((wrong.json().error as { code: string }).code, 'wrong_claim_code');

  const before = Date.now();
  const enrolled = await api({ path: '/v1/enroll', body: enrollBody(gw) });
  t.equal(enrolled.status, 200, enrolled.text);
  const body = enrolled.json() as { certificate: string; caBundle: string; config: unknown; serverCertificate?: string };
  t.equal(body.caBundle, caPem);
  t.same(body.config, { upstream: { url: 'wss://cpms.example/ocpp' }, mqtt: { url: 'mqtts://broker.example' } });
  t.equal(body.serverCertificate, undefined, 'site s1 gives no server certificate');
  const ca = new X509Certificate(caPem);
  const cert = new X509Certificate(body.certificate);
  t.ok(cert.verify(ca.publicKey), 'signed by the CA');
  t.ok(cert.checkIssued(ca));
  t.equal(cert.subject, 'CN=gw-a');
  t.same(cert.keyUsage, [CLIENT_AUTH]);
  t.equal(BigInt(`0x${cert.serialNumber}`).toString(2).length, 128, '128-bit serial');
  const backdatedS = (before - Date.parse(cert.validFrom)) / 1000;
  t.ok(backdatedS >= 299 && backdatedS <= 302, `notBefore 5 minutes back (${backdatedS} s)`);
  const lifetimeDays = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
  t.ok(Math.abs(lifetimeDays - 90 - 5 / 1440) < 0.001, `90 days (${lifetimeDays})`);
  t.ok(cert.publicKey.equals(new X509Certificate(body.certificate).publicKey));

  // A gateway that lost the 200 (power cut before it stored it) asks again with the same key: answered again.
  const asked = await api({ path: '/v1/enroll', body: enrollBody(gw) });
  t.equal(asked.status, 200, 'the same key and code get the answer again');
  const againCert = new X509Certificate((asked.json() as { certificate: string }).certificate);
  t.ok(againCert.publicKey.equals(cert.publicKey), 'for the same key');
  t.not(againCert.serialNumber, cert.serialNumber, 'as a new certificate');
  // Anyone else who knows the used code, with another key: refused.
  const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const reEnroll = await api({ path: '/v1/enroll', body: enrollBody(gw, { csr: buildCsr(otherKey, 'gw-a') }) });
  t.equal(reEnroll.status, 409, 'the code is used up for any other key: the gateway renews from now on');
  const afterList = JSON.parse((await runProvision(['list', '--json', '--data', data])).stdout) as { state: string; siteId: string; certificateExpiresAt: string }[];
  t.match(afterList, [{ gatewayId: 'gw-a', state: 'enrolled', siteId: 's1', agentVersion: '0.1.0' }]);
  // The newest certificate is the one given again above.
  t.equal(afterList[0]?.certificateExpiresAt, new Date(Date.parse(againCert.validTo)).toISOString());

  const unknown = await api({ path: '/v1/claims', token: installer, body: { gatewayId: 'gw-none', claimCode: gw.claimCode, siteId: 's1' } });
  t.equal(unknown.status, 404);
  t.equal((unknown.json().error as { code: string }).code, 'not_found');

  t.equal(await service.stop(), 0, 'SIGTERM: exit 0');
  for (const secret of secrets) t.notOk(service.output().includes(secret), 'no claim code or token in the log');
  t.match(service.output(), /"path":"\/v1\/enroll","status":200/);
});

t.test('preauthorized serial enrolls without a claim; a server certificate for a site that gives them', async (t) => {
  const { data, installer, operator, caPem } = await preparedService(t);
  const service = await startService(t, data, ['--cert-lifetime-s', '3600']);
  const api = (options: Parameters<typeof call>[2]) => call(service, caPem, options);
  const gw = gatewayIdentity(t, 'gw-p');

  t.equal((await api({ path: '/v1/preauthorizations', token: installer, body: { serial: 'serial-gw-p', siteId: 's2' } })).status, 403, 'an installer token cannot preauthorize');
  const pre = await api({ path: '/v1/preauthorizations', token: operator, body: { serial: 'serial-gw-p', siteId: 's2' } });
  t.equal(pre.status, 201, pre.text);

  const enrolled = await api({ path: '/v1/enroll', body: enrollBody(gw, { lanAddresses: ['192.168.1.20', 'fd00::20'] }) });
  t.equal(enrolled.status, 200, enrolled.text);
  const body = enrolled.json() as { certificate: string; serverCertificate: string };
  const ca = new X509Certificate(caPem);
  const client = new X509Certificate(body.certificate);
  t.equal((Date.parse(client.validTo) - Date.parse(client.validFrom)) / 1000, 3600 + 300, '--cert-lifetime-s 3600');
  const server = new X509Certificate(body.serverCertificate);
  t.ok(server.verify(ca.publicKey));
  t.equal(server.subject, 'CN=gw-p');
  t.same(server.keyUsage, [SERVER_AUTH]);
  t.equal(server.subjectAltName, 'IP Address:192.168.1.20, IP Address:FD00:0:0:0:0:0:0:20, DNS:gw-p.local');
  t.ok(server.publicKey.equals(client.publicKey), 'the gateway\'s one key');

  const badAddress = await api({ path: '/v1/enroll', body: enrollBody(gatewayIdentity(t, 'gw-q'), { lanAddresses: ['not-an-ip'] }) });
  t.equal(badAddress.status, 400);
  const csrOfOther = await api({ path: '/v1/enroll', body: enrollBody(gatewayIdentity(t, 'gw-q'), { gatewayId: 'gw-other' }) });
  t.equal(csrOfOther.status, 400);
  t.equal((csrOfOther.json().error as { code: string }).code, 'csr_subject_mismatch');
});

t.test('an expired code answers 410; the expiry counts from the first enroll call', async (t) => {
  const { data, installer, caPem } = await preparedService(t);
  const service = await startService(t, data, ['--claim-ttl-days', '7']);
  const gw = gatewayIdentity(t, 'gw-e');
  t.equal((await call(service, caPem, { path: '/v1/enroll', body: enrollBody(gw) })).status, 202);
  const eightDays = { PLEEVI_PROVISION_CLOCK_OFFSET_S: String(8 * 86_400) };
  const late = await runProvision(['claim', 'gw-e', gw.claimCode, '--site', 's1', '--data', data], eightDays);
  t.equal(late.code, 1);
  t.match(late.stderr, /\[code_expired\]/);
  t.notOk(late.stderr.includes(gw.claimCode));
  const sixDays = await runProvision(['claim', 'gw-e', gw.claimCode, '--site', 's1', '--data', data], { PLEEVI_PROVISION_CLOCK_OFFSET_S: String(6 * 86_400) });
  t.equal(sixDays.code, 0, sixDays.stderr);
  const used = await call(service, caPem, { path: '/v1/claims', token: installer, body: { gatewayId: 'gw-e', claimCode: gw.claimCode, siteId: 's1' } });
  t.equal(used.status, 409);
});

t.test('wrong codes are limited per gateway and per address: 429 with Retry-After', async (t) => {
  const { data, installer, caPem } = await preparedService(t);
  const service = await startService(t, data);
  const api = (options: Parameters<typeof call>[2]) => call(service, caPem, options);
  const gw = gatewayIdentity(t, 'gw-c');
  t.equal((await api({ path: '/v1/enroll', body: enrollBody(gw) })).status, 202);
  for (let attempt = 1; attempt <= 5; attempt += 1) {
    const wrong = await api({ path: '/v1/claims', token: installer, body: { gatewayId: 'gw-c', claimCode: `ZZZZ-ZZZZ-ZZZZ-ZZZ${attempt}`, siteId: 's1' } });
    t.equal(wrong.status, 404, `wrong code ${attempt}`);
  }
  const limited = await api({ path: '/v1/claims', token: installer, body: { gatewayId: 'gw-c', claimCode: gw.claimCode, siteId: 's1' } });
  t.equal(limited.status, 429, 'even the right code, once over the limit');
  t.equal((limited.json().error as { code: string }).code, 'too_many_attempts');
  const retryAfter = Number(limited.headers['retry-after']);
  t.ok(retryAfter > 890 && retryAfter <= 900, `Retry-After ${retryAfter}`);
  const enrollLimited = await api({ path: '/v1/enroll', body: enrollBody(gw) });
  t.equal(enrollLimited.status, 429, 'the gateway\'s own enroll calls too');
  // The per-address limit covers other gateways from the same address.
  const other = gatewayIdentity(t, 'gw-d');
  t.equal((await api({ path: '/v1/enroll', body: enrollBody(other) })).status, 429);
  // 16 minutes later the window has passed (the command line shares the limit through the database).
  const later = await runProvision(['claim', 'gw-c', gw.claimCode, '--site', 's1', '--data', data], { PLEEVI_PROVISION_CLOCK_OFFSET_S: String(16 * 60) });
  t.equal(later.code, 0, later.stderr);
});

t.test('request bounds: 413, 400, 415, 404 and 405 as JSON errors', async (t) => {
  const { data, caPem } = await preparedService(t);
  const service = await startService(t, data);
  const api = (options: Parameters<typeof call>[2]) => call(service, caPem, options);
  const big = await api({ path: '/v1/enroll', rawBody: JSON.stringify({ pad: 'x'.repeat(70 * 1024) }), headers: { 'content-type': 'application/json' } });
  t.equal(big.status, 413);
  t.same(big.json(), { error: { code: 'body_too_large', message: 'the body must be at most 65536 bytes' } });
  const badJson = await api({ path: '/v1/enroll', rawBody: '{"gatewayId":', headers: { 'content-type': 'application/json' } });
  t.equal(badJson.status, 400);
  t.equal((badJson.json().error as { code: string }).code, 'invalid_json');
  const notObject = await api({ path: '/v1/enroll', rawBody: '[1]', headers: { 'content-type': 'application/json' } });
  t.equal(notObject.status, 400);
  const text = await api({ path: '/v1/enroll', rawBody: '{}', headers: { 'content-type': 'text/plain' } });
  t.equal(text.status, 415);
  const missing = await api({ path: '/v1/nothing' });
  t.equal(missing.status, 404);
  t.same(Object.keys(missing.json().error as object), ['code', 'message']);
  const method = await api({ path: '/v1/enroll', method: 'GET' });
  t.equal(method.status, 405);
  t.equal(method.headers.allow, 'POST');
});

t.test('the claim page: escaped, locked down, claims with the right token only', async (t) => {
  const { data, installer, caPem } = await preparedService(t);
  const service = await startService(t, data);
  const api = (options: Parameters<typeof call>[2]) => call(service, caPem, options);
  const hostile = '"><script>alert(1)</script>';
  const page = await api({ path: `/claim?gw=${encodeURIComponent(hostile)}&code=${encodeURIComponent("x'<b>")}` });
  t.equal(page.status, 200);
  t.notOk(page.text.includes('<script>'), 'no markup from the query');
  t.ok(page.text.includes('&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;'));
  t.ok(page.text.includes('x&#39;&#60;b&#62;'));
  t.match(page.text, /<option value="s1">s1<\/option><option value="s2">s2<\/option>/);
  t.match(String(page.headers['content-security-policy']), /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; form-action 'self'/);
  t.equal(page.headers['cache-control'], 'no-store');
  t.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  t.notMatch(page.text, /https?:\/\//, 'no external asset');

  const gw = gatewayIdentity(t, 'gw-page');
  t.equal((await api({ path: '/v1/enroll', body: enrollBody(gw) })).status, 202);
  const form = (token: string): string => new URLSearchParams({ gw: 'gw-page', code: gw.claimCode.toLowerCase(), site: 's1', token }).toString();
  const formHeaders = { 'content-type': 'application/x-www-form-urlencoded' };
  const refused = await api({ path: '/claim', method: 'POST', rawBody: form('pvt_wrong'), headers: formHeaders });
  t.equal(refused.status, 401);
  t.match(refused.text, /token was not accepted/);
  const accepted = await api({ path: '/claim', method: 'POST', rawBody: form(installer), headers: formHeaders });
  t.equal(accepted.status, 201, 'claimed from the page');
  t.match(accepted.text, /Gateway gw-page is claimed for site s1/);
  t.match(String(accepted.headers['content-security-policy']), /default-src 'none'/);
  const twice = await api({ path: '/claim', method: 'POST', rawBody: form(installer), headers: formHeaders });
  t.equal(twice.status, 409);
  t.match(twice.text, /already been used/);
  t.notOk(service.output().includes(gw.claimCode) || service.output().includes(gw.claimCode.toLowerCase()) || service.output().includes(installer));
  t.equal((await api({ path: '/v1/enroll', body: enrollBody(gw) })).status, 200);
});
