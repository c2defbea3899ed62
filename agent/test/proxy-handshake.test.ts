import t from 'tap';
import { BOOT_1_6, BOOT_2_0_1, connectStation, refusedStation, startCpms } from './helpers/ocpp-peers.js';
import { startTestGateway, stationEndpoint } from './helpers/test-gateway.js';

t.test('the station gets the subprotocol the CPMS chose, and calls flow both ways', async (t) => {
  const cpms = await startCpms({ protocols: ['ocpp1.6'] });
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url });
  const arriving = cpms.nextClient('CP-NEG');
  const station = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CP-NEG', protocols: ['ocpp2.0.1', 'ocpp1.6'] });
  t.teardown(() => station.close({ force: true }));
  const atCpms = await arriving;

  t.equal(station.protocol, 'ocpp1.6', 'station negotiated what the CPMS picked');
  t.equal(atCpms.protocol, 'ocpp1.6');
  t.same([...(cpms.handshakes[0]?.protocols ?? [])], ['ocpp2.0.1', 'ocpp1.6'], 'CPMS saw both offers, in order');

  atCpms.handle('BootNotification', ({ params }) => {
    t.same(params, BOOT_1_6, 'CPMS received the station payload');
    return { status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 };
  });
  const boot = (await station.call('BootNotification', BOOT_1_6)) as { status: string };
  t.equal(boot.status, 'Accepted');

  station.handle('GetConfiguration', () => ({ configurationKey: [{ key: 'HeartbeatInterval', readonly: false, value: '300' }] }));
  const config = (await atCpms.call('GetConfiguration', {})) as { configurationKey: Array<{ key: string }> };
  t.equal(config.configurationKey[0]?.key, 'HeartbeatInterval', 'CPMS-initiated call answered by the station');
  t.equal(gateway.status().stations.length, 1);
});

t.test('OCPP 2.0.1 on both sides', async (t) => {
  const cpms = await startCpms({ protocols: ['ocpp2.0.1'] });
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url });
  const arriving = cpms.nextClient();
  const station = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CS-201', protocols: ['ocpp2.0.1'] });
  t.teardown(() => station.close({ force: true }));
  const atCpms = await arriving;
  atCpms.handle('BootNotification', () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 60 }));
  const boot = (await station.call('BootNotification', BOOT_2_0_1)) as { status: string };
  t.equal(boot.status, 'Accepted');
  t.equal(station.protocol, 'ocpp2.0.1');
});

t.test('CPMS refusals pass through with their HTTP status', async (t) => {
  const cpms = await startCpms({
    auth: (handshake, accept, reject) => {
      if (handshake.identity === 'UNKNOWN') reject(404, 'Not Found');
      else if (handshake.password?.toString() !== 'right-password-123') reject(401, 'Unauthorized');
      else accept();
    },
  });
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url });
  const endpoint = stationEndpoint(gateway);

  const unknown = await refusedStation({ endpoint, identity: 'UNKNOWN', password: 'right-password-123' });
  t.equal(unknown.code, 404, 'unknown station: 404 from the CPMS reaches the station');
  const wrong = await refusedStation({ endpoint, identity: 'CP-1', password: 'wrong-password-000' });
  t.equal(wrong.code, 401, 'wrong password: 401 from the CPMS reaches the station');

  const ok = await connectStation({ endpoint, identity: 'CP-1', password: 'right-password-123' });
  t.teardown(() => ok.close({ force: true }));
  t.equal(cpms.handshakes.at(-1)?.password?.toString(), 'right-password-123', 'station Authorization passed through to the CPMS');
  t.equal(gateway.metrics.handshakesRefused, 2);
});

t.test('an unreachable CPMS is a 502, never accept-then-close', async (t) => {
  const cpms = await startCpms();
  const deadUrl = cpms.url;
  await cpms.close();
  const gateway = await startTestGateway(t, { upstreamUrl: deadUrl });
  const error = await refusedStation({ endpoint: stationEndpoint(gateway), identity: 'CP-X' });
  t.equal(error.code, 502);
});

t.test('a CPMS that never answers the handshake is a 504', async (t) => {
  const net = await import('node:net');
  const silent = net.createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    silent.close();
  });
  const port = (silent.address() as import('node:net').AddressInfo).port;
  const gateway = await startTestGateway(t, { upstreamUrl: `ws://127.0.0.1:${port}/ocpp`, connectTimeoutMs: 300 });
  const error = await refusedStation({ endpoint: stationEndpoint(gateway), identity: 'CP-SLOW' });
  t.equal(error.code, 504);
});

t.test('a CPMS that agrees to no subprotocol: the station gets the same answer', async (t) => {
  const { startRawCpms, connectRawStation } = await import('./helpers/raw-peers.js');
  const cpms = await startRawCpms({ protocols: [] });
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url });
  // The station (a ws client, like the gateway's own upstream side) sees a 101
  // without Sec-WebSocket-Protocol: exactly what the CPMS answered.
  await t.rejects(connectRawStation(`${stationEndpoint(gateway)}/CP-NOPROTO`, ['ocpp2.1']), /sent no subprotocol/);
  t.equal(cpms.connections.length, 1, 'the CPMS saw the handshake and answered it without subprotocol');
  t.equal(gateway.isConnected('CP-NOPROTO'), false);
});
