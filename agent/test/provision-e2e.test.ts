import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import mqtt from 'mqtt';
import { call, preparedService, runProvision, startService, type RunningService } from '../../provisioning/test/helpers/provision-cli.js';
import { readHardwareSerial } from '../src/provisioning/hardware-serial.js';
import { browserToolsMissing, decodeQrInImage, screenshotAtPhoneSize } from './helpers/browser-qr.js';
import { createCa, issueServerCert } from './helpers/certs.js';
import { MOSQUITTO_MISSING, startMosquitto, type MosquittoBroker } from './helpers/mosquitto.js';
import { BOOT_1_6, connectStation, startCpms, type RpcPeer, type TestCpms } from './helpers/ocpp-peers.js';
import { CLI, ROOT, runCli } from './helpers/run-cli.js';
import { waitUntil, waitUntilAsync } from './helpers/wait-until.js';

/**
 * The installer's whole flow, end to end, with real parts only
 * (docs/provisioning.md): an empty dataDir, the identity and its QR code, the
 * claim through the enrollment API of a real `pleevi-provision serve`,
 * enrollment, and then a station proxied to a `wss://` CPMS that requires a
 * client certificate from the enrollment CA, while the MQTT link connects to
 * mosquitto requiring one too.
 */

// Three whole flows, each with its service, CPMS, broker and daemon processes (and Chromium): more than the suite's 120 s on a busy machine.
t.setTimeout(400_000);

interface Cloud {
  readonly cpms: TestCpms;
  /** The client certificate CN of every upgrade the CPMS received. */
  readonly peerNames: string[];
  readonly broker: MosquittoBroker;
  readonly service: RunningService;
  readonly data: string;
  readonly installer: string;
  readonly operator: string;
  /** The enrollment CA (PEM): it signs the gateway's certificates and the service's own. */
  readonly caPem: string;
}

/** CPMS, broker and enrollment service, as an operator would run them. */
async function startCloud(t: Test, serveArgs: readonly string[] = [], siteArgs: readonly string[] = []): Promise<Cloud> {
  const { data, installer, operator, caPem } = await preparedService(t);
  const cpmsCa = await createCa('E2E CPMS CA');
  const cpmsCert = await issueServerCert(cpmsCa);
  const peerNames: string[] = [];
  const cpms = await startCpms({
    onClient: (client) => client.handle('BootNotification', () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 })),
    listen: async (handleUpgrade) => {
      // Mutual TLS: only a client certificate from the enrollment CA gets in.
      const https = createHttpsServer({ cert: cpmsCert.cert, key: cpmsCert.key, ca: caPem, requestCert: true, rejectUnauthorized: true });
      https.on('upgrade', (request: IncomingMessage, socket, head: Buffer) => {
        const peer = (request.socket as TLSSocket).getPeerCertificate();
        peerNames.push(typeof peer.subject?.CN === 'string' ? peer.subject.CN : '');
        handleUpgrade(request, socket, head);
      });
      https.listen(0, '127.0.0.1');
      await once(https, 'listening');
      return https;
    },
  });
  t.teardown(() => cpms.close());
  const broker = await startMosquitto(t, { tls: true, clientCas: [caPem] });
  const brokerTls = broker.tls;
  if (!brokerTls) throw new Error('mosquitto started without its TLS listener');
  // What every gateway of the site receives at enrollment: where the CPMS and the broker are, and their CAs.
  const site = join(data, 'site-e2e.json');
  writeFileSync(site, JSON.stringify({ upstream: { url: cpms.url, tls: { ca: cpmsCa.cert } }, mqtt: { url: brokerTls.url, tls: { ca: brokerTls.ca.cert } } }));
  const added = await runProvision(['sites', 'add', 'site-e2e', '--config', site, ...siteArgs, '--data', data]);
  if (added.code !== 0) throw new Error(added.stderr);
  const service = await startService(t, data, ['--retry-after-s', '1', ...serveArgs]);
  return { cpms, peerNames, broker, service, data, installer, operator, caPem };
}

interface Daemon {
  readonly child: ChildProcess;
  log(): string;
  exited: Promise<number | null>;
}

function startDaemon(t: Test, configPath: string): Daemon {
  const child = spawn(process.execPath, [CLI, 'run', '--config', configPath], { cwd: ROOT });
  let log = '';
  child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  return { child, log: () => log, exited };
}

function gatewayConfig(dir: string, cloud: Cloud, gatewayId: string, extra: Record<string, unknown> = {}): string {
  const caFile = join(dir, 'provisioning-ca.pem');
  writeFileSync(caFile, cloud.caPem);
  const path = join(dir, 'config.json');
  writeFileSync(
    path,
    JSON.stringify({
      gatewayId,
      dataDir: join(dir, 'data'),
      listen: { host: '127.0.0.1', port: 0 },
      provisioning: { url: cloud.service.url, claimBaseUrl: cloud.service.url, ca: caFile },
      admin: { socket: join(dir, 'admin.sock') },
      ...extra,
    }),
  );
  return path;
}

async function statusJson(configPath: string): Promise<Record<string, unknown>> {
  const result = await runCli(['status', '--json', '--config', configPath]);
  if (result.code !== 0) throw new Error(`status: ${result.stderr}`);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

function httpGetText(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/** A station the way a real one behaves: it retries until the gateway lets it in. */
async function stationWhenAdmitted(port: number, identity: string, daemon: Daemon, limitMs = 60_000): Promise<RpcPeer> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    try {
      return await connectStation({ endpoint: `ws://127.0.0.1:${port}/ocpp`, identity });
    } catch (error: unknown) {
      if (Date.now() > deadline) throw new Error(`station ${identity} was not admitted within ${limitMs} ms (last: ${String(error)}); the gateway's log:\n${daemon.log()}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

t.test('empty dataDir to a proxied station: identity, QR, claim, enrollment, mutual TLS to CPMS and broker', { skip: MOSQUITTO_MISSING }, async (t) => {
  const cloud = await startCloud(t);
  const dir = mkdtempSync(join(tmpdir(), 'pe-e2e-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gatewayId = 'gw-e2e-1';
  const configPath = gatewayConfig(dir, cloud, gatewayId);

  // The cloud side listens for the gateway's own events before anything happens.
  const watcher = await mqtt.connectAsync(cloud.broker.url, { clientId: 'e2e-watcher' });
  t.teardown(() => watcher.endAsync(true));
  const gatewayEvents: Array<Record<string, unknown>> = [];
  watcher.on('message', (_topic, payload) => gatewayEvents.push(JSON.parse(payload.toString()) as Record<string, unknown>));
  await watcher.subscribeAsync(`pleevi/v1/gw/${gatewayId}/events/gateway`, { qos: 1 });

  // First start on an empty dataDir: then a power cut in the middle of waiting.
  const first = startDaemon(t, configPath);
  await waitUntil(() => first.log().includes('waiting to be claimed'), 'the first start waits for its claim', 20_000);
  const before = JSON.parse((await runCli(['provision', 'status', '--json', '--config', configPath])).stdout) as { claimCode: string; claimUrl: string; keyMode: string };
  first.child.kill('SIGKILL');
  await first.exited;

  const daemon = startDaemon(t, configPath);
  await waitUntil(() => daemon.log().includes('waiting to be claimed'), 'the restarted gateway waits for its claim', 20_000);
  const identity = JSON.parse((await runCli(['provision', 'status', '--json', '--config', configPath])).stdout) as { claimCode: string; claimUrl: string; keyMode: string; keyFile: string };
  t.equal(identity.claimCode, before.claimCode, 'a restart keeps the claim code');
  t.equal(identity.keyMode, '0600', 'the key is 0600');
  t.equal(identity.claimUrl, `${cloud.service.url}/claim?gw=${gatewayId}&code=${identity.claimCode}`, 'the QR payload leads to the service claim page');
  const waiting = await statusJson(configPath);
  t.equal(waiting.mode, 'awaiting-claim');
  const port = (waiting.listen as { port: number }).port;
  await waitUntilAsync(async () => JSON.stringify(await statusJson(configPath)).includes('waiting-for-claim'), 'the gateway has asked the service and is told to wait for its claim', 20_000);

  const issueFile = join(dir, 'data', 'console', 'pleevi-edge.issue');
  t.match(readFileSync(issueFile, 'utf8'), identity.claimCode, 'the console snippet shows the claim code');
  t.equal(statSync(issueFile).mode & 0o777, 0o600, 'and is 0600 while it holds it');
  const unclaimedPage = await httpGetText(`http://127.0.0.1:${port}/`);
  t.match(unclaimedPage.body, identity.claimCode, 'the LAN page shows the claim code before the claim');

  await t.test('the claim page of the service in a real browser at phone size', { skip: browserToolsMissing() }, async (t) => {
    // The LAN page's QR code reads as the claim link ...
    const lanPng = join(dir, 'lan.png');
    await screenshotAtPhoneSize(`http://127.0.0.1:${port}/`, lanPng);
    t.same(await decodeQrInImage(lanPng), [identity.claimUrl], 'the QR on the gateway LAN page reads as exactly the claim link');
    // ... and that link opens the service's claim page (its certificate is pinned by key, not ignored).
    const serviceCert = new X509Certificate(await serviceCertificate(cloud.service.port, cloud.caPem));
    const spki = createHash('sha256').update(serviceCert.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
    const claimPng = join(dir, 'claim-page.png');
    await screenshotAtPhoneSize(identity.claimUrl, claimPng, { trustSpki: [spki] });
    t.ok(statSync(claimPng).size > 5_000, 'the claim page rendered at phone size');
  });

  // The installer's app claims the gateway for the site.
  const claimedAt = Date.now();
  const claim = await call(cloud.service, cloud.caPem, { path: '/v1/claims', token: cloud.installer, body: { gatewayId, claimCode: identity.claimCode, siteId: 'site-e2e' } });
  t.equal(claim.status, 201, claim.text);

  // A station that was refused before keeps retrying; the first BootNotification through the enrolled gateway ends the wait.
  const station = await stationWhenAdmitted(port, 'CP-E2E-1', daemon);
  t.teardown(() => station.close({ force: true }));
  const boot = (await station.call('BootNotification', BOOT_1_6)) as { status: string };
  const waitedS = (Date.now() - claimedAt) / 1000;
  t.equal(boot.status, 'Accepted', 'the CPMS answered the BootNotification through the enrolled gateway');
  t.comment(`claim to first proxied BootNotification: ${waitedS.toFixed(1)} s (the service asks the gateway to poll every 1 s here)`);
  t.ok(waitedS < 30, `within the poll interval and a start (${waitedS.toFixed(1)} s)`);
  t.same([...new Set(cloud.peerNames)], [gatewayId], "the CPMS saw only the gateway's enrolled client certificate");

  await waitUntilAsync(async () => ((await statusJson(configPath)).cloudLink as { state?: string }).state === 'connected', 'the MQTT link is up with the enrolled certificate', 20_000);
  await waitUntil(() => gatewayEvents.some((event) => event.event === 'enrolled'), 'the enrolled event reaches the broker', 20_000);
  const enrolledEvent = gatewayEvents.find((event) => event.event === 'enrolled');
  t.equal(enrolledEvent?.gatewayId, gatewayId);

  const status = await statusJson(configPath);
  const provisioning = status.provisioning as { claim: string; certificate: { notAfter: string; state: string } };
  t.equal(provisioning.claim, 'claimed');
  t.equal(provisioning.certificate.state, 'scheduled', 'renewal is scheduled');
  const text = await runCli(['status', '--config', configPath]);
  t.match(text.stdout, /identity\s+enrolled; certificate \w+ expires/);

  const afterClaim = JSON.parse((await runCli(['provision', 'status', '--json', '--config', configPath])).stdout) as { claimState: string; claimCode: unknown };
  t.equal(afterClaim.claimState, 'claimed');
  t.equal(afterClaim.claimCode, null, 'no claim code once claimed');
  const claimedPage = await httpGetText(`http://127.0.0.1:${port}/`);
  t.equal(claimedPage.status, 200);
  t.notMatch(claimedPage.body, identity.claimCode, 'the LAN page no longer shows the claim code');
  t.match(claimedPage.body, /ws:\/\/[^<]+\/ocpp\/&#60;station id&#62;/, 'it shows the station URL to enter on each station');

  const claimedIssue = readFileSync(issueFile, 'utf8');
  t.notMatch(claimedIssue, identity.claimCode, 'the console snippet no longer shows the code');
  t.match(claimedIssue, /is claimed\.[\s\S]*ws:\/\//, 'but the station URL');
  const check = await runCli(['config', 'check', '--config', configPath]);
  t.equal(check.code, 0, check.stderr);
  t.match(check.stdout, /\$\.upstream\.url\s+enrolled \(/, 'config check says the upstream comes from enrollment');
  t.match(check.stdout, /\$\.upstream\.tls\.cert\s+the gateway's enrolled certificate/);

  for (const file of ['gateway.key', 'gateway.crt', 'enrolled-config.json', 'claim.json']) {
    t.equal(statSync(join(dir, 'data', 'identity', file)).mode & 0o777, 0o600, `${file} is 0600`);
  }
  t.notMatch(daemon.log(), identity.claimCode, 'the claim code never reaches the log');
  t.notMatch(cloud.service.output(), identity.claimCode, 'nor the service log');
  t.notMatch(readFileSync(join(dir, 'data', 'identity', 'claim.json'), 'utf8'), identity.claimCode, 'claim.json no longer holds it');

  daemon.child.kill('SIGTERM');
  t.equal(await daemon.exited, 0);
});

t.test('a preauthorized serial enrolls without a claim; a short certificate is renewed under a live station; a revoked gateway is refused at renewal', { skip: MOSQUITTO_MISSING }, async (t) => {
  // The site issues a LAN server certificate too: the wss listener takes it, and its renewal.
  const cloud = await startCloud(t, ['--cert-lifetime-s', '12'], ['--server-certificate']);
  const dir = mkdtempSync(join(tmpdir(), 'pe-e2e-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gatewayId = 'gw-e2e-pre';
  const configPath = gatewayConfig(dir, cloud, gatewayId, { listen: { host: '127.0.0.1', port: 0, tls: { port: 0 } } });
  // The serial the gateway reports is the one it reads from this machine (or its id when none).
  const serial = readHardwareSerial()?.serial ?? gatewayId;
  const pre = await call(cloud.service, cloud.caPem, { path: '/v1/preauthorizations', token: cloud.operator, body: { serial, siteId: 'site-e2e' } });
  t.equal(pre.status, 201, pre.text);

  const daemon = startDaemon(t, configPath);
  await waitUntil(() => daemon.log().includes('enrolled: starting to relay'), 'the preauthorized gateway enrolls by itself', 30_000).catch((error: Error) => {
    throw new Error(`${error.message}; the gateway's log:\n${daemon.log()}`);
  });
  const port = ((await statusJson(configPath)).listen as { port: number }).port;
  const station = await stationWhenAdmitted(port, 'CP-LIVE', daemon);
  t.teardown(() => station.close({ force: true }));
  await station.call('BootNotification', BOOT_1_6);
  const first = ((await statusJson(configPath)).provisioning as { certificate: { serialNumber: string } }).certificate.serialNumber;
  const tlsPort = ((await statusJson(configPath)).listen as { tlsPort: number }).tlsPort;
  t.ok(tlsPort > 0, 'the wss listener is up with the enrolled server certificate');
  const serverBefore = await lanServerCertificate(tlsPort, `${gatewayId}.local`, cloud.caPem);
  const wssStation = await connectStation({ endpoint: `wss://${gatewayId}.local:${tlsPort}/ocpp`, identity: 'CP-WSS', wsOpts: { ca: cloud.caPem, lookup: loopbackLookup } });
  t.teardown(() => wssStation.close({ force: true }));
  t.equal(((await wssStation.call('BootNotification', BOOT_1_6)) as { status: string }).status, 'Accepted', 'a Profile 2 station verifies the enrolled server certificate by the name <gatewayId>.local');

  // 12 s lifetime: renewed at about 8 s.
  await waitUntilAsync(
    async () => ((await statusJson(configPath)).provisioning as { certificate: { serialNumber: string } }).certificate.serialNumber !== first,
    'the certificate is renewed',
    30_000,
  );
  t.pass('renewed at two thirds of the lifetime');
  const again = (await station.call('BootNotification', BOOT_1_6)) as { status: string };
  t.equal(again.status, 'Accepted', 'the station connected before the renewal is still relayed on its connection');
  const late = await stationWhenAdmitted(port, 'CP-AFTER-RENEWAL', daemon);
  t.teardown(() => late.close({ force: true }));
  t.equal(((await late.call('BootNotification', BOOT_1_6)) as { status: string }).status, 'Accepted', 'a new station dials with the renewed certificate');
  t.match(daemon.log(), /renewed certificate in use for new connections/);
  const serverAfter = await lanServerCertificate(tlsPort, `${gatewayId}.local`, cloud.caPem);
  t.not(serverAfter, serverBefore, 'a new TLS handshake gets the renewed server certificate');
  t.equal(((await wssStation.call('BootNotification', BOOT_1_6)) as { status: string }).status, 'Accepted', 'the wss station connected before the renewal stays connected');

  const revoked = await runProvision(['revoke', gatewayId, '--data', cloud.data]);
  t.equal(revoked.code, 0, revoked.stderr);
  await waitUntilAsync(
    async () => ((await statusJson(configPath)).provisioning as { certificate: { state: string } }).certificate.state === 'refused',
    'the revoked gateway is refused at its next renewal',
    30_000,
  );
  t.match(daemon.log(), /"level":"error"[^\n]*renew/i, 'the refusal is logged as an error');
  const events = ((await statusJson(configPath)).recentEvents as Array<{ topic: string; payload: { event: string; reason?: string } }>).filter((event) => event.topic === 'gateway');
  t.ok(events.some((event) => event.payload.event === 'certificate-renewed'), 'certificate-renewed went to P/events/gateway');
  t.ok(events.some((event) => event.payload.event === 'certificate-renewal-failed' && event.payload.reason === 'refused'), 'and the refusal too');
  daemon.child.kill('SIGTERM');
  t.equal(await daemon.exited, 0);
});

/** The serial of the gateway's LAN server certificate, verified against the enrollment CA for the name a station uses. */
function lanServerCertificate(port: number, servername: string, caPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, ca: caPem, rejectUnauthorized: true }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.end();
      resolve(serial);
    });
    socket.on('error', reject);
  });
}

/** `<gatewayId>.local` resolves to 127.0.0.1 here, as mDNS would on the site LAN. */
function loopbackLookup(_hostname: string, options: unknown, callback: (error: Error | null, address: string | Array<{ address: string; family: number }>, family?: number) => void): void {
  if (typeof options === 'object' && options !== null && (options as { all?: boolean }).all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
}

/** The service's own HTTPS certificate, verified against the enrollment CA like any client does. */
function serviceCertificate(port: number, caPem: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: caPem, rejectUnauthorized: true }, () => {
      const raw = socket.getPeerCertificate().raw;
      socket.end();
      resolve(raw);
    });
    socket.on('error', reject);
  });
}

t.test('provision enroll in the foreground, then run relays at once; provision reset refuses a running daemon and makes a new identity', { skip: MOSQUITTO_MISSING }, async (t) => {
  const cloud = await startCloud(t);
  const dir = mkdtempSync(join(tmpdir(), 'pe-e2e-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gatewayId = 'gw-e2e-fg';
  const configPath = gatewayConfig(dir, cloud, gatewayId);
  const identity = JSON.parse((await runCli(['provision', 'status', '--json', '--config', configPath])).stdout) as { claimCode: string };

  const notYet = await runCli(['provision', 'enroll', '--timeout', '2', '--config', configPath]);
  t.equal(notYet.code, 1, 'not claimed within the timeout: exit 1');
  t.match(notYet.stderr, /not enrolled within 2 s: waiting for the claim/);
  const enrolling = runCli(['provision', 'enroll', '--timeout', '60', '--config', configPath]);
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  const claim = await call(cloud.service, cloud.caPem, { path: '/v1/claims', token: cloud.installer, body: { gatewayId, claimCode: identity.claimCode, siteId: 'site-e2e' } });
  t.equal(claim.status, 201, claim.text);
  const enrolled = await enrolling;
  t.equal(enrolled.code, 0, enrolled.stderr);
  t.match(enrolled.stdout, /enrolled: certificate \w+, valid to/);
  t.notMatch(enrolled.stdout + enrolled.stderr, identity.claimCode, 'the code is never printed');
  const again = await runCli(['provision', 'enroll', '--config', configPath]);
  t.match(again.stdout, /already enrolled/);

  const daemon = startDaemon(t, configPath);
  await waitUntil(() => daemon.log().includes('gateway started'), 'an enrolled gateway relays from its start', 20_000);
  t.notMatch(daemon.log(), /waiting to be claimed/);
  const status = await statusJson(configPath);
  t.equal((status.provisioning as { certificate: { state: string } }).certificate.state, 'scheduled', 'and renews');
  const port = (status.listen as { port: number }).port;
  const station = await stationWhenAdmitted(port, 'CP-FG', daemon);
  t.teardown(() => station.close({ force: true }));
  t.equal(((await station.call('BootNotification', BOOT_1_6)) as { status: string }).status, 'Accepted');
  const asked = await runCli(['provision', 'enroll', '--config', configPath]);
  t.equal(asked.code, 0);
  t.match(asked.stdout, /the running daemon is not enrolling \(claimed\)/, 'enroll asks the running daemon');

  const dry = await runCli(['provision', 'reset', '--config', configPath]);
  t.equal(dry.code, 2, 'reset without --yes only says what it would remove');
  t.match(dry.stderr, /gateway\.crt.*gateway\.key/);
  const refused = await runCli(['provision', 'reset', '--yes', '--config', configPath]);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /the daemon is running; stop it first/);
  daemon.child.kill('SIGTERM');
  t.equal(await daemon.exited, 0);
  const reset = await runCli(['provision', 'reset', '--yes', '--config', configPath]);
  t.equal(reset.code, 0, reset.stderr);
  t.match(reset.stdout, /pleevi-provision revoke gw-e2e-fg/);
  const fresh = JSON.parse((await runCli(['provision', 'status', '--json', '--config', configPath])).stdout) as { claimState: string; claimCode: string; certificate: unknown };
  t.equal(fresh.claimState, 'unclaimed', 'a new, unclaimed identity');
  t.not(fresh.claimCode, identity.claimCode, 'with a new claim code');
  t.equal(fresh.certificate, null);
});
