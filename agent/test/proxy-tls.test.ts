/**
 * Real TLS on both hops, with certificates generated for this file (see
 * helpers/certs.ts): the upstream to a `wss://` CPMS with a custom root,
 * mutual TLS with the gateway's or a station's own client certificate
 * (OCPP Profile 3), the wrong certificates a gateway must refuse, and the
 * Profile 2 `wss://` listener for stations.
 */
import { once } from 'node:events';
import type { IncomingMessage, Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import t from 'tap';
import { createCa, issueClientCert, issueServerCert, type CertificateAuthority, type Pem } from './helpers/certs.js';
import { BOOT_1_6, connectStation, refusedStation, startCpms, type TestCpms } from './helpers/ocpp-peers.js';
import { startTestGateway, stationEndpoint } from './helpers/test-gateway.js';

// One set of roots for the whole file, generated in parallel: keys are the slow part.
const [cpmsCa, strangerCa, impostorCa, clientCa, gatewayCa] = await Promise.all([
  createCa('Pleevi Test CPMS Root'),
  // Trusted by nobody in this file: the wrong root for the gateway, the station and the CPMS.
  createCa('Stranger Root'),
  // Same subject as the CPMS root, a key of its own.
  createCa('Pleevi Test CPMS Root', { keySlot: 'impostor' }),
  createCa('Pleevi Test Client Root'),
  createCa('Pleevi Test Gateway Root'),
]);
const cpmsServerCert = await issueServerCert(cpmsCa);
const gatewayClientCert = await issueClientCert(clientCa, 'gw-test');
const gatewayServerCert = await issueServerCert(gatewayCa);

/** What the CPMS's TLS server saw of each WebSocket upgrade that reached it. */
interface SeenUpgrade {
  readonly url: string;
  /** CN of the client certificate, '' when the client sent none. */
  readonly peerCommonName: string;
  readonly tlsProtocol: string | null;
  /** The gateway resumed an earlier TLS session (no full handshake). */
  readonly reused: boolean;
}

interface TlsCpms extends TestCpms {
  readonly upgrades: SeenUpgrade[];
  /** Codes of the TLS handshakes the CPMS's server failed ('tlsClientError'). */
  readonly tlsErrors: string[];
}

/**
 * The ocpp-rpc CPMS behind a real https server. With `clientCa` the server
 * demands a client certificate signed by it (mutual TLS).
 */
async function startTlsCpms(server: Pem, clientCa?: CertificateAuthority): Promise<TlsCpms> {
  const upgrades: SeenUpgrade[] = [];
  const tlsErrors: string[] = [];
  const cpms = await startCpms({
    protocols: ['ocpp1.6'],
    listen: async (handleUpgrade) => {
      const https: Server = createHttpsServer({
        cert: server.cert,
        key: server.key,
        ...(clientCa ? { ca: clientCa.cert, requestCert: true, rejectUnauthorized: true } : {}),
      });
      https.on('upgrade', (request: IncomingMessage, socket, head: Buffer) => {
        const tls = request.socket as TLSSocket;
        const peer = tls.getPeerCertificate();
        upgrades.push({ url: request.url ?? '', peerCommonName: typeof peer.subject?.CN === 'string' ? peer.subject.CN : '', tlsProtocol: tls.getProtocol(), reused: tls.isSessionReused() });
        handleUpgrade(request, socket, head);
      });
      https.on('tlsClientError', (error: NodeJS.ErrnoException) => tlsErrors.push(error.code ?? error.message));
      https.listen(0, '127.0.0.1');
      await once(https, 'listening');
      return https;
    },
  });
  return Object.assign(cpms, { upgrades, tlsErrors });
}

function bootAccepted(): { status: string; currentTime: string; interval: number } {
  return { status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 };
}

t.test('upstream wss:// is verified against the configured custom CA root', async (t) => {
  const cpms = await startTlsCpms(cpmsServerCert);
  t.teardown(() => cpms.close());
  t.match(cpms.url, /^wss:\/\/127\.0\.0\.1:\d+\/ocpp$/);
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, upstreamTls: { ca: cpmsCa.cert } });

  const arriving = cpms.nextClient('CP-TLS-1');
  const station = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CP-TLS-1' });
  t.teardown(() => station.close({ force: true }));
  const atCpms = await arriving;
  atCpms.handle('BootNotification', ({ params }) => {
    t.same(params, BOOT_1_6, 'the CPMS got the station payload over TLS');
    return bootAccepted();
  });
  const boot = (await station.call('BootNotification', BOOT_1_6)) as { status: string; interval: number };
  t.equal(boot.status, 'Accepted');
  t.equal(boot.interval, 300, 'the CPMS answer came back through the gateway');

  t.equal(cpms.upgrades.length, 1);
  t.equal(cpms.upgrades[0]?.url, '/ocpp/CP-TLS-1', 'upstream URL is <upstream.url>/<stationId>');
  t.match(cpms.upgrades[0]?.tlsProtocol, /^TLSv1\.[23]$/, 'the upstream hop is TLS');
  t.equal(cpms.upgrades[0]?.peerCommonName, '', 'no client certificate unless one is configured');
});

t.test('mutual TLS upstream: the gateway certificate, or a station its own', async (t) => {
  const cpms = await startTlsCpms(cpmsServerCert, clientCa);
  t.teardown(() => cpms.close());
  const stationClientCert = await issueClientCert(clientCa, 'CP-OWN-SERIAL');
  const gateway = await startTestGateway(t, {
    upstreamUrl: cpms.url,
    upstreamTls: { ca: cpmsCa.cert, ...gatewayClientCert },
    stations: [{ id: 'CP-OWN', upstream: stationClientCert }],
  });
  const endpoint = stationEndpoint(gateway);

  const arrivingShared = cpms.nextClient('CP-SHARED');
  const shared = await connectStation({ endpoint, identity: 'CP-SHARED' });
  t.teardown(() => shared.close({ force: true }));
  (await arrivingShared).handle('BootNotification', bootAccepted);
  t.equal(((await shared.call('BootNotification', BOOT_1_6)) as { status: string }).status, 'Accepted');

  const arrivingOwn = cpms.nextClient('CP-OWN');
  const own = await connectStation({ endpoint, identity: 'CP-OWN' });
  t.teardown(() => own.close({ force: true }));
  (await arrivingOwn).handle('BootNotification', bootAccepted);
  t.equal(((await own.call('BootNotification', BOOT_1_6)) as { status: string }).status, 'Accepted');

  const seen = new Map(cpms.upgrades.map((upgrade) => [upgrade.url, upgrade.peerCommonName]));
  t.equal(seen.get('/ocpp/CP-SHARED'), 'gw-test', 'a station without its own certificate goes up as the gateway');
  t.equal(seen.get('/ocpp/CP-OWN'), 'CP-OWN-SERIAL', 'a station with its own certificate goes up as itself (Profile 3)');
  t.equal(cpms.upgrades.length, 2);

  // A reconnect storm costs less when dials resume TLS sessions; never across identities.
  const arrivingSecond = cpms.nextClient('CP-SHARED-2');
  const second = await connectStation({ endpoint, identity: 'CP-SHARED-2' });
  t.teardown(() => second.close({ force: true }));
  (await arrivingSecond).handle('BootNotification', bootAccepted);
  await second.call('BootNotification', BOOT_1_6);
  const arrivingOwnAgain = cpms.nextClient('CP-OWN');
  await own.close({ force: true });
  const ownAgain = await connectStation({ endpoint, identity: 'CP-OWN' });
  t.teardown(() => ownAgain.close({ force: true }));
  (await arrivingOwnAgain).handle('BootNotification', bootAccepted);
  await ownAgain.call('BootNotification', BOOT_1_6);
  const later = cpms.upgrades.slice(2);
  t.same(
    later.map((upgrade) => [upgrade.url, upgrade.peerCommonName, upgrade.reused]),
    [
      ['/ocpp/CP-SHARED-2', 'gw-test', true],
      ['/ocpp/CP-OWN', 'CP-OWN-SERIAL', true],
    ],
    "later dials resume their own identity's TLS session, and each still goes up as itself",
  );
});

t.test('mutual TLS upstream: no client certificate, or an untrusted one, is a 502', async (t) => {
  const cpms = await startTlsCpms(cpmsServerCert, clientCa);
  t.teardown(() => cpms.close());

  const bare = await startTestGateway(t, { upstreamUrl: cpms.url, upstreamTls: { ca: cpmsCa.cert } });
  const noCert = await refusedStation({ endpoint: stationEndpoint(bare), identity: 'CP-NOCERT' });
  t.equal(noCert.code, 502, 'no client certificate: the station gets 502');
  t.same(cpms.tlsErrors, ['ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE'], 'the CPMS failed the TLS handshake for want of a client certificate');

  const stranger = await startTestGateway(t, {
    upstreamUrl: cpms.url,
    upstreamTls: { ca: cpmsCa.cert, ...(await issueClientCert(strangerCa, 'gw-stranger')) },
  });
  const untrusted = await refusedStation({ endpoint: stationEndpoint(stranger), identity: 'CP-STRANGER' });
  // Node's TLS server destroys an unverified client after the handshake and
  // names no reason; the test above with the same CPMS and a clientCa
  // certificate is the control that makes this one about the issuer.
  t.equal(untrusted.code, 502, 'client certificate from a CA the CPMS does not trust: 502');

  t.equal(cpms.upgrades.length, 0, 'no WebSocket upgrade reached the CPMS');
  t.equal(cpms.handshakes.length, 0, 'the CPMS saw no OCPP handshake');
  t.equal(bare.metrics.handshakesRefused, 1);
  t.equal(stranger.metrics.handshakesRefused, 1);
});

t.test('a CPMS certificate from another root is a 502 and nothing reaches the CPMS', async (t) => {
  const cpms = await startTlsCpms(cpmsServerCert);
  t.teardown(() => cpms.close());

  for (const [label, ca] of [
    ['a root with another name', strangerCa],
    ['an impostor root with the same name and another key', impostorCa],
  ] as const) {
    const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, upstreamTls: { ca: ca.cert } });
    const error = await refusedStation({ endpoint: stationEndpoint(gateway), identity: 'CP-WRONG-CA' });
    t.equal(error.code, 502, `${label}: 502`);
  }
  // The system roots are not a fallback either: no custom root, no trust.
  const systemRoots = await startTestGateway(t, { upstreamUrl: cpms.url });
  t.equal((await refusedStation({ endpoint: stationEndpoint(systemRoots), identity: 'CP-SYSTEM-ROOTS' })).code, 502, 'system roots only: 502');
  t.equal(cpms.upgrades.length, 0, 'no WebSocket upgrade reached the CPMS');
  t.equal(cpms.handshakes.length, 0, 'the CPMS saw no OCPP handshake');

  // Control: the same CPMS, the right root, gets in; so the refusals above were about trust.
  const right = await startTestGateway(t, { upstreamUrl: cpms.url, upstreamTls: { ca: cpmsCa.cert } });
  const station = await connectStation({ endpoint: stationEndpoint(right), identity: 'CP-RIGHT-CA' });
  t.teardown(() => station.close({ force: true }));
  t.same(cpms.handshakes.map((handshake) => handshake.identity), ['CP-RIGHT-CA']);
});

t.test('an expired or wrong-hostname CPMS certificate is a 502', async (t) => {
  const day = 24 * 60 * 60 * 1000;
  const now = Date.now();
  const cases: Array<[string, Pem]> = [
    ['expired', await issueServerCert(cpmsCa, { notBefore: new Date(now - 3 * day), notAfter: new Date(now - day) })],
    ['not yet valid', await issueServerCert(cpmsCa, { notBefore: new Date(now + day), notAfter: new Date(now + 3 * day) })],
    ['for another host', await issueServerCert(cpmsCa, { hosts: ['cpms.example.com', '10.0.0.1'] })],
  ];
  for (const [label, serverCert] of cases) {
    const cpms = await startTlsCpms(serverCert);
    t.teardown(() => cpms.close());
    const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, upstreamTls: { ca: cpmsCa.cert } });
    const error = await refusedStation({ endpoint: stationEndpoint(gateway), identity: 'CP-BAD-CERT' });
    t.equal(error.code, 502, `server certificate ${label}: 502`);
    t.equal(cpms.handshakes.length, 0, `server certificate ${label}: nothing reached the CPMS`);
  }
});

t.test('Profile 2: a wss:// station on the TLS listener is relayed to a plain ws CPMS', async (t) => {
  const cpms = await startCpms({ protocols: ['ocpp1.6'] });
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, listenTls: gatewayServerCert });
  const tlsPort = gateway.tlsPort;
  if (tlsPort === undefined) throw new Error('gateway did not open its TLS listener');
  t.not(tlsPort, gateway.port, 'the TLS listener has a port of its own');

  const arriving = cpms.nextClient('CP-PROFILE2');
  const station = await connectStation({
    endpoint: `wss://127.0.0.1:${tlsPort}/ocpp`,
    identity: 'CP-PROFILE2',
    wsOpts: { ca: gatewayCa.cert },
  });
  t.teardown(() => station.close({ force: true }));
  const atCpms = await arriving;
  atCpms.handle('BootNotification', ({ params }) => {
    t.same(params, BOOT_1_6, 'the CPMS got the payload the station sent over TLS');
    return bootAccepted();
  });
  const boot = (await station.call('BootNotification', BOOT_1_6)) as { status: string };
  t.equal(boot.status, 'Accepted');
  t.equal(station.protocol, 'ocpp1.6');
  t.same(gateway.status().listen, { port: gateway.port, tlsPort, path: '/ocpp' }, 'status reports both listeners');
});

t.test('Profile 2: a station that does not trust the gateway certificate cannot connect', async (t) => {
  const cpms = await startCpms({ protocols: ['ocpp1.6'] });
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, listenTls: gatewayServerCert });
  const endpoint = `wss://127.0.0.1:${gateway.tlsPort ?? 0}/ocpp`;

  const distrustful = await refusedStation({ endpoint, identity: 'CP-DISTRUST', wsOpts: { ca: strangerCa.cert } });
  t.match(distrustful.code, /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/, 'the station rejected the gateway certificate');
  const systemRootsOnly = await refusedStation({ endpoint, identity: 'CP-SYSTEM-ROOTS' });
  t.match(systemRootsOnly.code, /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/, 'the system roots do not vouch for it either');
  t.equal(cpms.handshakes.length, 0, 'the gateway opened no upstream for them');
  t.equal(gateway.status().stations.length, 0);
});
