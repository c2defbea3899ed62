import t from 'tap';
import { hashPassword } from '../src/auth/password-hash.js';
import { connectStation, refusedStation, startCpms } from './helpers/ocpp-peers.js';
import { startTestGateway, stationEndpoint } from './helpers/test-gateway.js';

const PASSWORD = 'station-secret-0001';

t.test('Profile 1 Basic Auth is checked locally: plain password and scrypt hash', async (t) => {
  const cpms = await startCpms();
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, {
    upstreamUrl: cpms.url,
    stations: [
      { id: 'CP-PLAIN', password: PASSWORD },
      { id: 'CP-HASHED', passwordHash: await hashPassword(PASSWORD) },
    ],
  });
  const endpoint = stationEndpoint(gateway);
  for (const identity of ['CP-PLAIN', 'CP-HASHED']) {
    const station = await connectStation({ endpoint, identity, password: PASSWORD });
    t.equal(station.protocol, 'ocpp1.6', `${identity} with the right password gets in`);
    await station.close();
    const wrong = await refusedStation({ endpoint, identity, password: 'not-the-password-1' });
    t.equal(wrong.code, 401, `${identity} with a wrong password: 401`);
    const none = await refusedStation({ endpoint, identity });
    t.equal(none.code, 401, `${identity} without credentials: 401`);
  }
  t.equal(cpms.handshakes.length, 2, 'refused stations never reached the CPMS');
  t.equal(gateway.metrics.authFailures, 4);
});

t.test('the Basic Auth username must be the station id', async (t) => {
  const cpms = await startCpms();
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, stations: [{ id: 'CP-A', password: PASSWORD }] });
  const { WebSocket } = await import('ws');
  const status = await new Promise<number>((resolve) => {
    const socket = new WebSocket(`${stationEndpoint(gateway)}/CP-A`, ['ocpp1.6'], {
      headers: { authorization: `Basic ${Buffer.from(`CP-B:${PASSWORD}`).toString('base64')}` },
    });
    socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    socket.on('open', () => resolve(101));
    socket.on('error', () => undefined);
  });
  t.equal(status, 401);
});

t.test('allow-list: unknown stations get 404 when allowUnknown is false', async (t) => {
  const cpms = await startCpms();
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, allowUnknown: false, stations: [{ id: 'CP-LISTED' }] });
  const endpoint = stationEndpoint(gateway);
  const refused = await refusedStation({ endpoint, identity: 'CP-STRANGER' });
  t.equal(refused.code, 404);
  const listed = await connectStation({ endpoint, identity: 'CP-LISTED' });
  t.teardown(() => listed.close({ force: true }));
  t.equal(cpms.handshakes.length, 1, 'only the listed station reached the CPMS');
});

t.test('repeated wrong passwords are rate-limited with 429, then other stations still work', async (t) => {
  const cpms = await startCpms();
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, {
    upstreamUrl: cpms.url,
    stations: [{ id: 'CP-GUESSED', password: PASSWORD }, { id: 'CP-NEIGHBOUR', password: PASSWORD }],
  });
  const endpoint = stationEndpoint(gateway);
  const codes: unknown[] = [];
  for (let attempt = 0; attempt < 7; attempt += 1) {
    codes.push((await refusedStation({ endpoint, identity: 'CP-GUESSED', password: `guess-number-${attempt}-xx` })).code);
  }
  t.same(codes, [401, 401, 401, 401, 401, 429, 429], 'after five failures the next attempts get 429');
  const right = await refusedStation({ endpoint, identity: 'CP-GUESSED', password: PASSWORD });
  t.equal(right.code, 429, 'even the right password waits out the lock');
  const neighbour = await connectStation({ endpoint, identity: 'CP-NEIGHBOUR', password: PASSWORD });
  t.teardown(() => neighbour.close({ force: true }));
  t.equal(neighbour.protocol, 'ocpp1.6', 'another station from the same address (one NAT) is not locked out');
});

t.test('per-station upstream credentials replace the station Authorization (Profile 0 carried as Profile 1/2)', async (t) => {
  const cpms = await startCpms();
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, {
    upstreamUrl: cpms.url,
    stations: [{ id: 'CP-P0', upstream: { username: 'CP-P0', password: 'upstream-secret-42' } }],
  });
  const station = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CP-P0' });
  t.teardown(() => station.close({ force: true }));
  const handshake = cpms.handshakes.at(-1);
  t.equal(handshake?.password?.toString(), 'upstream-secret-42', 'the CPMS got the configured credentials');
  t.equal(handshake?.identity, 'CP-P0');
});
