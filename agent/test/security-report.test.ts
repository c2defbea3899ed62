/**
 * The per-station security report (docs/station-interface.md "Security
 * report"): the profile of each hop as the gateway saw it in the handshakes,
 * over real ws and wss sockets with certificates generated here, in `status`,
 * in the `connected` event, and in `pleevi-edge stations` (spawned, reading
 * the database); and SecurityEventNotification recorded on the way through.
 */
import { once } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import t from 'tap';
import type { GatewayEvent } from '../src/events/gateway-events.js';
import type { HopSecurity } from '../src/proxy/hop-security.js';
import { createCa, issueClientCert, issueServerCert } from './helpers/certs.js';
import { BOOT_1_6, BOOT_2_0_1, connectStation, startCpms, type TestCpms } from './helpers/ocpp-peers.js';
import { runCli } from './helpers/run-cli.js';
import { startTestGateway, stationEndpoint } from './helpers/test-gateway.js';
import { waitUntil } from './helpers/wait-until.js';

const [cpmsCa, clientCa, gatewayCa] = await Promise.all([createCa('Report CPMS Root'), createCa('Report Client Root'), createCa('Report Gateway Root')]);
const cpmsServerCert = await issueServerCert(cpmsCa);
const gatewayClientCert = await issueClientCert(clientCa, 'gw-test');
const gatewayServerCert = await issueServerCert(gatewayCa);

function notAfter(pem: string): string {
  return new Date(new X509Certificate(pem).validTo).toISOString();
}

/** A CPMS behind https that demands a client certificate from `clientCa` (mutual TLS). */
async function startMutualTlsCpms(protocols: string[]): Promise<TestCpms> {
  return startCpms({
    protocols,
    listen: async (handleUpgrade) => {
      const https: Server = createHttpsServer({ cert: cpmsServerCert.cert, key: cpmsServerCert.key, ca: clientCa.cert, requestCert: true, rejectUnauthorized: true });
      https.on('upgrade', handleUpgrade);
      https.listen(0, '127.0.0.1');
      await once(https, 'listening');
      return https;
    },
  });
}

function bootAccepted(): { status: string; currentTime: string; interval: number } {
  return { status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 };
}

/** The events the gateway stored, newest last (its in-memory sink). */
function eventsOf(collected: GatewayEvent[], topic: GatewayEvent['topic']): GatewayEvent['payload'][] {
  return collected.filter((event) => event.topic === topic).map((event) => event.payload);
}

t.test('Profile 0 and 1 on a plain ws hop, to a plain ws CPMS', async (t) => {
  const cpms = await startCpms({ protocols: ['ocpp1.6'], onClient: (client) => client.handle('BootNotification', bootAccepted) });
  t.teardown(() => cpms.close());
  const collected: GatewayEvent[] = [];
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, events: { emit: (event) => collected.push(event) } });

  const open = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CP-P0' });
  t.teardown(() => open.close({ force: true }));
  const withPassword = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CP-P1', password: 'a-station-password-1' });
  t.teardown(() => withPassword.close({ force: true }));

  const rows = gateway.status().stations;
  const p0 = rows.find((row) => row.stationId === 'CP-P0')?.security;
  const p1 = rows.find((row) => row.stationId === 'CP-P1')?.security;
  const plain: HopSecurity = {
    scheme: 'ws',
    profile: 0,
    basicAuth: false,
    clientCertificate: false,
    tlsVersion: null,
    cipher: null,
    serverCertificateExpiresAt: null,
    clientCertificateExpiresAt: null,
  };
  t.same(p0, { station: plain, upstream: plain }, 'no authentication, no TLS: profile 0 on both hops');
  t.same(p1, { station: { ...plain, profile: 1, basicAuth: true }, upstream: { ...plain, profile: 1, basicAuth: true } }, 'Basic Auth passed through: profile 1 on both hops');

  const connected = eventsOf(collected, 'station').filter((event) => event.event === 'connected');
  t.equal(connected.length, 2, 'one connected event per station');
  const p1Event = connected.find((event) => event.stationId === 'CP-P1');
  t.same(p1Event && 'security' in p1Event ? p1Event.security : undefined, p1, 'the connected event carries the same report');
});

t.test('Profile 2 on the LAN (wss + Basic Auth) and Profile 3 upstream (mutual TLS): TLS version, cipher, certificate expiry', async (t) => {
  const cpms = await startMutualTlsCpms(['ocpp1.6']);
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, {
    upstreamUrl: cpms.url.replace('ws://', 'wss://'),
    upstreamTls: { ca: cpmsCa.cert, ...gatewayClientCert },
    listenTls: gatewayServerCert,
  });
  const tlsPort = gateway.tlsPort;
  if (tlsPort === undefined) throw new Error('no TLS listener');
  const arriving = cpms.nextClient('CP-P2');
  const station = await connectStation({ endpoint: `wss://127.0.0.1:${tlsPort}/ocpp`, identity: 'CP-P2', password: 'a-station-password-2', wsOpts: { ca: gatewayCa.cert } });
  t.teardown(() => station.close({ force: true }));
  (await arriving).handle('BootNotification', bootAccepted);
  t.equal(((await station.call('BootNotification', BOOT_1_6)) as { status: string }).status, 'Accepted', 'relayed over TLS on both hops');

  const security = gateway.status().stations[0]?.security;
  t.ok(security, 'the station row has a report');
  if (!security) return;
  t.match(security.station, { scheme: 'wss', profile: 2, basicAuth: true, clientCertificate: false, tlsVersion: /^TLSv1\.[23]$/, cipher: /\S/ });
  t.equal(security.station.serverCertificateExpiresAt, notAfter(gatewayServerCert.cert), 'the LAN hop names the expiry of the certificate the gateway presents');
  t.equal(security.station.clientCertificateExpiresAt, null);
  // The station's password is for the gateway; with no upstream credentials it is passed on: wss + certificate + Basic is still profile 3.
  t.match(security.upstream, { scheme: 'wss', profile: 3, clientCertificate: true, tlsVersion: /^TLSv1\.[23]$/, cipher: /\S/ });
  t.equal(security.upstream.serverCertificateExpiresAt, notAfter(cpmsServerCert.cert), "the upstream hop names the CPMS certificate's expiry");
  t.equal(security.upstream.clientCertificateExpiresAt, notAfter(gatewayClientCert.cert), "and the gateway's own client certificate's");
});

t.test('pleevi-edge stations shows the last connection\'s profiles, from the database', async (t) => {
  const cpms = await startCpms({ protocols: ['ocpp1.6'], onClient: (client) => client.handle('BootNotification', bootAccepted) });
  t.teardown(() => cpms.close());
  const dir = t.testdir();
  const dataDir = join(dir, 'data');
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ dataDir, upstream: { url: cpms.url }, admin: { socket: join(dir, 'admin.sock') } }));
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, dataDir, listenTls: gatewayServerCert });
  const tlsPort = gateway.tlsPort;
  if (tlsPort === undefined) throw new Error('no TLS listener');
  const station = await connectStation({ endpoint: `wss://127.0.0.1:${tlsPort}/ocpp`, identity: 'CP-LISTED', password: 'a-station-password-3', wsOpts: { ca: gatewayCa.cert } });
  await station.call('BootNotification', BOOT_1_6);
  await station.close({ force: true });
  await waitUntil(() => gateway.status().stations.length === 0, 'the station gone');

  const table = await runCli(['stations', '--config', configPath]);
  t.equal(table.code, 0, table.stderr);
  t.match(table.stdout, /SECURITY \(LAN > UPSTREAM\)/, 'a security column');
  t.match(table.stdout, /CP-LISTED\s.*P2 wss\+basic TLSv1\.[23] > P1 ws\+basic\s/, 'wss with Basic Auth on the LAN, ws with Basic Auth upstream');
  const json = await runCli(['stations', '--json', '--config', configPath]);
  const [listed] = JSON.parse(json.stdout) as { security: { station: HopSecurity; upstream: HopSecurity } }[];
  t.match(listed?.security.station, { scheme: 'wss', profile: 2 });
  t.match(listed?.security.upstream, { scheme: 'ws', profile: 1 });
});

t.test('SecurityEventNotification: recorded as a station event, relayed unchanged (2.0.1 and the 1.6 extension)', async (t) => {
  const seenAtCpms: unknown[] = [];
  // Not strict: the CPMS takes what a faulty station sends, so the test sees the gateway relay it unchanged.
  const cpms = await startCpms({
    protocols: ['ocpp2.0.1', 'ocpp1.6'],
    strictMode: false,
    onClient: (client) => {
      client.handle('BootNotification', bootAccepted);
      client.handle('SecurityEventNotification', ({ params }) => {
        seenAtCpms.push(params);
        return {};
      });
    },
  });
  t.teardown(() => cpms.close());
  const collected: GatewayEvent[] = [];
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, events: { emit: (event) => collected.push(event) } });

  const v201 = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CP-SEC201', protocols: ['ocpp2.0.1'] });
  t.teardown(() => v201.close({ force: true }));
  await v201.call('BootNotification', BOOT_2_0_1);
  const tampered = { type: 'TamperDetectionActivated', timestamp: '2026-11-29T10:00:00+01:00', techInfo: 'door opened' };
  t.same(await v201.call('SecurityEventNotification', tampered), {}, 'the CPMS answered');

  // Not strict either: a station outside the schema (an over-long type, no time, no type at all).
  const v16 = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CP-SEC16', protocols: ['ocpp1.6'], strictMode: false });
  t.teardown(() => v16.close({ force: true }));
  await v16.call('SecurityEventNotification', { type: 'x'.repeat(60), timestamp: 'not a time' });
  await v16.call('SecurityEventNotification', { techInfo: 'no type at all' });

  t.same(seenAtCpms, [tampered, { type: 'x'.repeat(60), timestamp: 'not a time' }, { techInfo: 'no type at all' }], 'all three relayed as they were');
  const security = eventsOf(collected, 'station').filter((event) => event.event === 'security');
  t.equal(security.length, 2, 'the one without a type is not recorded');
  t.same(security[0], { event: 'security', stationId: 'CP-SEC201', ocppVersion: '2.0.1', type: 'TamperDetectionActivated', occurredAt: '2026-11-29T09:00:00.000Z', techInfo: 'door opened' });
  const long = security[1];
  t.match(long, { event: 'security', stationId: 'CP-SEC16', ocppVersion: '1.6', techInfo: null });
  t.equal(long && 'type' in long ? long.type : '', `${'x'.repeat(50)}\u2026`, 'an over-long type is cut at its 50-character maximum and marked');
  t.match(long && 'occurredAt' in long ? long.occurredAt : '', /^\d{4}-\d\d-\d\dT/, 'an unreadable timestamp becomes the receive time');
});
