import { ocppFamilyOf } from '../ocpp/ocpp-version.js';
import { requestProblems } from './ocpp-request-schemas.js';
import type { ScheduleSpec } from './schedule-spec.js';

/**
 * A cloud schedule as the OCPP call its station understands (docs/ocpp-notes.md
 * "Smart charging"), checked against the official schema before anyone sends
 * it.
 *
 * Kind (1.6 section 3.13.3 and 7.13; 2.0.1 K01):
 * - `recurrency` given: Recurring, `recurrencyKind` Daily / Weekly, and
 *   `startSchedule` = `startsAt` (its anchor; 2.0.1 K01.FR.40 requires it).
 * - `startsAt` given: Absolute with `startSchedule` = `startsAt`.
 * - neither, purpose `default`: Relative without `startSchedule` (K01.FR.41):
 *   the periods count from the start of each transaction, which is what a
 *   TxDefaultProfile's relative schedule means in both versions.
 * - neither, purpose `max`: Absolute starting at `acceptedAt`, the moment the
 *   gateway accepted the command. A station maximum has no transaction to be
 *   relative to, and 2.0.1 K01.FR.38 forbids a Relative
 *   ChargingStationMaxProfile.
 *
 * Purpose: `default` → TxDefaultProfile; `max` → ChargePointMaxProfile (1.6) /
 * ChargingStationMaxProfile (2.0.1). Never ChargingStationExternalConstraints
 * (a CSMS, and so a Local Controller acting for it, may not send that one).
 * `validUntil` becomes `validTo`, so a station also drops an expired profile
 * by itself while the gateway cannot reach it. `connectorId` is the 1.6
 * connectorId and the 2.0.1 evseId.
 */
export interface ProfileIdentity {
  /** The gateway's chargingProfileId for this schedule (also the 2.0.1 chargingSchedule id). */
  readonly profileId: number;
  readonly stackLevel: number;
  /** When the gateway accepted the current version of the schedule (ISO 8601). */
  readonly acceptedAt: string;
}

export interface OcppCall {
  readonly action: string;
  readonly payload: Readonly<Record<string, unknown>>;
}

/** The payload does not fit the station's OCPP version; `problems` are the schema errors. */
export class ProfileConversionError extends Error {
  constructor(
    message: string,
    readonly problems: readonly string[],
  ) {
    super(message);
    this.name = 'ProfileConversionError';
  }
}

export function setChargingProfileCall(protocol: string, spec: ScheduleSpec, identity: ProfileIdentity): OcppCall {
  const family = ocppFamilyOf(protocol);
  if (family === undefined) throw new ProfileConversionError(`the station speaks ${protocol || 'no agreed subprotocol'}; schedules need OCPP 1.6 or 2.x`, []);
  const kind = profileKind(spec);
  const startSchedule = kind === 'Relative' ? undefined : (spec.startsAt ?? identity.acceptedAt);
  const periods = spec.periods.map((period) => ({
    startPeriod: period.startOffsetS,
    limit: period.limit,
    ...(period.phases === undefined ? {} : { numberPhases: period.phases }),
  }));
  const recurrencyKind = spec.recurrency === null ? undefined : spec.recurrency === 'daily' ? 'Daily' : 'Weekly';
  const common = {
    stackLevel: identity.stackLevel,
    chargingProfileKind: kind,
    ...(recurrencyKind === undefined ? {} : { recurrencyKind }),
    ...(spec.validUntil === null ? {} : { validTo: spec.validUntil }),
  };
  const payload =
    family === '1.6'
      ? {
          connectorId: spec.connectorId,
          csChargingProfiles: {
            chargingProfileId: identity.profileId,
            ...common,
            chargingProfilePurpose: spec.purpose === 'max' ? 'ChargePointMaxProfile' : 'TxDefaultProfile',
            chargingSchedule: {
              chargingRateUnit: spec.unit,
              chargingSchedulePeriod: periods,
              ...(startSchedule === undefined ? {} : { startSchedule }),
            },
          },
        }
      : {
          evseId: spec.connectorId,
          chargingProfile: {
            id: identity.profileId,
            ...common,
            chargingProfilePurpose: spec.purpose === 'max' ? 'ChargingStationMaxProfile' : 'TxDefaultProfile',
            chargingSchedule: [
              {
                id: identity.profileId,
                chargingRateUnit: spec.unit,
                chargingSchedulePeriod: periods,
                ...(startSchedule === undefined ? {} : { startSchedule }),
              },
            ],
          },
        };
  return checked(protocol, { action: 'SetChargingProfile', payload });
}

/** Removes exactly the gateway's profile: by id, so the CPMS's own profiles stay (1.6 `id`, 2.0.1 `chargingProfileId`). */
export function clearChargingProfileCall(protocol: string, profileId: number): OcppCall {
  const family = ocppFamilyOf(protocol);
  if (family === undefined) throw new ProfileConversionError(`the station speaks ${protocol || 'no agreed subprotocol'}; schedules need OCPP 1.6 or 2.x`, []);
  const payload = family === '1.6' ? { id: profileId } : { chargingProfileId: profileId };
  return checked(protocol, { action: 'ClearChargingProfile', payload });
}

export function profileKind(spec: ScheduleSpec): 'Absolute' | 'Recurring' | 'Relative' {
  if (spec.recurrency !== null) return 'Recurring';
  if (spec.startsAt !== null || spec.purpose === 'max') return 'Absolute';
  return 'Relative';
}

function checked(protocol: string, call: OcppCall): OcppCall {
  const problems = requestProblems(protocol, call.action, call.payload);
  if (problems.length > 0) {
    throw new ProfileConversionError(`${call.action} for ${protocol} does not pass the official schema: ${problems.join('; ')}`, problems);
  }
  return call;
}
