/**
 * Which credentials reach the CPMS for a station: its own Basic Auth header
 * only when the gateway has nothing of its own to present for it. A real
 * `wss://` CPMS with mutual TLS, certificates generated for this file, and a
 * record of the Authorization header and client certificate of every
 * upgrade it got.
 */
import { once } from 'node:events';
import type { IncomingMessage, Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import t from 'tap';
import { createCa, issueClientCert, issueServerCert } from './helpers/certs.js';
import { connectStation, startCpms, type TestCpms } from './helpers/ocpp-peers.js';
import { startTestGateway, stationEndpoint } from './helpers/test-gateway.js';

const [cpmsCa, clientCa] = await Promise.all([createCa('Pleevi Test CPMS Root'), createCa('Pleevi Test Client Root')]);
const [cpmsServerCert, gatewayClientCert, stationClientCert] = await Promise.all([
  issueServerCert(cpmsCa),
  issueClientCert(clientCa, 'gw-test'),
  issueClientCert(clientCa, 'CP-CERT-SERIAL'),
]);

interface SeenUpgrade {
  readonly url: string;
  /** The Authorization header as it reached the CPMS, undefined when none did. */
  readonly authorization: string | undefined;
  /** CN of the client certificate the TLS handshake presented. */
  readonly peerCommonName: string;
}

/** The ocpp-rpc CPMS behind a real https server that demands a client certificate signed by the client root. */
async function startRecordingCpms(): Promise<TestCpms & { upgrades: SeenUpgrade[] }> {
  const upgrades: SeenUpgrade[] = [];
  const cpms = await startCpms({
    protocols: ['ocpp1.6'],
    listen: async (handleUpgrade) => {
      const https: Server = createHttpsServer({ cert: cpmsServerCert.cert, key: cpmsServerCert.key, ca: clientCa.cert, requestCert: true, rejectUnauthorized: true });
      https.on('upgrade', (request: IncomingMessage, socket, head: Buffer) => {
        const peer = (request.socket as TLSSocket).getPeerCertificate();
        upgrades.push({ url: request.url ?? '', authorization: request.headers.authorization, peerCommonName: typeof peer.subject?.CN === 'string' ? peer.subject.CN : '' });
        handleUpgrade(request, socket, head);
      });
      https.listen(0, '127.0.0.1');
      await once(https, 'listening');
      return https;
    },
  });
  return Object.assign(cpms, { upgrades });
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

t.test('a station with its own upstream certificate keeps its LAN password off the CPMS link; others as configured', async (t) => {
  const cpms = await startRecordingCpms();
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, {
    upstreamUrl: cpms.url,
    upstreamTls: { ca: cpmsCa.cert, ...gatewayClientCert },
    stations: [
      // Profile 1 toward the gateway, its own certificate (Profile 3) toward the CPMS.
      { id: 'CP-CERT', password: 'lan-password-of-cp-cert', upstream: stationClientCert },
      // Profile 1 toward the gateway, other Basic credentials toward the CPMS.
      { id: 'CP-USER', password: 'lan-password-of-cp-user', upstream: { username: 'cpms-user', password: 'cpms-password-of-cp-user' } },
    ],
  });
  const endpoint = stationEndpoint(gateway);
  const connect = async (identity: string, password: string): Promise<void> => {
    const arriving = cpms.nextClient(identity);
    const station = await connectStation({ endpoint, identity, password });
    t.teardown(() => station.close({ force: true }));
    await arriving;
  };

  await connect('CP-CERT', 'lan-password-of-cp-cert');
  await connect('CP-USER', 'lan-password-of-cp-user');
  // Not listed: no credentials of its own toward the CPMS, so its header is for the CPMS to judge.
  await connect('CP-PLAIN', 'password-for-the-cpms');

  const seen = (id: string): SeenUpgrade | undefined => cpms.upgrades.find((upgrade) => upgrade.url === `/ocpp/${id}`);
  t.match(seen('CP-CERT'), { peerCommonName: 'CP-CERT-SERIAL' }, 'CP-CERT presented its own certificate');
  t.equal(seen('CP-CERT')?.authorization, undefined, 'and its LAN password did not go upstream');
  t.match(seen('CP-USER'), { peerCommonName: 'gw-test', authorization: basic('cpms-user', 'cpms-password-of-cp-user') }, 'CP-USER: the configured upstream credentials instead of its own');
  t.match(seen('CP-PLAIN'), { peerCommonName: 'gw-test', authorization: basic('CP-PLAIN', 'password-for-the-cpms') }, 'an unlisted station: its header unchanged');
  const decoded = cpms.upgrades.map((upgrade) => Buffer.from((upgrade.authorization ?? '').replace(/^Basic /, ''), 'base64').toString());
  t.notOk(decoded.some((credentials) => credentials.includes('lan-password')), 'no LAN password reached the CPMS');
});
