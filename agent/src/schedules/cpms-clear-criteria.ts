import { ocppFamilyOf } from '../ocpp/ocpp-version.js';
import type { ScheduleRecord } from './schedule-records.js';

/**
 * Whether a CPMS's ClearChargingProfile request can have removed the
 * gateway's profile for this schedule (docs/ocpp-notes.md "Smart charging":
 * with no criteria it clears every profile, the gateway's too).
 *
 * - 1.6 section 6.9: `id` names one profile; otherwise `connectorId`,
 *   `chargingProfilePurpose` and `stackLevel` are criteria that must all match.
 * - 2.0.1 K10: `chargingProfileId`, or `chargingProfileCriteria` with
 *   `evseId`, `chargingProfilePurpose`, `stackLevel`.
 *
 * A payload that cannot be read counts as a match: re-applying a profile the
 * station still holds costs one call; missing one leaves a site unlimited.
 */
export function clearRequestMatches(protocol: string, request: unknown, schedule: ScheduleRecord, stackLevel: number): boolean {
  if (typeof request !== 'object' || request === null) return true;
  const fields = request as Record<string, unknown>;
  const family = ocppFamilyOf(protocol);
  if (family === '1.6') {
    if (fields['id'] !== undefined) return fields['id'] === schedule.profileId;
    return criteriaMatch(fields['connectorId'], fields['chargingProfilePurpose'], fields['stackLevel'], schedule, stackLevel, 'ChargePointMaxProfile');
  }
  if (family === '2.0.1') {
    if (fields['chargingProfileId'] !== undefined) return fields['chargingProfileId'] === schedule.profileId;
    const criteria = fields['chargingProfileCriteria'];
    if (criteria === undefined) return true;
    if (typeof criteria !== 'object' || criteria === null) return true;
    const c = criteria as Record<string, unknown>;
    return criteriaMatch(c['evseId'], c['chargingProfilePurpose'], c['stackLevel'], schedule, stackLevel, 'ChargingStationMaxProfile');
  }
  return true;
}

function criteriaMatch(place: unknown, purpose: unknown, level: unknown, schedule: ScheduleRecord, stackLevel: number, maxPurpose: string): boolean {
  if (place !== undefined && place !== schedule.connectorId) return false;
  if (purpose !== undefined && purpose !== (schedule.purpose === 'max' ? maxPurpose : 'TxDefaultProfile')) return false;
  if (level !== undefined && level !== stackLevel) return false;
  return true;
}
