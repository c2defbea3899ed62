import t, { type Test } from 'tap';
import { CallTimeoutError } from '../src/errors.js';
import { GATEWAY_ID_PREFIX } from '../src/proxy/call-lane.js';
import { connectStation } from './helpers/ocpp-peers.js';
import { startRawCpms } from './helpers/raw-peers.js';
import { startTestGateway, stationEndpoint } from './helpers/test-gateway.js';
import { waitUntil } from './helpers/wait-until.js';

/** A promise the test resolves by hand, to hold a station's reply for as long as it needs. */
function gate(): { open: () => void; opened: Promise<void> } {
  let open = (): void => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

async function setup(t: Test, callTimeoutMs = 5000) {
  const cpms = await startRawCpms();
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, callTimeoutMs });
  const arriving = cpms.nextConnection();
  const station = await connectStation({ endpoint: stationEndpoint(gateway), identity: 'CP-LANE', protocols: ['ocpp1.6'] });
  t.teardown(() => station.close({ force: true }));
  const atCpms = await arriving;
  return { cpms, gateway, station, atCpms };
}


t.test('a gateway call holds a CPMS call until the station answers; the CPMS never sees the gateway traffic', async (t) => {
  const { gateway, station, atCpms } = await setup(t);
  const order: string[] = [];
  const slow = gate();
  let gatewayMessageId = '';
  station.handle('GetConfiguration', async ({ messageId }) => {
    gatewayMessageId = messageId ?? '';
    order.push('station got gateway GetConfiguration');
    await slow.opened;
    order.push('station answered gateway GetConfiguration');
    return { configurationKey: [] };
  });
  station.handle('ChangeAvailability', () => {
    order.push('station got CPMS ChangeAvailability');
    return { status: 'Accepted' };
  });

  const gatewayCall = gateway.callStation('CP-LANE', 'GetConfiguration', { key: ['HeartbeatInterval'] });
  await waitUntil(() => order.length === 1, 'the station received the gateway call');
  atCpms.socket.send('[2,"cpms-1","ChangeAvailability",{"connectorId":0,"type":"Operative"}]');
  await waitUntil(() => gateway.status().stations[0]?.heldCpmsCalls === 1, 'the CPMS call is held');
  t.same(order, ['station got gateway GetConfiguration'], 'CPMS call not delivered while the gateway call is outstanding');

  slow.open();
  const outcome = await gatewayCall;
  t.same(outcome, { kind: 'result', payload: { configurationKey: [] } }, 'gateway got the station answer');
  const replies = await atCpms.waitFor(1);
  t.same(order, ['station got gateway GetConfiguration', 'station answered gateway GetConfiguration', 'station got CPMS ChangeAvailability']);
  t.same(JSON.parse(replies[0]?.data.toString() ?? ''), [3, 'cpms-1', { status: 'Accepted' }], 'the CPMS got its own answer');
  t.equal(atCpms.received.length, 1, 'nothing else reached the CPMS: not the gateway call, not its reply');
  t.ok(gatewayMessageId.startsWith(GATEWAY_ID_PREFIX), 'gateway message ids carry the gateway prefix');
  t.ok(gatewayMessageId.length <= 36, 'and stay within 36 characters');
});

t.test('CPMS first: a gateway call waits while a CPMS call is outstanding on a slow station', async (t) => {
  const { gateway, station, atCpms } = await setup(t);
  const order: string[] = [];
  const slow = gate();
  station.handle('ChangeAvailability', async () => {
    order.push('station got CPMS call');
    await slow.opened;
    order.push('station answered CPMS call');
    return { status: 'Accepted' };
  });
  station.handle('GetConfiguration', () => {
    order.push('station got gateway call');
    return { configurationKey: [] };
  });
  atCpms.socket.send('[2,"cpms-slow","ChangeAvailability",{"connectorId":0,"type":"Inoperative"}]');
  await waitUntil(() => order.length === 1, 'the station received the CPMS call');
  const gatewayCall = gateway.callStation('CP-LANE', 'GetConfiguration', {});
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.same(order, ['station got CPMS call'], 'gateway call not sent while the CPMS call is outstanding');
  slow.open();
  await gatewayCall;
  t.same(order, ['station got CPMS call', 'station answered CPMS call', 'station got gateway call']);
  await atCpms.waitFor(1);
  t.equal(atCpms.received.length, 1, 'the CPMS saw only its own answer');
});

t.test('a gateway call that times out frees the lane; its late reply is swallowed', async (t) => {
  const { gateway, station, atCpms } = await setup(t, 300);
  const late = gate();
  const order: string[] = [];
  station.handle('GetConfiguration', async () => {
    await late.opened;
    return { configurationKey: [] };
  });
  station.handle('ChangeAvailability', () => {
    order.push('station got CPMS call');
    return { status: 'Accepted' };
  });
  const gatewayCall = gateway.callStation('CP-LANE', 'GetConfiguration', {});
  await new Promise((resolve) => setTimeout(resolve, 50));
  atCpms.socket.send('[2,"cpms-2","ChangeAvailability",{"connectorId":0,"type":"Operative"}]');
  await t.rejects(gatewayCall, CallTimeoutError, 'the gateway call times out');
  await atCpms.waitFor(1);
  t.same(order, ['station got CPMS call'], 'the held CPMS call went out after the timeout');
  late.open();
  await waitUntil(() => gateway.metrics.swallowedReplies >= 1, 'the late reply was seen and swallowed');
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(atCpms.received.length, 1, 'the late gateway reply never reached the CPMS');
  t.same(JSON.parse(atCpms.received[0]?.data.toString() ?? ''), [3, 'cpms-2', { status: 'Accepted' }]);
});

t.test('a gateway call to a station that is not connected fails clearly', async (t) => {
  const { gateway } = await setup(t);
  await t.rejects(gateway.callStation('NOBODY', 'GetConfiguration', {}), { code: 'PE_ERR_STATION_GONE' });
});

t.test('a CALLERROR from the station is returned to the gateway, not the CPMS', async (t) => {
  const { gateway, atCpms } = await setup(t);
  // ocpp-rpc answers an action it has no handler for with NotImplemented.
  const outcome = await gateway.callStation('CP-LANE', 'Reset', { type: 'Soft' });
  t.equal(outcome.kind, 'error');
  if (outcome.kind === 'error') t.equal(outcome.errorCode, 'NotImplemented');
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(atCpms.received.length, 0);
});
