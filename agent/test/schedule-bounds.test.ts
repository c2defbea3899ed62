/**
 * Impossible set-schedule values never reach a station: a real gateway, an
 * independent CPMS and OCPP 1.6 / 2.0.1 stations (ocpp-rpc), a real SQLite
 * file. Each command is refused with invalid_argument naming the field by its
 * JSON path; the stations receive nothing until a valid schedule comes.
 */
import t from 'tap';
import { CommandError } from '../src/cloud/cloud-command.js';
import { scheduleCommandHandlers } from '../src/schedules/schedule-commands.js';
import { createLogger } from '../src/util/logger.js';
import { BOOT_1_6, connectStation, startCpms, type RpcPeer } from './helpers/ocpp-peers.js';
import { startTestGateway, stationEndpoint } from './helpers/test-gateway.js';

const level = process.env.PLEEVI_TEST_LOG;
const logger = createLogger(level === 'debug' || level === 'info' ? level : 'silent');

t.test('out-of-bounds set-schedule: invalid_argument with the JSON path, nothing sent to any station', async (t) => {
  const cpms = await startCpms({
    protocols: ['ocpp1.6', 'ocpp2.0.1'],
    onClient: (client: RpcPeer) => {
      client.handle('BootNotification', () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 }));
    },
  });
  t.teardown(() => cpms.close());
  const gateway = await startTestGateway(t, { upstreamUrl: cpms.url, logger, scheduleSettleMs: 50, callTimeoutMs: 1000 });
  const received: string[] = [];
  for (const [identity, protocol] of [['CP-16', 'ocpp1.6'], ['CP-201', 'ocpp2.0.1']] as const) {
    const peer = await connectStation({ endpoint: stationEndpoint(gateway), identity, protocols: [protocol] });
    t.teardown(() => peer.close({ force: true }));
    peer.handle('SetChargingProfile', () => {
      received.push(`${identity} SetChargingProfile`);
      return { status: 'Accepted' };
    });
    if (protocol === 'ocpp1.6') await peer.call('BootNotification', BOOT_1_6);
  }
  const [setSchedule] = scheduleCommandHandlers(gateway.schedules);
  let ids = 0;
  const send = (body: Record<string, unknown>): Promise<unknown> => {
    const id = `bound-${++ids}`;
    return setSchedule!.execute({ id, name: 'set-schedule', body: { id, ...body } });
  };
  const good = { scheduleId: 's-1', connectorId: 1, purpose: 'default', unit: 'A', periods: [{ startOffsetS: 0, limit: 16 }] };

  const impossible: Array<[Record<string, unknown>, RegExp]> = [
    [{ startsAt: '2030-02-31T08:00:00Z' }, /^\$\.startsAt must be an RFC 3339 date-time/],
    [{ startsAt: '2030-03-01T24:00:00Z' }, /^\$\.startsAt /],
    [{ validUntil: '2031-06-31T00:00:00Z' }, /^\$\.validUntil /],
    [{ connectorId: 2 ** 53 }, /^\$\.connectorId must be a whole number from 0 to 1000/],
    [{ periods: [{ startOffsetS: 0, limit: 1e300 }] }, /^\$\.periods\[0\]\.limit must be a number from 0 to 3000 A/],
    [{ unit: 'W', periods: [{ startOffsetS: 0, limit: 22000 }, { startOffsetS: 2 ** 53, limit: 11000 }] }, /^\$\.periods\[1\]\.startOffsetS /],
    [{ periods: [{ startOffsetS: 0, limit: 16, phases: 2 ** 31 }] }, /^\$\.periods\[0\]\.phases /],
  ];
  for (const stationId of ['CP-16', 'CP-201']) {
    for (const [overrides, message] of impossible) {
      const error = await send({ ...good, stationId, ...overrides }).then(
        () => undefined,
        (rejected: unknown) => rejected,
      );
      t.ok(error instanceof CommandError, `${stationId} ${JSON.stringify(overrides).slice(0, 60)} refused`);
      t.match(error, { ackCode: 'invalid_argument', message });
    }
  }
  await gateway.schedules.idle();
  t.same(received, [], 'no station received anything');
  t.same(gateway.schedules.list(), [], 'nothing stored');

  // The same path carries a valid schedule: the refusals were the bounds, not a broken rig.
  t.match(await send({ ...good, stationId: 'CP-16', startsAt: '2030-02-28T08:00:00Z' }), { state: 'applied' });
  t.match(await send({ ...good, scheduleId: 's-2', stationId: 'CP-201', periods: [{ startOffsetS: 0, limit: 3000 }] }), { state: 'applied' });
  t.same(received, ['CP-16 SetChargingProfile', 'CP-201 SetChargingProfile']);
});
