/**
 * set-schedule / clear-schedule bodies and their conversion to OCPP 1.6 and
 * 2.0.1 SetChargingProfile, checked against the official schemas (the ones
 * ocpp-rpc's strict mode uses, loaded here through ocpp-rpc's own validator,
 * not the gateway's).
 */
import { createRequire } from 'node:module';
import t, { type Test } from 'tap';
import { CommandError } from '../src/cloud/cloud-command.js';
import { clearChargingProfileCall, ProfileConversionError, setChargingProfileCall } from '../src/schedules/charging-profile.js';
import { clearRequestMatches } from '../src/schedules/cpms-clear-criteria.js';
import { requestProblems } from '../src/schedules/ocpp-request-schemas.js';
import { parseClearSchedule, parseSetSchedule } from '../src/schedules/parse-schedule-command.js';
import type { ScheduleRecord } from '../src/schedules/schedule-records.js';
import type { ScheduleSpec } from '../src/schedules/schedule-spec.js';

interface IndependentValidator {
  validate(schemaId: string, params: unknown): boolean;
}
const require = createRequire(import.meta.url);
const { createValidator } = require('ocpp-rpc/lib/validator.js') as {
  createValidator: (subprotocol: string, schemas: unknown) => IndependentValidator;
};
const independent = {
  'ocpp1.6': createValidator('ocpp1.6', require('ocpp-rpc/lib/schemas/ocpp1_6.json')),
  'ocpp2.0.1': createValidator('ocpp2.0.1', require('ocpp-rpc/lib/schemas/ocpp2_0_1.json')),
};

const NOW = new Date('2025-03-01T12:00:00Z');
const identity = { profileId: 900001, stackLevel: 8, acceptedAt: '2025-03-01T12:00:00.000Z' };

function body(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: 'c1', scheduleId: 's1', stationId: 'CP-1', connectorId: 0, purpose: 'max', unit: 'A', periods: [{ startOffsetS: 0, limit: 16 }], ...overrides };
}

function invalidMessage(t: Test, overrides: Record<string, unknown>, pattern: RegExp): void {
  try {
    parseSetSchedule(body(overrides), NOW);
    t.fail(`accepted ${JSON.stringify(overrides)}`);
  } catch (error: unknown) {
    t.ok(error instanceof CommandError, 'a CommandError');
    t.equal((error as CommandError).ackCode, 'invalid_argument');
    t.match((error as CommandError).message, pattern);
  }
}

t.test('a full set-schedule body is accepted and normalized', async (t) => {
  const spec = parseSetSchedule(
    body({
      purpose: 'default',
      connectorId: 2,
      unit: 'W',
      startsAt: '2025-03-02T06:00:00+01:00',
      validUntil: '2025-04-01T00:00:00Z',
      recurrency: 'daily',
      periods: [
        { startOffsetS: 0, limit: 11000, phases: 3 },
        { startOffsetS: 3600, limit: 7400.5, phases: 1 },
      ],
    }),
    NOW,
  );
  t.same(spec, {
    scheduleId: 's1',
    stationId: 'CP-1',
    connectorId: 2,
    purpose: 'default',
    unit: 'W',
    startsAt: '2025-03-02T05:00:00.000Z',
    validUntil: '2025-04-01T00:00:00.000Z',
    recurrency: 'daily',
    periods: [
      { startOffsetS: 0, limit: 11000, phases: 3 },
      { startOffsetS: 3600, limit: 7400.5, phases: 1 },
    ],
  });
});

t.test('invalid set-schedule bodies: invalid_argument naming the field by its JSON path', async (t) => {
  invalidMessage(t, { scheduleId: '' }, /^\$\.scheduleId must be a non-empty string/);
  invalidMessage(t, { stationId: 7 }, /^\$\.stationId must be a non-empty string/);
  invalidMessage(t, { connectorId: -1 }, /^\$\.connectorId must be a whole number from 0 to 1000/);
  invalidMessage(t, { connectorId: 1.5 }, /^\$\.connectorId/);
  invalidMessage(t, { connectorId: undefined }, /^\$\.connectorId .*got nothing/);
  invalidMessage(t, { purpose: 'TxProfile' }, /^\$\.purpose must be "default" or "max"/);
  invalidMessage(t, { purpose: 'max', connectorId: 1 }, /^\$\.connectorId must be 0 with purpose "max"/);
  invalidMessage(t, { unit: 'kW' }, /^\$\.unit must be "A" or "W"/);
  invalidMessage(t, { startsAt: '2025-03-01 10:00' }, /^\$\.startsAt must be an RFC 3339 date-time/);
  invalidMessage(t, { startsAt: '2025-03-01T10:00:00' }, /time zone/);
  invalidMessage(t, { validUntil: '2025-03-01T11:00:00Z' }, /^\$\.validUntil .* is already past/);
  invalidMessage(t, { startsAt: '2025-03-05T00:00:00Z', validUntil: '2025-03-04T00:00:00Z' }, /^\$\.validUntil must be after startsAt/);
  invalidMessage(t, { recurrency: 'monthly' }, /^\$\.recurrency must be "daily" or "weekly"/);
  invalidMessage(t, { recurrency: 'daily' }, /^\$\.startsAt is needed with recurrency "daily"/);
  invalidMessage(t, { periods: [] }, /^\$\.periods must be a non-empty array/);
  invalidMessage(t, { periods: 'all day' }, /^\$\.periods must be a non-empty array/);
  invalidMessage(t, { periods: [{ startOffsetS: 60, limit: 16 }] }, /^\$\.periods\[0\]\.startOffsetS must be 0/);
  invalidMessage(t, { periods: [{ startOffsetS: 0, limit: 16 }, { startOffsetS: 0, limit: 10 }] }, /^\$\.periods\[1\]\.startOffsetS must be greater/);
  invalidMessage(t, { periods: [{ startOffsetS: 0, limit: -1 }] }, /^\$\.periods\[0\]\.limit must be a number from 0 to 3000 A/);
  invalidMessage(t, { periods: [{ startOffsetS: 0, limit: '16' }] }, /^\$\.periods\[0\]\.limit/);
  invalidMessage(t, { periods: [{ startOffsetS: 0, limit: 16.25 }] }, /^\$\.periods\[0\]\.limit 16\.25 has more than one decimal/);
  invalidMessage(t, { periods: [{ startOffsetS: 0, limit: 16, phases: 4 }] }, /^\$\.periods\[0\]\.phases must be 1, 2 or 3/);
  invalidMessage(t, { periods: [{ startOffsetS: 0, limit: 16, limitA: 3 }] }, /^unknown field \$\.periods\[0\]\.limitA/);
  invalidMessage(t, { validUntill: '2026-01-01T00:00:00Z' }, /^unknown field \$\.validUntill/);
  invalidMessage(t, { startsAt: '2025-03-02T00:00:00Z', recurrency: 'daily', periods: [{ startOffsetS: 0, limit: 16 }, { startOffsetS: 86400, limit: 8 }] }, /^\$\.periods\[1\]\.startOffsetS .*below 86400/);
});

t.test('impossible values are refused, each naming its field: calendar, 32-bit integers, limits', async (t) => {
  // JavaScript's Date rolls these over (2030-02-31 is March 3); OCPP's date-time is RFC 3339, a real date.
  for (const startsAt of [
    '2030-02-31T10:00:00Z',
    '2029-02-29T10:00:00Z',
    '2030-04-31T10:00:00Z',
    '2030-13-01T10:00:00Z',
    '2030-00-10T10:00:00Z',
    '2030-03-00T10:00:00Z',
    '2030-03-01T24:00:00Z',
    '2030-03-01T23:60:00Z',
    '2030-03-01T23:59:60Z',
    '2030-03-01T10:00:00+24:00',
    '2030-03-01T10:00:00+01:60',
    '2030-03-01T10:00:00.Z',
    '0099-03-01T10:00:00Z',
    '+02030-03-01T10:00:00Z',
  ]) {
    invalidMessage(t, { startsAt }, /^\$\.startsAt must be an RFC 3339 date-time with a time zone that exists in the calendar/);
  }
  invalidMessage(t, { validUntil: '2030-02-31T00:00:00Z' }, /^\$\.validUntil must be an RFC 3339 date-time/);
  t.equal(parseSetSchedule(body({ startsAt: '2028-02-29T23:30:00.123456789-01:30' }), NOW).startsAt, '2028-03-01T01:00:00.123Z', 'a leap day, a fraction, an offset');
  t.equal(parseSetSchedule(body({ startsAt: '2030-03-01t10:00:00z' }), NOW).startsAt, '2030-03-01T10:00:00.000Z', 'RFC 3339 allows lower case t and z');

  const huge = 2 ** 53;
  invalidMessage(t, { connectorId: huge }, /^\$\.connectorId must be a whole number from 0 to 1000 .*got 9007199254740992/);
  invalidMessage(t, { purpose: 'default', connectorId: 1001 }, /^\$\.connectorId/);
  invalidMessage(t, { periods: [{ startOffsetS: 0, limit: 16 }, { startOffsetS: huge, limit: 8 }] }, /^\$\.periods\[1\]\.startOffsetS .*at most 31622400 \(366 days\)/);
  invalidMessage(t, { periods: [{ startOffsetS: 0, limit: 16 }, { startOffsetS: 366 * 86400 + 1, limit: 8 }] }, /^\$\.periods\[1\]\.startOffsetS/);
  t.equal(parseSetSchedule(body({ periods: [{ startOffsetS: 0, limit: 16 }, { startOffsetS: 366 * 86400, limit: 8 }] }), NOW).periods.length, 2, '366 days is the last start');
  invalidMessage(t, { startsAt: '2025-03-02T00:00:00Z', recurrency: 'weekly', periods: [{ startOffsetS: 0, limit: 16 }, { startOffsetS: 604800, limit: 8 }] }, /^\$\.periods\[1\]\.startOffsetS .*below 604800/);
  invalidMessage(t, { periods: [{ startOffsetS: 0, limit: 1e300 }] }, /^\$\.periods\[0\]\.limit must be a number from 0 to 3000 A, got 1e\+300/);
  invalidMessage(t, { periods: [{ startOffsetS: 0, limit: 3000.1 }] }, /^\$\.periods\[0\]\.limit must be a number from 0 to 3000 A/);
  invalidMessage(t, { unit: 'W', periods: [{ startOffsetS: 0, limit: 3_750_000.1 }] }, /^\$\.periods\[0\]\.limit must be a number from 0 to 3750000 W/);
  invalidMessage(t, { periods: [{ startOffsetS: 0, limit: 0.1 + 0.2 }] }, /more than one decimal/);
  invalidMessage(t, { periods: [{ startOffsetS: 0, limit: 16, phases: 2 ** 40 }] }, /^\$\.periods\[0\]\.phases must be 1, 2 or 3/);
  invalidMessage(t, { periods: Array.from({ length: 1025 }, (_, i) => ({ startOffsetS: i, limit: 16 })) }, /^\$\.periods holds 1025 entries, at most 1024/);
  invalidMessage(t, { scheduleId: 'x'.repeat(129) }, /^\$\.scheduleId is longer than 128/);
  const edge = parseSetSchedule(body({ unit: 'W', periods: [{ startOffsetS: 0, limit: 3_750_000 }, { startOffsetS: 60, limit: 0 }, { startOffsetS: 120, limit: 7400.5 }] }), NOW);
  t.same(edge.periods.map((period) => period.limit), [3_750_000, 0, 7400.5], 'the bounds themselves and one decimal pass');
});

t.test('the schema check of what is sent: 32-bit integers and real dates, whatever the caller', async (t) => {
  const payload = (connectorId: number, startSchedule: string): unknown => ({
    connectorId,
    csChargingProfiles: {
      chargingProfileId: 1,
      stackLevel: 0,
      chargingProfilePurpose: 'TxDefaultProfile',
      chargingProfileKind: 'Absolute',
      chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 16 }], startSchedule },
    },
  });
  t.same(requestProblems('ocpp1.6', 'SetChargingProfile', payload(2_147_483_647, '2030-03-01T00:00:00Z')), [], 'int32 max, a real date');
  t.match(requestProblems('ocpp1.6', 'SetChargingProfile', payload(2 ** 53, '2030-03-01T00:00:00Z')).join(' '), /\/connectorId must be <= 2147483647/);
  t.match(requestProblems('ocpp1.6', 'SetChargingProfile', payload(1, '2030-02-31T00:00:00Z')).join(' '), /startSchedule must match format "date-time"/);
  t.match(requestProblems('ocpp2.0.1', 'ClearChargingProfile', { chargingProfileId: -(2 ** 31) - 1 }).join(' '), /chargingProfileId must be >= -2147483648/);
  t.throws(() => setChargingProfileCall('ocpp2.0.1', spec({ periods: [{ startOffsetS: 0, limit: 16 }, { startOffsetS: 2 ** 31, limit: 8 }] }), identity), ProfileConversionError, 'a spec built by hand cannot slip an int64 past the check either');
});

t.test('clear-schedule body', async (t) => {
  t.equal(parseClearSchedule({ id: 'c2', scheduleId: 's1' }), 's1');
  t.throws(() => parseClearSchedule({ id: 'c2' }), { ackCode: 'invalid_argument', message: /scheduleId/ });
  t.throws(() => parseClearSchedule({ id: 'c2', scheduleId: 's1', stationId: 'x' }), { ackCode: 'invalid_argument', message: /unknown field \$\.stationId/ });
});

function spec(overrides: Partial<ScheduleSpec> = {}): ScheduleSpec {
  return {
    scheduleId: 's1',
    stationId: 'CP-1',
    connectorId: 0,
    purpose: 'max',
    unit: 'A',
    startsAt: null,
    validUntil: null,
    recurrency: null,
    periods: [{ startOffsetS: 0, limit: 16 }],
    ...overrides,
  };
}

t.test('1.6 conversion: purposes, kinds, schema-valid', async (t) => {
  const max = setChargingProfileCall('ocpp1.6', spec({ validUntil: '2025-04-01T00:00:00.000Z', periods: [{ startOffsetS: 0, limit: 16.3, phases: 3 }] }), identity);
  t.equal(max.action, 'SetChargingProfile');
  t.same(max.payload, {
    connectorId: 0,
    csChargingProfiles: {
      chargingProfileId: 900001,
      stackLevel: 8,
      chargingProfileKind: 'Absolute',
      validTo: '2025-04-01T00:00:00.000Z',
      chargingProfilePurpose: 'ChargePointMaxProfile',
      chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 16.3, numberPhases: 3 }], startSchedule: identity.acceptedAt },
    },
  });
  t.ok(independent['ocpp1.6'].validate('urn:SetChargingProfile.req', max.payload), 'ocpp-rpc accepts it');

  const relative = setChargingProfileCall('ocpp1.6', spec({ purpose: 'default', connectorId: 1 }), identity);
  const profile = (relative.payload as { csChargingProfiles: Record<string, unknown> }).csChargingProfiles;
  t.equal(profile['chargingProfilePurpose'], 'TxDefaultProfile');
  t.equal(profile['chargingProfileKind'], 'Relative');
  t.notOk('startSchedule' in (profile['chargingSchedule'] as object), 'a relative schedule has no startSchedule');

  const recurring = setChargingProfileCall('ocpp1.6', spec({ purpose: 'default', startsAt: '2025-03-02T00:00:00.000Z', recurrency: 'weekly' }), identity);
  const weekly = (recurring.payload as { csChargingProfiles: Record<string, unknown> }).csChargingProfiles;
  t.equal(weekly['chargingProfileKind'], 'Recurring');
  t.equal(weekly['recurrencyKind'], 'Weekly');
  t.equal((weekly['chargingSchedule'] as Record<string, unknown>)['startSchedule'], '2025-03-02T00:00:00.000Z');
  t.ok(independent['ocpp1.6'].validate('urn:SetChargingProfile.req', recurring.payload));

  t.same(clearChargingProfileCall('ocpp1.6', 900001), { action: 'ClearChargingProfile', payload: { id: 900001 } });
});

t.test('2.0.1 conversion: evseId, schedule array, no Relative station maximum', async (t) => {
  const max = setChargingProfileCall('ocpp2.0.1', spec({ unit: 'W', periods: [{ startOffsetS: 0, limit: 22000 }, { startOffsetS: 1800, limit: 11000, phases: 1 }] }), identity);
  t.same(max.payload, {
    evseId: 0,
    chargingProfile: {
      id: 900001,
      stackLevel: 8,
      chargingProfileKind: 'Absolute',
      chargingProfilePurpose: 'ChargingStationMaxProfile',
      chargingSchedule: [
        {
          id: 900001,
          chargingRateUnit: 'W',
          chargingSchedulePeriod: [
            { startPeriod: 0, limit: 22000 },
            { startPeriod: 1800, limit: 11000, numberPhases: 1 },
          ],
          startSchedule: identity.acceptedAt,
        },
      ],
    },
  });
  t.ok(independent['ocpp2.0.1'].validate('urn:SetChargingProfile.req', max.payload), 'ocpp-rpc accepts it');

  const relative = setChargingProfileCall('ocpp2.0.1', spec({ purpose: 'default', connectorId: 2 }), identity);
  const payload = relative.payload as { evseId: number; chargingProfile: { chargingProfileKind: string; chargingSchedule: Array<Record<string, unknown>> } };
  t.equal(payload.evseId, 2);
  t.equal(payload.chargingProfile.chargingProfileKind, 'Relative');
  t.notOk('startSchedule' in (payload.chargingProfile.chargingSchedule[0] ?? {}), 'K01.FR.41');

  const daily = setChargingProfileCall('ocpp2.0.1', spec({ startsAt: '2025-03-02T00:00:00.000Z', recurrency: 'daily', validUntil: '2025-06-01T00:00:00.000Z' }), identity);
  t.match(daily.payload, { chargingProfile: { chargingProfileKind: 'Recurring', recurrencyKind: 'Daily', validTo: '2025-06-01T00:00:00.000Z', chargingSchedule: [{ startSchedule: '2025-03-02T00:00:00.000Z' }] } });
  t.ok(independent['ocpp2.0.1'].validate('urn:SetChargingProfile.req', daily.payload));
  t.notMatch(JSON.stringify([max, relative, daily]), /ExternalConstraints/);

  t.same(clearChargingProfileCall('ocpp2.0.1', 900001), { action: 'ClearChargingProfile', payload: { chargingProfileId: 900001 } });
  t.same(clearChargingProfileCall('ocpp2.1', 900001).payload, { chargingProfileId: 900001 }, '2.1 uses its own schema file');
});

t.test('a payload the official schema refuses is never returned', async (t) => {
  // The command parser stops these; the conversion checks again, so nothing off-schema can leave.
  const error = t.throws(() => setChargingProfileCall('ocpp1.6', spec({ periods: [{ startOffsetS: 0, limit: 16.25 }] }), identity)) as unknown;
  t.ok(error instanceof ProfileConversionError);
  t.match((error as ProfileConversionError).message, /does not pass the official schema/);
  t.throws(() => setChargingProfileCall('ocpp2.0.1', spec({ periods: [] }), identity), ProfileConversionError, '2.0.1 minItems 1');
  t.throws(() => setChargingProfileCall('', spec(), identity), { message: /schedules need OCPP 1.6 or 2.x/ });
  t.same(requestProblems('ocpp1.6', 'ClearChargingProfile', { id: 'x' }).length, 1);
  t.match(requestProblems('ocpp2.0.1', 'SetChargingProfile', { evseId: 0, chargingProfile: { id: 1 } }).join(' '), /required/);
  t.match(requestProblems('ocpp1.6', 'SetChargingProfile', { connectorId: 0, csChargingProfiles: { chargingProfileId: 1, stackLevel: 0, chargingProfilePurpose: 'TxDefaultProfile', chargingProfileKind: 'Absolute', validTo: 'tomorrow', chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [] } } }).join(' '), /date-time/);
});

t.test('which CPMS ClearChargingProfile requests can have removed the gateway profile', async (t) => {
  const record = { ...spec({ purpose: 'default', connectorId: 1 }), profileId: 900001 } as ScheduleRecord;
  t.ok(clearRequestMatches('ocpp1.6', {}, record, 8), 'no criteria clears everything');
  t.ok(clearRequestMatches('ocpp1.6', { id: 900001 }, record, 8));
  t.notOk(clearRequestMatches('ocpp1.6', { id: 12 }, record, 8), 'another profile by id');
  t.ok(clearRequestMatches('ocpp1.6', { connectorId: 1, chargingProfilePurpose: 'TxDefaultProfile' }, record, 8));
  t.notOk(clearRequestMatches('ocpp1.6', { chargingProfilePurpose: 'TxProfile' }, record, 8));
  t.notOk(clearRequestMatches('ocpp1.6', { stackLevel: 0 }, record, 8));
  t.ok(clearRequestMatches('ocpp2.0.1', {}, record, 8));
  t.ok(clearRequestMatches('ocpp2.0.1', { chargingProfileCriteria: { evseId: 1, stackLevel: 8 } }, record, 8));
  t.notOk(clearRequestMatches('ocpp2.0.1', { chargingProfileCriteria: { evseId: 0 } }, record, 8));
  t.notOk(clearRequestMatches('ocpp2.0.1', { chargingProfileId: 5 }, record, 8));
  t.ok(clearRequestMatches('ocpp2.0.1', 'garbage', record, 8), 'unreadable counts as a match');
});
