/**
 * Security profiles on the LAN (docs/station-interface.md "Security
 * profiles"): Profile 3 stations with client certificates checked against
 * the station CA and its CRL, the certificate's CN matched to the station
 * id, and every downgrade refused with an HTTP status and a log line. Real
 * TLS, certificates and a CRL generated here; ocpp-rpc as station and CPMS.
 */
import { X509Certificate } from 'node:crypto';
import { Writable } from 'node:stream';
import forge from 'node-forge';
import t from 'tap';
import { createLogger } from '../src/util/logger.js';
import { buildCrlPem } from '../../provisioning/src/crl.js';
import { createCa, issueClientCert, issueServerCert, type CertificateAuthority, type Pem } from './helpers/certs.js';
import { BOOT_1_6, connectStation, refusedStation, startCpms } from './helpers/ocpp-peers.js';
import { startTestGateway } from './helpers/test-gateway.js';

const DAY_MS = 24 * 3_600_000;
const [gatewayCa, stationCa, strangerCa] = await Promise.all([createCa('Profiles Gateway Root'), createCa('Profiles Station Root'), createCa('Profiles Stranger Root')]);
const gatewayServerCert = await issueServerCert(gatewayCa);
const [good, fromStranger, expired, revoked, otherName, unknownOwn] = await Promise.all([
  issueClientCert(stationCa, 'CP-3'),
  issueClientCert(strangerCa, 'CP-3'),
  issueClientCert(stationCa, 'CP-3', { notBefore: new Date(Date.now() - 3 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) }),
  issueClientCert(stationCa, 'CP-REVOKED'),
  issueClientCert(stationCa, 'CP-OTHER'),
  issueClientCert(stationCa, 'CP-UNLISTED'),
]);

/** The station CA's CRL naming `revoked`, built by the reference provisioning service's CRL writer. */
function crlRevoking(ca: CertificateAuthority, certificate: Pem): string {
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const authority = { cert: caCert, key: forge.pki.privateKeyFromPem(ca.key), certPem: ca.cert, keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() };
  return buildCrlPem(authority, [{ serial: new X509Certificate(certificate.cert).serialNumber.toLowerCase(), revokedAt: Date.now() - 60_000 }], Date.now());
}

/** Log lines as JSON objects, from a real pino logger. */
function capturedLogger(): { logger: ReturnType<typeof createLogger>; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('info', stream), lines };
}

const cpms = await startCpms({
  protocols: ['ocpp1.6'],
  onClient: (client) => client.handle('BootNotification', () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 })),
});
t.teardown(() => cpms.close());
const { logger, lines } = capturedLogger();
const gateway = await startTestGateway(t, {
  upstreamUrl: cpms.url,
  logger,
  listenTls: { ...gatewayServerCert, clientCa: stationCa.cert, crl: crlRevoking(stationCa, revoked) },
  stations: [
    { id: 'CP-3', profile: 3 },
    { id: 'CP-REVOKED', profile: 3 },
    { id: 'CP-2', profile: 2, password: 'station-two-password' },
    { id: 'CP-1', profile: 1 },
    { id: 'CP-0' },
  ],
});
const tlsPort = gateway.tlsPort;
if (tlsPort === undefined) throw new Error('no TLS listener');
const wss = `wss://127.0.0.1:${tlsPort}/ocpp`;
const ws = `ws://127.0.0.1:${gateway.port}/ocpp`;

function withCertificate(certificate?: Pem): Record<string, unknown> {
  return { ca: gatewayCa.cert, ...(certificate ? { cert: certificate.cert, key: certificate.key } : {}) };
}

function refusalLogged(stationUrlPart: string, pattern: RegExp): boolean {
  return lines.some((line) => line.msg === 'station handshake refused' && String(line.url).includes(stationUrlPart) && pattern.test(String(line.reason)));
}

t.test('Profile 3: a certificate from the station CA naming the station gets in, and the report says so', async (t) => {
  const station = await connectStation({ endpoint: wss, identity: 'CP-3', wsOpts: withCertificate(good) });
  t.teardown(() => station.close({ force: true }));
  t.match(await station.call('BootNotification', BOOT_1_6), { status: 'Accepted' }, 'relayed to the CPMS');
  const row = gateway.status().stations.find((s) => s.stationId === 'CP-3');
  t.match(row?.security?.station, { scheme: 'wss', profile: 3, clientCertificate: true, basicAuth: false });
  t.equal(row?.security?.station.clientCertificateExpiresAt, new Date(new X509Certificate(good.cert).validTo).toISOString(), "the station certificate's expiry");
});

t.test('Profile 3: wrong CA, expired, revoked, another station\'s name, none, plain ws: each refused with 403 and a reason in the log', async (t) => {
  const cases: Array<{ what: string; identity: string; endpoint: string; certificate?: Pem; reason: RegExp }> = [
    { what: 'a certificate from another CA', identity: 'CP-3', endpoint: wss, certificate: fromStranger, reason: /not accepted: .*(UNABLE_TO_GET_ISSUER_CERT|unable to get|self.signed|UNABLE_TO_VERIFY)/i },
    { what: 'an expired certificate', identity: 'CP-3', endpoint: wss, certificate: expired, reason: /not accepted: CERT_HAS_EXPIRED/ },
    { what: 'a revoked certificate', identity: 'CP-REVOKED', endpoint: wss, certificate: revoked, reason: /not accepted: CERT_REVOKED/ },
    { what: "another station's certificate", identity: 'CP-3', endpoint: wss, certificate: otherName, reason: /names "CP-OTHER", not this station/ },
    { what: 'no certificate', identity: 'CP-3', endpoint: wss, reason: /must present a client certificate/ },
    { what: 'plain ws', identity: 'CP-3', endpoint: ws, reason: /must connect over wss:\/\// },
  ];
  for (const { what, identity, endpoint, certificate, reason } of cases) {
    const before = lines.length;
    const refused = await refusedStation({ endpoint, identity, wsOpts: endpoint === wss ? withCertificate(certificate) : {} });
    t.equal(refused.code, 403, `${what}: 403`);
    t.ok(lines.slice(before).some((line) => line.msg === 'station handshake refused' && reason.test(String(line.reason))), `${what}: logged with its reason`);
  }
  t.ok(refusalLogged('CP-REVOKED', /CERT_REVOKED/), 'the CRL was honoured');
  t.notOk(gateway.status().stations.some((s) => s.stationId === 'CP-REVOKED'), 'nothing of them connected');
});

t.test('Profile 2: plain ws refused even with the right password; wss with it admitted', async (t) => {
  const downgrade = await refusedStation({ endpoint: ws, identity: 'CP-2', password: 'station-two-password' });
  t.equal(downgrade.code, 403, 'plain ws: 403, never a silent fall-back');
  t.ok(refusalLogged('CP-2', /must connect over wss:\/\/ \(security profile 2/), 'logged with the profile it needs');
  const station = await connectStation({ endpoint: wss, identity: 'CP-2', password: 'station-two-password', wsOpts: withCertificate() });
  t.teardown(() => station.close({ force: true }));
  t.match(gateway.status().stations.find((s) => s.stationId === 'CP-2')?.security?.station, { scheme: 'wss', profile: 2, basicAuth: true });
  // A client certificate the station CA never issued is no reason to refuse a station that needs none.
  const withStrangerCert = await connectStation({ endpoint: wss, identity: 'CP-2', password: 'station-two-password', wsOpts: withCertificate(fromStranger) });
  t.teardown(() => withStrangerCert.close({ force: true }));
  t.match(gateway.status().stations.find((s) => s.stationId === 'CP-2')?.security?.station, { profile: 2, clientCertificate: false }, 'an untrusted certificate is ignored for Profile 2');
});

t.test('Profile 1 without a local password: the station must still send credentials (for the CPMS to judge)', async (t) => {
  const bare = await refusedStation({ endpoint: ws, identity: 'CP-1' });
  t.equal(bare.code, 401, 'no Authorization: 401');
  const station = await connectStation({ endpoint: ws, identity: 'CP-1', password: 'judged-by-the-cpms' });
  t.teardown(() => station.close({ force: true }));
  t.match(gateway.status().stations.find((s) => s.stationId === 'CP-1')?.security?.station, { scheme: 'ws', profile: 1 });
});

t.test('no profile configured: Profile 0 still works; an unlisted station with its own good certificate is Profile 3', async (t) => {
  const plain = await connectStation({ endpoint: ws, identity: 'CP-0' });
  t.teardown(() => plain.close({ force: true }));
  t.match(gateway.status().stations.find((s) => s.stationId === 'CP-0')?.security?.station, { profile: 0 });
  const unlisted = await connectStation({ endpoint: wss, identity: 'CP-UNLISTED', wsOpts: withCertificate(unknownOwn) });
  t.teardown(() => unlisted.close({ force: true }));
  t.match(gateway.status().stations.find((s) => s.stationId === 'CP-UNLISTED')?.security?.station, { profile: 3, clientCertificate: true });
  const impostor = await refusedStation({ endpoint: wss, identity: 'CP-0', wsOpts: withCertificate(otherName) });
  t.equal(impostor.code, 403, "a verified certificate naming another station is refused even where none is required");
});

t.test('a renewed LAN certificate: the connected Profile 3 station stays, new handshakes get the new certificate and are still checked', async (t) => {
  const connected = await connectStation({ endpoint: wss, identity: 'CP-3', wsOpts: withCertificate(good) });
  t.teardown(() => connected.close({ force: true }));
  const renewedCa = await createCa('Profiles Renewed Gateway Root');
  const renewed = await issueServerCert(renewedCa);
  const tls = gateway.config.listen.tls;
  if (!tls) throw new Error('no TLS listener');
  gateway.useCertificates({ ...gateway.config, listen: { ...gateway.config.listen, tls: { ...tls, cert: renewed.cert, key: renewed.key } } });

  t.match(await connected.call('BootNotification', BOOT_1_6), { status: 'Accepted' }, 'the station connected before the renewal is still relayed');
  const oldTrust = await refusedStation({ endpoint: wss, identity: 'CP-3', wsOpts: withCertificate(good) });
  t.match(oldTrust.message, /certificate|self.signed|issuer/i, 'a new handshake presents the renewed certificate (the old root no longer verifies it)');
  const again = await connectStation({ endpoint: wss, identity: 'CP-UNLISTED', wsOpts: { ca: renewedCa.cert, cert: unknownOwn.cert, key: unknownOwn.key } });
  t.teardown(() => again.close({ force: true }));
  t.match(gateway.status().stations.find((s) => s.stationId === 'CP-UNLISTED')?.security?.station, { profile: 3, clientCertificate: true }, 'station certificates are still asked for and verified');
  const without = await refusedStation({ endpoint: wss, identity: 'CP-3', wsOpts: { ca: renewedCa.cert } });
  t.equal(without.code, 403, 'and a Profile 3 station without one is still refused');
  const revokedAgain = await refusedStation({ endpoint: wss, identity: 'CP-REVOKED', wsOpts: { ca: renewedCa.cert, cert: revoked.cert, key: revoked.key } });
  t.equal(revokedAgain.code, 403, 'the CRL still applies');
});

t.test('config: profile 3 needs the station CA; a CRL needs it too; a CRL file must be a CRL', async (t) => {
  const { parseConfig } = await import('../src/config/load-config.js');
  const { ConfigError } = await import('../src/errors.js');
  const problemsOf = (document: unknown): string[] => {
    try {
      parseConfig(document, { baseDir: '/', env: {} });
    } catch (error: unknown) {
      if (error instanceof ConfigError) return error.problems.map((problem) => `${problem.path}: ${problem.message}`);
      throw error;
    }
    return [];
  };
  const upstream = { url: 'ws://127.0.0.1:9/ocpp' };
  const listen = { tls: { ...gatewayServerCert } };
  t.match(problemsOf({ upstream, listen, stations: { list: [{ id: 'CP-3', profile: 3 }] } }).join('\n'), /\$\.stations\.list\[0\]\.profile: profile 3 needs listen\.tls\.clientCa/);
  t.match(problemsOf({ upstream, listen: { tls: { ...gatewayServerCert, crl: crlRevoking(stationCa, revoked) } } }).join('\n'), /clientCa/, 'a CRL without the CA it belongs to');
  t.match(problemsOf({ upstream, listen: { tls: { ...gatewayServerCert, clientCa: stationCa.cert, crl: stationCa.cert } } }).join('\n'), /\$\.listen\.tls\.crl: inline text is not a PEM certificate revocation list/);
  t.match(problemsOf({ upstream, stations: { list: [{ id: 'CP-9', profile: 4 }] } }).join('\n'), /\$\.stations\.list\[0\]\.profile/);
  t.same(problemsOf({ upstream, listen: { tls: { ...gatewayServerCert, clientCa: stationCa.cert, crl: crlRevoking(stationCa, revoked) } }, stations: { list: [{ id: 'CP-3', profile: 3 }] } }), [], 'a complete Profile 3 setup is valid');
});
