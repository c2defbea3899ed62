/**
 * Enrollment (docs/provisioning.md "Enrollment"): the gateway's loop against a
 * real HTTPS server on port 0 that plays the enrollment service with
 * scripted answers, certificates issued by a test CA for the CSR that
 * loadOrCreateIdentity made, and the enrolled files on a real temp dataDir.
 */
import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, type NetworkInterfaceInfo } from 'node:os';
import { join } from 'node:path';
import { EnrollmentError, IdentityError } from '../src/errors.js';
import type { ClockCheck, ClockVerdict } from '../src/provisioning/clock-plausibility.js';
import { loadOrCreateIdentity, type DeviceIdentity } from '../src/provisioning/device-identity.js';
import { verifyEnrollmentAnswer, type EnrollmentAnswer } from '../src/provisioning/enrollment-answer.js';
import { postEnroll, type EnrollRequest } from '../src/provisioning/enrollment-api.js';
import { Enrollment, type EnrollmentOptions } from '../src/provisioning/enrollment-loop.js';
import { loadEnrolledIdentity, storeEnrollment, type EnrolledIdentity } from '../src/provisioning/enrolled-identity.js';
import { lanAddresses } from '../src/provisioning/lan-addresses.js';
import type { ProvisioningEvent } from '../src/provisioning/provisioning-event.js';
import { createLogger } from '../src/util/logger.js';
import { createCa } from './helpers/certs.js';
import { serialOf, signCsr, startTestService, type Handler, type TestService } from './helpers/enrollment-service.js';
import { runCli } from './helpers/run-cli.js';
import { waitUntil as waitUntilWith } from './helpers/wait-until.js';

const waitUntil = (condition: () => boolean): Promise<void> => waitUntilWith(condition, condition.toString());

const [serviceCa, gatewayCa, otherCa] = await Promise.all([createCa('Pleevi test enrollment TLS'), createCa('Pleevi test gateway CA'), createCa('Pleevi test other CA')]);
const GATEWAY = { gatewayId: 'gw-enroll-1', source: 'config' } as const;
const PLAUSIBLE: ClockCheck = () => ({ plausible: true, reason: 'after-build-time' });
const CONFIG = { upstream: { url: 'wss://cpms.example.com/ocpp' }, stations: { list: [{ id: 'CP-1', password: 'station-secret-1' }] } };

function tempDataDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'pe-enroll-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'data');
}

/** The answer a good service gives for this request's CSR. */
function goodAnswer(request: { body: Record<string, unknown> }, extra: Partial<EnrollmentAnswer> = {}): EnrollmentAnswer {
  const csr = String(request.body['csr']);
  return { certificate: signCsr(gatewayCa, csr), serverCertificate: signCsr(gatewayCa, csr, { usage: 'serverAuth' }), caBundle: gatewayCa.cert, config: CONFIG, ...extra };
}

interface Harness {
  readonly enrollment: Enrollment;
  readonly enrolled: Promise<EnrolledIdentity>;
  readonly events: ProvisioningEvent[];
  readonly logs: string[];
}

function harness(t: Test, service: TestService, dataDir: string, overrides: Partial<EnrollmentOptions> = {}, logs: string[] = []): Harness {
  const events: ProvisioningEvent[] = [];
  let resolve: (identity: EnrolledIdentity) => void = () => undefined;
  const enrolled = new Promise<EnrolledIdentity>((done) => (resolve = done));
  const enrollment = new Enrollment({
    dataDir,
    gateway: GATEWAY,
    serial: '10000000abcdef01',
    serviceUrl: service.url,
    ca: serviceCa.cert,
    agentVersion: '9.9.9-test',
    validateConfig: () => [],
    onEnrolled: resolve,
    onEvent: (event) => events.push(event),
    logger: createLogger('debug', { write: (line: string) => void logs.push(line) }),
    lanAddresses: () => ['192.168.1.20'],
    clock: PLAUSIBLE,
    random: () => 0.5,
    timing: { clockRecheckMs: 20, initialBackoffMs: 40, maxBackoffMs: 400, refusedRetryMs: 100, defaultWaitS: 1 },
    ...overrides,
  });
  t.teardown(() => enrollment.stop());
  return { enrollment, enrolled, events, logs };
}

function claimRecord(dataDir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dataDir, 'identity', 'claim.json'), 'utf8')) as Record<string, unknown>;
}

t.test('202 then 200: waits as asked, verifies, stores 0600 files, strikes the claim code', async (t) => {
  const dataDir = tempDataDir(t);
  const service = await startTestService(t, serviceCa, (request, index) => (index === 0 ? { status: 202, body: { retryAfterS: 1 } } : { status: 200, body: goodAnswer(request) }));
  const { enrollment, enrolled, events, logs } = harness(t, service, dataDir);
  enrollment.start();
  await waitUntil(() => enrollment.status().state === 'waiting-for-claim');
  t.equal(enrollment.status().attempts, 1);
  t.ok(enrollment.status().nextAttemptAt, 'the next attempt is shown');
  const claimCode = claimRecord(dataDir)['claimCode'];
  t.type(claimCode, 'string');
  const identity = await enrolled;

  t.equal(service.requests.length, 2);
  const [first, second] = service.requests;
  if (first === undefined || second === undefined) throw new Error('two requests');
  t.ok(second.at - first.at >= 1000, `retryAfterS 1 honoured (${second.at - first.at} ms)`);
  t.ok(second.at - first.at < 3000, 'with a bounded jitter (20 %, plus slack for a busy machine)');
  t.equal(first.path, '/v1/enroll');
  t.same(Object.keys(first.body).sort(), ['agentVersion', 'claimCode', 'csr', 'gatewayId', 'lanAddresses', 'serial']);
  t.same({ ...first.body, csr: undefined }, { gatewayId: 'gw-enroll-1', serial: '10000000abcdef01', claimCode, lanAddresses: ['192.168.1.20'], agentVersion: '9.9.9-test', csr: undefined });
  t.equal(first.clientSerial, undefined, 'no client certificate on /v1/enroll');

  t.equal(enrollment.status().state, 'enrolled');
  t.equal(enrollment.status().nextAttemptAt, undefined, 'no further attempt');
  t.equal(identity.commonName, 'gw-enroll-1');
  t.same(identity.config, CONFIG);
  t.equal(identity.serviceUrl, service.url);
  t.equal(identity.serialNumber, serialOf(identity.certificatePem));
  t.ok(identity.notAfter.getTime() > Date.now() + 80 * 24 * 3600_000);
  t.same(loadEnrolledIdentity(dataDir), identity, 'what onEnrolled got is what is stored');
  const dir = join(dataDir, 'identity');
  for (const name of ['gateway.crt', 'ca-bundle.pem', 'server.crt', 'enrolled-config.json', 'enrollment.json', 'claim.json', 'gateway.key']) {
    t.equal(statSync(join(dir, name)).mode & 0o777, 0o600, `${name} is 0600`);
  }
  t.same(readdirSync(dir).filter((name) => name.endsWith('.tmp')), [], 'no temp file left');
  t.same(JSON.parse(readFileSync(join(dir, 'enrolled-config.json'), 'utf8')), CONFIG);

  const claim = claimRecord(dataDir);
  t.equal(claim['claimCode'], null, 'claim.json: the code is gone');
  t.type(claim['claimedAt'], 'string');
  const again = loadOrCreateIdentity(dataDir, GATEWAY);
  t.equal(again.claimCode, undefined, 'loadOrCreateIdentity shows no code for a claimed gateway');
  t.equal(again.claimedAt, claim['claimedAt']);
  t.equal(again.created, false, 'and makes nothing new');
  t.equal(claimRecord(dataDir)['claimCode'], null, 'and does not make a new code');

  t.same(events.map((event) => event.type), ['enrolled']);
  t.same(events[0], { type: 'enrolled', gatewayId: 'gw-enroll-1', serialNumber: identity.serialNumber, notAfter: identity.notAfter.toISOString() });
  t.ok(logs.length > 0, 'it logged');
  t.notOk(logs.some((line) => line.includes(String(claimCode))), 'the claim code is in no log line');
  t.notOk(logs.some((line) => line.includes('station-secret-1')), 'nor the enrolled configuration');

  // A new loop on an enrolled dataDir sends nothing and reports the stored identity.
  const later = harness(t, service, dataDir);
  later.enrollment.start();
  t.same(await later.enrolled, identity);
  t.equal(service.requests.length, 2, 'no request');
  t.same(later.events, [], 'and no second "enrolled" event');
});

t.test('the clock in 1970: no request until the clock is plausible', async (t) => {
  const dataDir = tempDataDir(t);
  const service = await startTestService(t, serviceCa, (request) => ({ status: 200, body: goodAnswer(request) }));
  let verdict: ClockVerdict = { plausible: false, reason: 'before-build-time', message: 'the clock says 1970-01-01T00:00:00.000Z' };
  const { enrollment, enrolled, logs } = harness(t, service, dataDir, { clock: () => verdict, now: () => new Date(0) });
  enrollment.start();
  await waitUntil(() => enrollment.status().state === 'waiting-for-clock');
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.equal(service.requests.length, 0, 'nothing sent while the clock is implausible');
  t.equal(enrollment.status().state, 'waiting-for-clock');
  t.match(enrollment.status().lastError, { code: 'clock-implausible', message: /1970/ });
  t.equal(logs.filter((line) => line.includes('plausible clock')).length, 1, 'said once, not at every recheck');
  verdict = { plausible: true, reason: 'synchronised' };
  await enrolled;
  t.equal(service.requests.length, 1, 'enrolled with the first request once the clock is plausible');
});

t.test('answers the gateway refuses are reported and not stored; it keeps polling', async (t) => {
  const cases: { name: string; answer: (request: { body: Record<string, unknown> }, other: DeviceIdentity) => EnrollmentAnswer; reason: string; message: RegExp; badConfig?: boolean }[] = [
    { name: 'a certificate for another key', answer: (request, other) => goodAnswer(request, { certificate: signCsr(gatewayCa, other.csrPem, { commonName: 'gw-enroll-1' }) }), reason: 'key-mismatch', message: /client certificate \(serial [0-9A-F]+\) is for another key/ },
    { name: 'a certificate from another CA', answer: (request) => goodAnswer(request, { certificate: signCsr(otherCa, String(request.body['csr'])) }), reason: 'untrusted-issuer', message: /not signed by a CA of the CA bundle \(its issuer is CN=Pleevi test other CA/ },
    { name: 'another CN', answer: (request) => goodAnswer(request, { certificate: signCsr(gatewayCa, String(request.body['csr']), { commonName: 'gw-someone-else' }) }), reason: 'wrong-subject', message: /subject CN is "gw-someone-else", not the gateway id "gw-enroll-1"/ },
    { name: 'no clientAuth', answer: (request) => goodAnswer(request, { certificate: signCsr(gatewayCa, String(request.body['csr']), { usage: 'serverAuth' }) }), reason: 'missing-usage', message: /client certificate .* extended key usage clientAuth/ },
    { name: 'a server certificate for another key', answer: (request, other) => goodAnswer(request, { serverCertificate: signCsr(gatewayCa, other.csrPem, { usage: 'serverAuth' }) }), reason: 'key-mismatch', message: /server certificate .* another key/ },
    { name: 'a CA bundle without certificates', answer: (request) => goodAnswer(request, { caBundle: 'nothing here' }), reason: 'malformed-answer', message: /CA bundle holds no PEM certificate/ },
    { name: 'a configuration that does not validate', answer: (request) => goodAnswer(request), reason: 'invalid-config', message: /enrolled configuration is refused \(1 problem\): \$\.upstream\.url: must be wss/, badConfig: true },
  ];
  const other = loadOrCreateIdentity(join(tempDataDir(t), 'other'), { gatewayId: 'gw-other', source: 'config' });
  for (const testCase of cases) {
    await t.test(testCase.name, async (t) => {
      const dataDir = tempDataDir(t);
      const service = await startTestService(t, serviceCa, (request) => ({ status: 200, body: testCase.answer(request, other) }));
      const { enrollment, events, logs } = harness(t, service, dataDir, testCase.badConfig === true ? { validateConfig: () => ['$.upstream.url: must be wss:// or ws://'] } : {});
      enrollment.start();
      await waitUntil(() => service.requests.length >= 2 && enrollment.status().state === 'refused');
      const status = enrollment.status();
      t.equal(status.state, 'refused');
      t.equal(status.lastError?.code, 'PE_ERR_ENROLLMENT');
      t.match(status.lastError?.message, testCase.message);
      t.match(events[0], { type: 'enrollment-refused', status: null, code: testCase.reason });
      t.ok(logs.map((line) => JSON.parse(line) as { level: string; msg: string }).some((line) => line.level === 'error' && testCase.message.test(line.msg)), 'logged at error');
      t.notOk(existsSync(join(dataDir, 'identity', 'gateway.crt')), 'no certificate stored');
      t.equal(loadEnrolledIdentity(dataDir), undefined, 'not enrolled');
      t.type(claimRecord(dataDir)['claimCode'], 'string', 'the claim code stays');
      t.notOk(logs.some((line) => line.includes('BEGIN')), 'no PEM in the logs');
    });
  }
});

t.test('verifyEnrollmentAnswer throws EnrollmentError with the failed check as reason', async (t) => {
  const identity = loadOrCreateIdentity(tempDataDir(t), GATEWAY);
  const keyPem = readFileSync(identity.keyPath, 'utf8');
  const good = goodAnswer({ body: { csr: identity.csrPem } });
  t.doesNotThrow(() => verifyEnrollmentAnswer(good, keyPem, 'gw-enroll-1'));
  t.doesNotThrow(() => verifyEnrollmentAnswer({ ...good, caBundle: `${otherCa.cert}${gatewayCa.cert}` }, keyPem, 'gw-enroll-1'), 'any CA of the bundle');
  t.throws(() => verifyEnrollmentAnswer({ ...good, caBundle: otherCa.cert }, keyPem, 'gw-enroll-1'), { name: 'EnrollmentError', code: 'PE_ERR_ENROLLMENT', reason: 'untrusted-issuer' });
  t.throws(() => verifyEnrollmentAnswer({ ...good, certificate: 'garbage' }, keyPem, 'gw-enroll-1'), { name: 'EnrollmentError', reason: 'malformed-answer' });
  try {
    verifyEnrollmentAnswer({ ...good, certificate: signCsr(gatewayCa, identity.csrPem, { usage: 'none' }) }, keyPem, 'gw-enroll-1');
    t.fail('no extended key usage is refused');
  } catch (error: unknown) {
    t.ok(error instanceof EnrollmentError && error.reason === 'missing-usage');
    t.notOk(String((error as Error).message).includes(keyPem.split('\n')[1] ?? 'x'), 'no key material in the message');
  }
});

t.test('403 is refused, polled again slowly; the claim code echoed by the service is scrubbed', async (t) => {
  const dataDir = tempDataDir(t);
  const service = await startTestService(t, serviceCa, (request) => ({
    status: 403,
    body: { error: { code: 'wrong-claim-code', message: `claim code ${String(request.body['claimCode'])} does not match` } },
  }));
  const { enrollment, events, logs } = harness(t, service, dataDir);
  enrollment.start();
  await waitUntil(() => service.requests.length >= 2 && enrollment.status().state === 'refused');
  const claimCode = String(claimRecord(dataDir)['claimCode']);
  const status = enrollment.status();
  t.equal(status.state, 'refused');
  t.same(status.lastError, { code: 'wrong-claim-code', message: 'the enrollment service refused (HTTP 403): claim code [claim code] does not match' });
  t.same(events[0], { type: 'enrollment-refused', gatewayId: 'gw-enroll-1', status: 403, code: 'wrong-claim-code', message: 'claim code [claim code] does not match' });
  const [first, second] = service.requests;
  t.ok(second !== undefined && first !== undefined && second.at - first.at >= 100, 'after refusedRetryMs');
  t.notOk(logs.some((line) => line.includes(claimCode)), 'the claim code is in no log line');
  t.notOk(JSON.stringify(status).includes(claimCode) || JSON.stringify(events).includes(claimCode), 'nor in the status or the events');
});

t.test('429 with Retry-After is honoured; 500 backs off exponentially', async (t) => {
  const dataDir = tempDataDir(t);
  const service = await startTestService(t, serviceCa, (request, index) => {
    if (index === 0) return { status: 429, headers: { 'retry-after': '1' }, body: { error: { code: 'rate-limited', message: 'slow down' } } };
    if (index < 5) return { status: 500, body: { error: { code: 'internal', message: 'boom' } } };
    return { status: 200, body: goodAnswer(request) };
  });
  const { enrollment, enrolled } = harness(t, service, dataDir, { random: () => 0 });
  enrollment.start();
  await waitUntil(() => service.requests.length === 2 && enrollment.status().state === 'error');
  t.match(enrollment.status().lastError?.message, /HTTP 500: internal: boom/);
  await enrolled;
  const gaps = service.requests.slice(1).map((request, index) => request.at - (service.requests[index]?.at ?? 0));
  t.ok((gaps[0] ?? 0) >= 1000, `Retry-After: 1 honoured (${gaps[0]} ms)`);
  // random 0: the equal-jitter backoff gives exactly half of 40, 80, 160, 320 ms.
  const backoff = gaps.slice(1);
  t.equal(backoff.length, 4);
  t.ok(backoff.every((gap, index) => gap >= [20, 40, 80, 160][index]!), `at least the backoff (${backoff.join(', ')} ms)`);
  t.ok((backoff[3] ?? 0) > (backoff[0] ?? 0), 'growing');
});

t.test('restart in the middle: a new loop on the same dataDir sends the same code and CSR, and enrolls', async (t) => {
  const dataDir = tempDataDir(t);
  let claimed = false;
  const service = await startTestService(t, serviceCa, (request) => (claimed ? { status: 200, body: goodAnswer(request) } : { status: 202, body: { retryAfterS: 0 } }));
  const first = harness(t, service, dataDir, { timing: { minRetryAfterS: 0.05 } });
  first.enrollment.start();
  await waitUntil(() => service.requests.length >= 2);
  first.enrollment.stop();
  const sent = service.requests.length;
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.equal(service.requests.length, sent, 'stop() stops polling');

  claimed = true;
  const second = harness(t, service, dataDir);
  second.enrollment.start();
  const identity = await second.enrolled;
  const bodies = service.requests.map((request) => request.body);
  t.equal(new Set(bodies.map((body) => body['claimCode'])).size, 1, 'one claim code across both runs');
  t.equal(new Set(bodies.map((body) => body['csr'])).size, 1, 'one CSR (the same key)');
  t.equal(identity.commonName, 'gw-enroll-1');
});

t.test('enrollNow() skips the wait (provision enroll); the service asking for a day is asked again within the hour', async (t) => {
  const dataDir = tempDataDir(t);
  const service = await startTestService(t, serviceCa, (request, index) => (index === 0 ? { status: 202, body: { retryAfterS: 86_400 } } : { status: 200, body: goodAnswer(request) }));
  const { enrollment, enrolled } = harness(t, service, dataDir, { random: () => 0 });
  enrollment.start();
  await waitUntil(() => enrollment.status().state === 'waiting-for-claim');
  const next = new Date(enrollment.status().nextAttemptAt ?? 0).getTime() - Date.now();
  t.ok(next > 3_500_000 && next <= 3_600_000, `retryAfterS bounded to 1 h (${next} ms)`);
  enrollment.enrollNow();
  await enrolled;
  t.equal(service.requests.length, 2);
});

t.test('stop() while a request hangs: the request is abandoned, nothing stored', async (t) => {
  const dataDir = tempDataDir(t);
  const service = await startTestService(t, serviceCa, () => 'hang');
  const { enrollment } = harness(t, service, dataDir);
  enrollment.start();
  await waitUntil(() => service.requests.length === 1);
  enrollment.stop();
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(enrollment.status().nextAttemptAt, undefined, 'nothing scheduled');
  t.equal(loadEnrolledIdentity(dataDir), undefined);
});

t.test('postEnroll: timeout, oversized answers, an untrusted service, http://', async (t) => {
  const identity = loadOrCreateIdentity(tempDataDir(t), GATEWAY);
  const body: EnrollRequest = { gatewayId: identity.gatewayId, serial: '', claimCode: identity.claimCode ?? '', csr: identity.csrPem, lanAddresses: [], agentVersion: '0' };
  let handler: Handler = () => 'hang';
  const service = await startTestService(t, serviceCa, (request, index) => handler(request, index));

  const started = Date.now();
  t.same(await postEnroll(service.url, body, { ca: serviceCa.cert, timeoutMs: 200 }), { kind: 'retry', reason: 'no complete answer within 200 ms' }, 'a hanging service times out');
  t.ok(Date.now() - started < 5000, 'well before the default 15 s');

  handler = () => ({ status: 200, raw: 'x'.repeat(5000), headers: { 'content-length': '5000' } });
  t.same(await postEnroll(service.url, body, { ca: serviceCa.cert, maxAnswerBytes: 1000 }), { kind: 'retry', reason: 'answer of 5000 bytes is over the 1000 byte limit' }, 'declared too large');
  handler = () => ({ status: 200, raw: 'x'.repeat(5000), headers: { 'transfer-encoding': 'chunked' } });
  t.same(await postEnroll(service.url, body, { ca: serviceCa.cert, maxAnswerBytes: 1000 }), { kind: 'retry', reason: 'answer is over the 1000 byte limit' }, 'streamed too large');

  handler = () => 'cut';
  t.same(await postEnroll(service.url, body, { ca: serviceCa.cert }), { kind: 'retry', reason: 'the connection closed before the answer was complete' }, 'a connection cut mid-answer');
  handler = () => ({ status: 301, headers: { location: 'https://elsewhere.example.com/' } });
  t.same(await postEnroll(service.url, body, { ca: serviceCa.cert }), { kind: 'retry', status: 301, reason: 'unexpected HTTP 301' }, 'a redirect is not followed');

  handler = () => ({ status: 200, body: { certificate: 'x' } });
  t.same(await postEnroll(service.url, body, { ca: serviceCa.cert }), { kind: 'retry', status: 200, reason: 'unusable 200 answer: the answer has no "caBundle" string' });
  handler = () => ({ status: 503, raw: '<html>down</html>' });
  t.same(await postEnroll(service.url, body, { ca: serviceCa.cert }), { kind: 'retry', status: 503, reason: 'HTTP 503' });
  handler = () => ({ status: 404, body: { error: { code: 'unknown-gateway', message: 'no such gateway' } } });
  t.same(await postEnroll(`${service.url}/`, body, { ca: serviceCa.cert }), { kind: 'refused', status: 404, code: 'unknown-gateway', message: 'no such gateway' });
  handler = () => ({ status: 202, body: {} });
  t.same(await postEnroll(service.url, body, { ca: serviceCa.cert }), { kind: 'waiting', retryAfterS: undefined });

  const before = service.requests.length;
  const untrusted = await postEnroll(service.url, body, {});
  t.match(untrusted, { kind: 'retry', reason: /SELF_SIGNED|UNABLE_TO_VERIFY|unable to verify/i }, 'the test CA is not a system root: verification is on');
  const wrongCa = await postEnroll(service.url, body, { ca: otherCa.cert });
  t.match(wrongCa, { kind: 'retry' }, 'nor is another CA');
  t.equal(service.requests.length, before, 'no request reached the service over an unverified connection');

  await t.rejects(postEnroll('http://127.0.0.1:1', body), { code: 'PE_ERR_ENROLLMENT', reason: 'service-url', message: /must be https/ });
});

t.test('the enrolled files: a damaged one is an error, a half-stored enrollment is not enrolled, a power cut before the claim is struck heals', async (t) => {
  const dataDir = tempDataDir(t);
  const identity = loadOrCreateIdentity(dataDir, GATEWAY);
  const answer = goodAnswer({ body: { csr: identity.csrPem } });
  const dir = join(dataDir, 'identity');

  // A power cut before gateway.crt (the commit point): the rest is there, the gateway is not enrolled.
  storeEnrollment(dataDir, answer, { serviceUrl: 'https://enroll.example.com' });
  const certificate = readFileSync(join(dir, 'gateway.crt'), 'utf8');
  rmSync(join(dir, 'gateway.crt'));
  t.equal(loadEnrolledIdentity(dataDir), undefined, 'no gateway.crt: not enrolled');

  // A power cut after gateway.crt but before claim.json: the code is struck on the next load.
  writeFileSync(join(dir, 'claim.json'), JSON.stringify({ version: 1, gatewayId: 'gw-enroll-1', gatewayIdSource: 'config', claimCode: identity.claimCode, createdAt: identity.createdAt }));
  writeFileSync(join(dir, 'gateway.crt'), certificate, { mode: 0o600 });
  t.equal(loadOrCreateIdentity(dataDir, GATEWAY).claimCode, undefined, 'enrolled: the code is gone');
  t.equal(claimRecord(dataDir)['claimCode'], null);
  t.ok(loadEnrolledIdentity(dataDir));

  writeFileSync(join(dir, 'enrolled-config.json'), '{"upstream":');
  t.throws(() => loadEnrolledIdentity(dataDir), { name: 'IdentityError', code: 'PE_ERR_IDENTITY', message: /enrolled-config\.json is not valid JSON/ });
  writeFileSync(join(dir, 'enrolled-config.json'), JSON.stringify(CONFIG));
  rmSync(join(dir, 'ca-bundle.pem'));
  t.throws(() => loadEnrolledIdentity(dataDir), { message: /ca-bundle\.pem is missing next to gateway\.crt/ });
  writeFileSync(join(dir, 'ca-bundle.pem'), gatewayCa.cert);
  writeFileSync(join(dir, 'gateway.crt'), 'not a certificate');
  t.throws(() => loadEnrolledIdentity(dataDir), new IdentityError(`${join(dir, 'gateway.crt')} is not a readable PEM certificate; the enrolled identity is left as it is. Restore the identity folder from a backup, or reset provisioning to enroll again.`));
  t.equal(readFileSync(join(dir, 'gateway.crt'), 'utf8'), 'not a certificate', 'left as it is');
  writeFileSync(join(dir, 'gateway.crt'), signCsr(gatewayCa, loadOrCreateIdentity(join(dataDir, 'x'), { gatewayId: 'gw-enroll-1', source: 'config' }).csrPem));
  t.throws(() => loadEnrolledIdentity(dataDir), { message: /gateway\.crt is a certificate for another key than gateway\.key/ });

  // A claimed gateway whose certificate is gone does not enroll again with no code: it says why.
  rmSync(join(dir, 'gateway.crt'));
  const service = await startTestService(t, serviceCa, () => ({ status: 500 }));
  const { enrollment } = harness(t, service, dataDir);
  enrollment.start();
  await waitUntil(() => enrollment.status().state === 'error');
  t.match(enrollment.status().lastError, { code: 'PE_ERR_IDENTITY', message: /claim\.json says the gateway was claimed .* but there is no certificate/ });
  t.equal(service.requests.length, 0);
});

t.test('pleevi-edge provision status / qr on an enrolled gateway: claimed, no code anywhere', async (t) => {
  const dataDir = tempDataDir(t);
  const identity = loadOrCreateIdentity(dataDir, GATEWAY);
  const claimCode = identity.claimCode ?? '';
  storeEnrollment(dataDir, goodAnswer({ body: { csr: identity.csrPem } }), { serviceUrl: 'https://enroll.example.com' });
  const configPath = join(dataDir, '..', 'config.json');
  writeFileSync(configPath, JSON.stringify({ gatewayId: 'gw-enroll-1', upstream: { url: 'wss://cpms.example.com/ocpp' }, dataDir, provisioning: { claimBaseUrl: 'https://claim.example.com' } }));
  const json = await runCli(['provision', 'status', '--json', '--config', configPath], { env: {} });
  t.equal(json.code, 0, json.stderr);
  t.match(JSON.parse(json.stdout), { claimState: 'claimed', claimCode: null, claimUrl: null });
  const text = await runCli(['provision', 'status', '--config', configPath], { env: {} });
  t.match(text.stdout, /claim state\s+claimed 20/);
  const qr = await runCli(['provision', 'qr', '--config', configPath], { env: {} });
  t.equal(qr.code, 2);
  t.match(qr.stderr, /already claimed/);
  for (const output of [json.stdout, text.stdout, qr.stdout, qr.stderr]) t.notOk(output.includes(claimCode), 'the used-up code is never shown');
});

t.test('lanAddresses: non-internal IPv4 and IPv6, no link-local, no repeats', async (t) => {
  const entry = (address: string, family: 'IPv4' | 'IPv6', internal = false) =>
    ({ address, family, internal, netmask: '', mac: '00:00:00:00:00:00', cidr: null, ...(family === 'IPv6' ? { scopeid: 0 } : {}) }) as NetworkInterfaceInfo;
  // IPv4 first (what station menus take), each once, in interface order otherwise.
  t.same(
    lanAddresses({
      lo: [entry('127.0.0.1', 'IPv4', true), entry('::1', 'IPv6', true)],
      eth0: [entry('192.168.1.20', 'IPv4'), entry('fe80::1', 'IPv6'), entry('2001:db8::20', 'IPv6')],
      wlan0: [entry('192.168.1.20', 'IPv4'), entry('10.0.0.7', 'IPv4')],
    }),
    ['192.168.1.20', '10.0.0.7', '2001:db8::20'],
  );
  t.ok(Array.isArray(lanAddresses()), 'this machine');
});
