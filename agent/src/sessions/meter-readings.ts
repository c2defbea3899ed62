import { roundWh, type EnergyReading } from './energy-readings.js';
import type { SessionRecord } from './session-record.js';

type MeterFields = Pick<SessionRecord, 'meterStartWh' | 'meterStartAt' | 'lastMeterWh' | 'lastMeterAt'>;

/**
 * Fold energy readings into a session by the station's sample time, not by
 * arrival: readings replayed after an outage, or repeated, land where they
 * belong and never move the last reading backwards.
 *
 * `startFromReadings`: OCPP 2.x has no meterStart field, so the start is the
 * earliest reading seen (the `Transaction.Begin` one when the station sends
 * it, 2.0.1 SampledDataTxStartedMeasurands). 1.6 keeps StartTransaction's
 * meterStart.
 */
export function foldReadings<T extends MeterFields>(record: T, readings: readonly EnergyReading[], startFromReadings: boolean): T {
  let next = record;
  for (const reading of readings) {
    if (next.lastMeterAt === null || reading.at >= next.lastMeterAt) {
      next = { ...next, lastMeterWh: reading.wh, lastMeterAt: reading.at };
    }
    if (!startFromReadings) continue;
    if (next.meterStartAt === null || reading.at < next.meterStartAt) {
      next = { ...next, meterStartWh: reading.wh, meterStartAt: reading.at };
    }
  }
  return next;
}

/** Energy so far: the stop reading (once ended) or the last reading, minus the start. */
export function withEnergy<T extends MeterFields & Pick<SessionRecord, 'meterStopWh' | 'energyWh'>>(record: T): T {
  const end = record.meterStopWh ?? record.lastMeterWh;
  const energyWh = end === null || record.meterStartWh === null ? null : roundWh(end - record.meterStartWh);
  return energyWh === record.energyWh ? record : { ...record, energyWh };
}
