/**
 * The cloud's `update` command through a real mosquitto (the gateway on
 * its mutual-TLS listener): the gateway fetches the bundle and its `.sig`
 * from a real HTTPS server on port 0 that requires a client certificate,
 * presenting its own (the cloud identity), checks SHA-256 and signature,
 * and leaves the request for the helper; refusals are error acks with a
 * clear code and write nothing. The outcome the helper leaves is published
 * on `P/events/gateway` with the command's id.
 */
import { connectAsync } from 'mqtt';
import t from 'tap';
import { createServer } from 'node:https';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { issueClientCert, issueServerCert } from './helpers/certs.js';
import { MOSQUITTO_MISSING, startMosquitto } from './helpers/mosquitto.js';
import { buildReleaseBundle, makeSigningKeys } from './helpers/release-bundle.js';
import { startTestGateway } from './helpers/test-gateway.js';
import { waitUntil } from './helpers/wait-until.js';

t.setTimeout(300_000);

t.test('update over MQTT: HTTPS with the client certificate, sha256 and signature checked, error acks with clear codes', { skip: MOSQUITTO_MISSING }, async (t) => {
  const keys = makeSigningKeys();
  const otherKeys = makeSigningKeys();
  // Not t.testdir(): startMosquitto uses (and empties) that one.
  const dir = mkdtempSync(join(tmpdir(), 'pe-upd-mqtt-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bundle = buildReleaseBundle({ version: '9.2.0', outDir: join(dir, 'good'), keys });
  const foreign = buildReleaseBundle({ version: '9.2.0', outDir: join(dir, 'foreign'), keys: otherKeys });
  const broker = await startMosquitto(t, { tls: true });
  const ca = broker.tls?.ca;
  if (!ca || !broker.tls) throw new Error('no TLS listener');
  const gatewayId = 'gw-mqtt-upd';
  const identity = await issueClientCert(ca, gatewayId);

  // The download server: mutual TLS, only clients the cloud's CA signed.
  const served = new Map<string, Buffer>([
    ['/good/pleevi-edge-9.2.0.tar.gz', readFileSync(bundle.file)],
    ['/good/pleevi-edge-9.2.0.tar.gz.sig', readFileSync(bundle.sigFile)],
    ['/foreign/pleevi-edge-9.2.0.tar.gz', readFileSync(foreign.file)],
    ['/foreign/pleevi-edge-9.2.0.tar.gz.sig', readFileSync(foreign.sigFile)],
  ]);
  const clients: string[] = [];
  const serverPem = await issueServerCert(ca);
  const https = createServer({ cert: serverPem.cert, key: serverPem.key, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (request, response) => {
    clients.push(String((request.socket as TLSSocket).getPeerCertificate().subject?.CN));
    const body = served.get(request.url ?? '');
    if (body === undefined) {
      response.writeHead(404).end('not here');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/gzip', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    https.closeAllConnections();
    return new Promise<void>((resolve) => https.close(() => resolve()));
  });
  const base = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;

  const publicKey = join(dir, 'update-signing.pub');
  writeFileSync(publicKey, keys.publicKeyPem);
  const updatesDir = join(dir, 'updates');
  const prefix = `pleevi/v1/gw/${gatewayId}`;
  const gateway = await startTestGateway(t, {
    gatewayId,
    upstreamUrl: 'ws://127.0.0.1:9/ocpp',
    dataDir: join(dir, 'data'),
    mqtt: { url: broker.tls.url, tls: { ca: ca.cert, cert: identity.cert, key: identity.key }, topicPrefix: prefix, outboxMaxEvents: 1000, protocolVersion: 5 },
    updates: { dir: updatesDir, publicKey, readyTimeoutS: 120 },
  });

  const received: { topic: string; body: Record<string, unknown> }[] = [];
  const cloud = await connectAsync(broker.url, { protocolVersion: 5, clientId: 'cloud-update' });
  cloud.on('message', (topic, payload) => received.push({ topic, body: JSON.parse(payload.toString('utf8')) as Record<string, unknown> }));
  await cloud.subscribeAsync([`${prefix}/ack`, `${prefix}/events/gateway`], { qos: 1 });
  t.teardown(() => cloud.endAsync(true));
  await waitUntil(() => gateway.cloud?.link.status().state === 'connected', 'the gateway is connected to the broker', 15_000);
  const send = async (body: Record<string, unknown>): Promise<Record<string, unknown>> => {
    await cloud.publishAsync(`${prefix}/cmd/update`, JSON.stringify(body), { qos: 1 });
    let ack: Record<string, unknown> | undefined;
    await waitUntil(() => (ack = received.find((message) => message.topic === `${prefix}/ack` && message.body.id === body.id)?.body) !== undefined, `the ack of ${String(body.id)}`, 30_000);
    return ack as Record<string, unknown>;
  };
  const nothingWritten = (): boolean => !existsSync(updatesDir) || readdirSync(updatesDir).length === 0;

  const mismatch = await send({ id: 'u-1', version: '9.2.0', url: `${base}/good/pleevi-edge-9.2.0.tar.gz`, sha256: 'ab'.repeat(32) });
  t.match(mismatch, { id: 'u-1', command: 'update', ok: false, error: { code: 'sha256_mismatch', message: new RegExp(`SHA-256 is ${bundle.sha256}, not the expected ${'ab'.repeat(32)}`) } });
  t.ok(nothingWritten(), 'a sha256 mismatch writes nothing');
  t.equal(clients[0], gatewayId, 'the gateway presented its client certificate to the download server');

  const badSignature = await send({ id: 'u-2', version: '9.2.0', url: `${base}/foreign/pleevi-edge-9.2.0.tar.gz`, sha256: foreign.sha256 });
  t.match(badSignature, { ok: false, error: { code: 'bad_signature' } });
  const missing = await send({ id: 'u-3', version: '9.2.0', url: `${base}/nowhere.tar.gz`, sha256: bundle.sha256 });
  t.match(missing, { ok: false, error: { code: 'download_failed', message: /HTTP 404/ } });
  const wrongVersion = await send({ id: 'u-4', version: '9.9.9', url: `${base}/good/pleevi-edge-9.2.0.tar.gz`, sha256: bundle.sha256 });
  t.match(wrongVersion, { ok: false, error: { code: 'version_mismatch' } });
  const plainHttp = await send({ id: 'u-5', version: '9.2.0', url: 'http://127.0.0.1/x.tar.gz', sha256: bundle.sha256 });
  t.match(plainHttp, { ok: false, error: { code: 'invalid_argument', message: /https:\/\// } });
  t.ok(nothingWritten(), 'no refusal wrote anything');

  const accepted = await send({ id: 'u-6', version: '9.2.0', url: `${base}/good/pleevi-edge-9.2.0.tar.gz`, sha256: bundle.sha256.toUpperCase() });
  t.match(accepted, { id: 'u-6', command: 'update', ok: true, result: { state: 'accepted', version: '9.2.0', updateId: /^[0-9a-f-]{36}$/ } });
  const request = JSON.parse(readFileSync(join(updatesDir, 'request.json'), 'utf8')) as Record<string, unknown>;
  t.match(request, { id: (accepted.result as { updateId: string }).updateId, version: '9.2.0', sha256: bundle.sha256, commandId: 'u-6' });
  t.same(readFileSync(join(updatesDir, 'pleevi-edge-9.2.0.tar.gz')), readFileSync(bundle.file), 'the verified bytes wait for the helper');
  const busy = await send({ id: 'u-7', version: '9.2.0', url: `${base}/good/pleevi-edge-9.2.0.tar.gz`, sha256: bundle.sha256 });
  t.match(busy, { ok: false, error: { code: 'update_in_progress' } }, 'one update at a time');

  // What the helper leaves once it is done: the gateway publishes it once, with the command's id.
  mkdirSync(updatesDir, { recursive: true });
  writeFileSync(join(updatesDir, 'outcome.json'), JSON.stringify({ id: request.id, commandId: 'u-6', from: '0.1.0', to: '9.2.0', result: 'refused', reason: 'test', at: new Date().toISOString() }));
  t.match(gateway.reportUpdateOutcome(), { result: 'refused' });
  t.equal(gateway.reportUpdateOutcome(), undefined, 'reported once only');
  await waitUntil(() => received.some((message) => message.topic === `${prefix}/events/gateway`), 'the event reaches the broker', 15_000);
  t.match(received.find((message) => message.topic === `${prefix}/events/gateway`)?.body, { seq: Number, ts: String, event: 'update-refused', gatewayId, updateId: request.id, commandId: 'u-6', fromVersion: '0.1.0', toVersion: '9.2.0', reason: 'test' });
});
