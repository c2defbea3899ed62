import type { OcppFamily } from '../ocpp/ocpp-version.js';
import { isInteger, isObject, parsed, problem, toIsoTime, type Parsed } from './payload-guards.js';

/** One reading of the energy register, in Wh, at the station's sample time. */
export interface EnergyReading {
  readonly wh: number;
  readonly at: string;
}

/** The measurand a sampled value has when it names none (1.6 SampledValue, 2.0.1 SampledValueType). */
const ENERGY_REGISTER = 'Energy.Active.Import.Register';

/**
 * The energy register readings in a `meterValue` array (1.6 MeterValues and
 * StopTransaction.transactionData; 2.x MeterValues and TransactionEvent). Per
 * MeterValue the first sampled value that is the import register, for the
 * whole connector (no `phase`), at the outlet, and in Wh or kWh. Other
 * measurands are skipped; a structure that is not OCPP is a problem.
 */
export function readEnergy(meterValue: unknown, family: OcppFamily): Parsed<EnergyReading[]> {
  if (meterValue === undefined) return parsed([]);
  if (!Array.isArray(meterValue)) return problem('meterValue is not an array');
  const readings: EnergyReading[] = [];
  for (const [index, entry] of meterValue.entries()) {
    if (!isObject(entry)) return problem(`meterValue[${index}] is not an object`);
    const at = toIsoTime(entry.timestamp);
    if (at === undefined) return problem(`meterValue[${index}].timestamp is not a date-time`);
    if (!Array.isArray(entry.sampledValue)) return problem(`meterValue[${index}].sampledValue is not an array`);
    for (const [sampleIndex, sample] of entry.sampledValue.entries()) {
      if (!isObject(sample)) return problem(`meterValue[${index}].sampledValue[${sampleIndex}] is not an object`);
      const wh = family === '1.6' ? energyWh16(sample) : energyWh201(sample);
      if (wh === 'invalid') return problem(`meterValue[${index}].sampledValue[${sampleIndex}].value is not a number`);
      if (wh === undefined) continue;
      readings.push({ wh, at });
      break;
    }
  }
  return parsed(readings);
}

function isTotalImportAtOutlet(sample: { readonly [key: string]: unknown }): boolean {
  const measurand = sample.measurand ?? ENERGY_REGISTER;
  const location = sample.location ?? 'Outlet';
  return measurand === ENERGY_REGISTER && sample.phase === undefined && location === 'Outlet';
}

/** 1.6 SampledValue: `value` is a string; `unit` Wh (default) or kWh; signed data is not a reading. */
function energyWh16(sample: { readonly [key: string]: unknown }): number | undefined | 'invalid' {
  if (!isTotalImportAtOutlet(sample) || sample.format === 'SignedData') return undefined;
  if (typeof sample.value !== 'string' || sample.value.trim() === '') return 'invalid';
  const value = Number(sample.value);
  if (!Number.isFinite(value)) return 'invalid';
  const unit = sample.unit ?? 'Wh';
  if (unit === 'Wh') return roundWh(value);
  if (unit === 'kWh') return roundWh(value * 1000);
  return undefined;
}

/** 2.x SampledValue: `value` is a number; unitOfMeasure `unit` Wh (default) or kWh, `multiplier` a power of ten. */
function energyWh201(sample: { readonly [key: string]: unknown }): number | undefined | 'invalid' {
  if (!isTotalImportAtOutlet(sample)) return undefined;
  if (typeof sample.value !== 'number' || !Number.isFinite(sample.value)) return 'invalid';
  const unitOfMeasure = isObject(sample.unitOfMeasure) ? sample.unitOfMeasure : {};
  const unit = unitOfMeasure.unit ?? 'Wh';
  const multiplier = unitOfMeasure.multiplier ?? 0;
  if (!isInteger(multiplier)) return 'invalid';
  const scale = 10 ** multiplier;
  if (unit === 'Wh') return roundWh(sample.value * scale);
  if (unit === 'kWh') return roundWh(sample.value * scale * 1000);
  return undefined;
}

/** kWh with decimals times 1000 is not always exact in binary; a thousandth of a Wh is plenty. */
export function roundWh(value: number): number {
  return Math.round(value * 1000) / 1000;
}
