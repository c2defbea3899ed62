/**
 * Certificate renewal (docs/provisioning.md "Renewal and the clock"): a
 * gateway enrolled with a short-lived certificate renews it over mutual TLS
 * against a real HTTPS test service that checks which certificate was
 * presented; refusals and failures never cost the current certificate.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateRenewal, type RenewalOptions } from '../src/provisioning/certificate-renewal.js';
import type { ClockCheck, ClockVerdict } from '../src/provisioning/clock-plausibility.js';
import { loadOrCreateIdentity } from '../src/provisioning/device-identity.js';
import { loadEnrolledIdentity, storeEnrollment, type EnrolledIdentity } from '../src/provisioning/enrolled-identity.js';
import type { ProvisioningEvent } from '../src/provisioning/provisioning-event.js';
import { createLogger } from '../src/util/logger.js';
import { createCa } from './helpers/certs.js';
import { serialOf, signCsr, startTestService, type Handler, type TestService } from './helpers/enrollment-service.js';
import { waitUntil as waitUntilWith } from './helpers/wait-until.js';

const waitUntil = (condition: () => boolean, limitMs?: number): Promise<void> => waitUntilWith(condition, condition.toString(), limitMs);

const [serviceCa, gatewayCa] = await Promise.all([createCa('Pleevi test enrollment TLS'), createCa('Pleevi test gateway CA')]);
const GATEWAY = { gatewayId: 'gw-renew-1', source: 'config' } as const;
const PLAUSIBLE: ClockCheck = () => ({ plausible: true, reason: 'synchronised' });
const MINUTE = 60_000;

function tempDataDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'pe-renew-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'data');
}

/** A gateway enrolled with a certificate valid from `notBefore` for `lifetimeMs`. */
function enrolledGateway(t: Test, serviceUrl: string, notBefore: Date, lifetimeMs: number): { dataDir: string; identity: EnrolledIdentity } {
  const dataDir = tempDataDir(t);
  const device = loadOrCreateIdentity(dataDir, GATEWAY);
  const identity = storeEnrollment(
    dataDir,
    { certificate: signCsr(gatewayCa, device.csrPem, { notBefore, lifetimeMs }), caBundle: gatewayCa.cert, config: { upstream: { url: 'wss://cpms.example.com/ocpp' } } },
    { serviceUrl },
  );
  return { dataDir, identity };
}

/** The service's renew: a new certificate for the CSR, only for a client that presented `current()`. */
function renewingHandler(current: () => string, lifetimeMs = 90 * 24 * 60 * MINUTE): Handler {
  return (request) => {
    if (request.path !== '/v1/renew' || request.clientSerial !== serialOf(current())) return { status: 403, body: { error: { code: 'unknown-certificate', message: 'not a current gateway certificate' } } };
    const csr = String(request.body['csr']);
    return { status: 200, body: { certificate: signCsr(gatewayCa, csr, { lifetimeMs }), serverCertificate: signCsr(gatewayCa, csr, { usage: 'serverAuth', lifetimeMs }) } };
  };
}

interface Harness {
  readonly renewal: CertificateRenewal;
  readonly renewed: EnrolledIdentity[];
  readonly events: ProvisioningEvent[];
  readonly logs: { level: string; msg: string }[];
}

function harness(t: Test, service: TestService, dataDir: string, identity: EnrolledIdentity, overrides: Partial<RenewalOptions> = {}): Harness {
  const renewed: EnrolledIdentity[] = [];
  const events: ProvisioningEvent[] = [];
  const logs: { level: string; msg: string }[] = [];
  const renewal = new CertificateRenewal({
    dataDir,
    identity,
    ca: serviceCa.cert,
    onRenewed: (next) => renewed.push(next),
    onEvent: (event) => events.push(event),
    logger: createLogger('debug', { write: (line: string) => void logs.push(JSON.parse(line) as { level: string; msg: string }) }),
    lanAddresses: () => ['10.0.0.7'],
    clock: PLAUSIBLE,
    timing: { clockRecheckMs: 20, initialBackoffMs: 40, maxBackoffMs: 200, refusedRetryMs: 100, maxSleepMs: 500 },
    ...overrides,
  });
  t.teardown(() => renewal.stop());
  void service;
  return { renewal, renewed, events, logs };
}

t.test('a 6 s certificate is renewed after two thirds of its lifetime, over mutual TLS with the old certificate', async (t) => {
  const service = await startTestService(t, serviceCa, () => ({ status: 500 }));
  const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000);
  const { dataDir, identity } = enrolledGateway(t, service.url, notBefore, 6000);
  service.setHandler(renewingHandler(() => identity.certificatePem));
  const { renewal, renewed, events } = harness(t, service, dataDir, identity);
  renewal.start();
  const status = renewal.status();
  t.equal(status.state, 'scheduled');
  const renewAt = new Date(status.renewAt).getTime();
  t.ok(renewAt >= notBefore.getTime() + 4000 && renewAt <= notBefore.getTime() + 4300, `renewAt at 2/3 of 6 s plus at most 5 % (${renewAt - notBefore.getTime()} ms)`);
  t.equal(status.expired, false);

  await waitUntil(() => renewed.length === 1, 10_000);
  const [request] = service.requests;
  if (request === undefined) throw new Error('one request');
  t.equal(service.requests.length, 1);
  t.ok(request.at >= renewAt, `not before renewAt (${request.at - notBefore.getTime()} ms after notBefore)`);
  t.equal(request.path, '/v1/renew');
  t.equal(request.clientSerial, identity.serialNumber, 'the old certificate was presented');
  t.same(Object.keys(request.body).sort(), ['csr', 'lanAddresses']);
  t.same(request.body['lanAddresses'], ['10.0.0.7']);

  const next = renewed[0]!;
  t.not(next.serialNumber, identity.serialNumber, 'a new certificate');
  t.same(loadEnrolledIdentity(dataDir), next, 'stored');
  t.equal(readFileSync(join(dataDir, 'identity', 'gateway.crt'), 'utf8'), next.certificatePem);
  t.ok(next.serverCertificatePem, 'with the new server certificate');
  t.type(next.renewedAt, 'string');
  t.equal(next.enrolledAt, identity.enrolledAt, 'enrolledAt kept');
  t.same(next.config, identity.config, 'the configuration is untouched');
  t.same(events, [{ type: 'certificate-renewed', gatewayId: 'gw-renew-1', serialNumber: next.serialNumber, notAfter: next.notAfter.toISOString(), previousSerialNumber: identity.serialNumber }]);
  const after = renewal.status();
  t.equal(after.state, 'scheduled');
  t.equal(after.serialNumber, next.serialNumber);
  t.ok(new Date(after.renewAt).getTime() > Date.now() + 59 * 24 * 60 * MINUTE, 'the next renewal is two thirds into the new lifetime');
});

t.test('403: refused, logged at error, asked again slowly, and the current certificate is kept', async (t) => {
  const service = await startTestService(t, serviceCa, () => ({ status: 403, body: { error: { code: 'revoked', message: 'certificate revoked' } } }));
  const { dataDir, identity } = enrolledGateway(t, service.url, new Date(Date.now() - 10 * MINUTE), 12 * MINUTE);
  const { renewal, renewed, events, logs } = harness(t, service, dataDir, identity);
  renewal.start();
  await waitUntil(() => service.requests.length >= 3 && renewal.status().state === 'refused');
  const status = renewal.status();
  t.same(status.lastError, { code: 'revoked', message: 'the enrollment service refused the renewal (HTTP 403): certificate revoked' });
  t.equal(status.serialNumber, identity.serialNumber);
  t.ok((service.requests[1]?.at ?? 0) - (service.requests[0]?.at ?? 0) >= 100, 'after refusedRetryMs');
  t.equal(readFileSync(join(dataDir, 'identity', 'gateway.crt'), 'utf8'), identity.certificatePem, 'gateway.crt untouched');
  t.same(loadEnrolledIdentity(dataDir), identity);
  t.same(renewed, []);
  t.same(events, [{ type: 'certificate-renewal-failed', gatewayId: 'gw-renew-1', reason: 'refused', code: 'revoked', message: status.lastError?.message, notAfter: identity.notAfter.toISOString() }], 'one event for the run of refusals, not one per retry');
  t.ok(logs.some((line) => line.level === 'error' && /refused the renewal/.test(line.msg)), 'logged at error');

  service.setHandler(renewingHandler(() => identity.certificatePem));
  await waitUntil(() => renewed.length === 1, 5000);
  t.equal(renewal.status().state, 'scheduled', 'an operator fixed it: renewed on the next slow retry');
  t.equal(renewal.status().lastError, undefined);
});

t.test('failures back off and keep the certificate; an answer for another key is refused', async (t) => {
  const service = await startTestService(t, serviceCa, () => ({ status: 503, body: { error: { code: 'maintenance', message: 'back soon' } } }));
  const { dataDir, identity } = enrolledGateway(t, service.url, new Date(Date.now() - 10 * MINUTE), 12 * MINUTE);
  const other = loadOrCreateIdentity(join(dataDir, 'other'), { gatewayId: 'gw-renew-1', source: 'config' });
  const { renewal, renewed, events } = harness(t, service, dataDir, identity, { random: () => 0 });
  renewal.start();
  await waitUntil(() => service.requests.length >= 3 && renewal.status().state === 'retrying');
  t.match(renewal.status().lastError, { code: 'PE_ERR_ENROLLMENT', message: /HTTP 503: maintenance: back soon/ });
  const gaps = service.requests.slice(1, 3).map((request, index) => request.at - (service.requests[index]?.at ?? 0));
  t.ok((gaps[0] ?? 0) >= 20 && (gaps[1] ?? 0) >= 40, `backoff (${gaps.join(', ')} ms)`);

  service.setHandler(() => ({ status: 200, body: { certificate: signCsr(gatewayCa, other.csrPem, { commonName: 'gw-renew-1' }) } }));
  await waitUntil(() => renewal.status().lastError?.message.includes('another key') === true);
  t.match(renewal.status(), { state: 'retrying', lastError: { code: 'PE_ERR_ENROLLMENT', message: /renewal failed: the client certificate \(serial [0-9A-F]+\) is for another key/ } });
  t.equal(readFileSync(join(dataDir, 'identity', 'gateway.crt'), 'utf8'), identity.certificatePem, 'gateway.crt untouched');
  t.same(events.map((event) => event.type === 'certificate-renewal-failed' && event.reason), ['unreachable', 'invalid-answer'], 'one event per kind of failure');

  service.setHandler(renewingHandler(() => identity.certificatePem));
  await waitUntil(() => renewed.length === 1);
  t.equal(renewal.status().state, 'scheduled');
});

t.test('no renewal and no expiry decision while the clock is implausible; an expired certificate is kept and renewed', async (t) => {
  const service = await startTestService(t, serviceCa, () => ({ status: 500 }));
  const { dataDir, identity } = enrolledGateway(t, service.url, new Date(Date.now() - 20 * MINUTE), 10 * MINUTE);
  let verdict: ClockVerdict = { plausible: false, reason: 'not-synchronised', message: 'systemd-timesyncd runs but has not synchronised the clock yet' };
  const { renewal, renewed, logs } = harness(t, service, dataDir, identity, { clock: () => verdict });
  renewal.start();
  await waitUntil(() => renewal.status().state === 'waiting-for-clock');
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.equal(service.requests.length, 0, 'nothing sent');
  t.equal(renewal.status().expired, undefined, 'expired: no decision');
  t.equal(logs.filter((line) => /plausible clock/.test(line.msg)).length, 1, 'said once');

  verdict = { plausible: true, reason: 'synchronised' };
  await waitUntil(() => service.requests.length >= 1 && renewal.status().state === 'retrying');
  t.equal(renewal.status().expired, true, 'now it can say the certificate has expired');
  t.match(renewal.status().lastError?.message, /the certificate expired at .* and is kept while renewal is retried/);
  t.ok(logs.some((line) => line.level === 'error' && /expired/.test(line.msg)), 'an expired certificate failing to renew is an error');
  t.same(loadEnrolledIdentity(dataDir), identity, 'kept');

  service.setHandler(renewingHandler(() => identity.certificatePem));
  await waitUntil(() => renewed.length === 1);
  t.equal(renewal.status().expired, false);
});
