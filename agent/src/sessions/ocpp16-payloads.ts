/**
 * The OCPP 1.6 payloads the session logic reads (OCPP 1.6 section 6), checked
 * by hand: only the fields used here, each with the type the schema gives.
 */
import { readEnergy, type EnergyReading } from './energy-readings.js';
import { isInteger, isNonEmptyString, isObject, isOptionalString, parsed, problem, toIsoTime, type Parsed } from './payload-guards.js';

export interface StartTransaction16 {
  readonly connectorId: number;
  readonly idTag: string;
  readonly meterStartWh: number;
  readonly startedAt: string;
}

export interface StartTransactionResult16 {
  readonly transactionId: number;
  readonly idTagStatus: string;
}

export interface StopTransaction16 {
  readonly transactionId: number;
  readonly idTag: string | undefined;
  readonly meterStopWh: number;
  readonly stoppedAt: string;
  readonly reason: string | undefined;
  readonly readings: readonly EnergyReading[];
}

export interface MeterValues16 {
  readonly connectorId: number;
  readonly transactionId: number | undefined;
  readonly readings: readonly EnergyReading[];
}

export interface StatusNotification16 {
  readonly connectorId: number;
  readonly status: string;
  readonly errorCode: string;
  readonly info: string | undefined;
  readonly at: string | undefined;
}

export interface BootNotification16 {
  readonly vendor: string;
  readonly model: string;
  readonly serialNumber: string | undefined;
  readonly firmwareVersion: string | undefined;
}

/** Section 6.1 Authorize.req. */
export function parseAuthorize16(payload: unknown): Parsed<{ readonly idTag: string }> {
  if (!isObject(payload)) return problem('payload is not an object');
  if (typeof payload.idTag !== 'string') return problem('idTag is not a string');
  return parsed({ idTag: payload.idTag });
}

/** Section 6.45 StartTransaction.req: meterStart is an integer in Wh. */
export function parseStartTransaction16(payload: unknown): Parsed<StartTransaction16> {
  if (!isObject(payload)) return problem('payload is not an object');
  const { connectorId, idTag, meterStart } = payload;
  if (!isInteger(connectorId)) return problem('connectorId is not an integer');
  if (typeof idTag !== 'string') return problem('idTag is not a string');
  if (!isInteger(meterStart)) return problem('meterStart is not an integer');
  const startedAt = toIsoTime(payload.timestamp);
  if (startedAt === undefined) return problem('timestamp is not a date-time');
  return parsed({ connectorId, idTag, meterStartWh: meterStart, startedAt });
}

/** Section 6.46 StartTransaction.conf: the transaction id is the CPMS's to choose. */
export function parseStartTransactionResult16(payload: unknown): Parsed<StartTransactionResult16> {
  if (!isObject(payload)) return problem('payload is not an object');
  const { transactionId, idTagInfo } = payload;
  if (!isInteger(transactionId)) return problem('transactionId is not an integer');
  if (!isObject(idTagInfo) || !isNonEmptyString(idTagInfo.status)) return problem('idTagInfo.status is missing');
  return parsed({ transactionId, idTagStatus: idTagInfo.status });
}

/** Section 6.49 StopTransaction.req: idTag and reason are optional; transactionData carries meter values. */
export function parseStopTransaction16(payload: unknown): Parsed<StopTransaction16> {
  if (!isObject(payload)) return problem('payload is not an object');
  const { transactionId, idTag, meterStop, reason } = payload;
  if (!isInteger(transactionId)) return problem('transactionId is not an integer');
  if (!isInteger(meterStop)) return problem('meterStop is not an integer');
  if (!isOptionalString(idTag)) return problem('idTag is not a string');
  if (!isOptionalString(reason)) return problem('reason is not a string');
  const stoppedAt = toIsoTime(payload.timestamp);
  if (stoppedAt === undefined) return problem('timestamp is not a date-time');
  const readings = readEnergy(payload.transactionData, '1.6');
  if (!readings.ok) return problem(`transactionData: ${readings.problem}`);
  return parsed({ transactionId, idTag, meterStopWh: meterStop, stoppedAt, reason, readings: readings.value });
}

/** Section 6.31 MeterValues.req: transactionId only while a transaction runs on the connector. */
export function parseMeterValues16(payload: unknown): Parsed<MeterValues16> {
  if (!isObject(payload)) return problem('payload is not an object');
  const { connectorId, transactionId } = payload;
  if (!isInteger(connectorId)) return problem('connectorId is not an integer');
  if (transactionId !== undefined && !isInteger(transactionId)) return problem('transactionId is not an integer');
  const readings = readEnergy(payload.meterValue, '1.6');
  if (!readings.ok) return readings;
  return parsed({ connectorId, transactionId, readings: readings.value });
}

/** Section 6.47 StatusNotification.req: the timestamp is optional. */
export function parseStatusNotification16(payload: unknown): Parsed<StatusNotification16> {
  if (!isObject(payload)) return problem('payload is not an object');
  const { connectorId, status, errorCode, info, timestamp } = payload;
  if (!isInteger(connectorId)) return problem('connectorId is not an integer');
  if (!isNonEmptyString(status)) return problem('status is not a string');
  if (!isNonEmptyString(errorCode)) return problem('errorCode is not a string');
  if (!isOptionalString(info)) return problem('info is not a string');
  const at = timestamp === undefined ? undefined : toIsoTime(timestamp);
  if (timestamp !== undefined && at === undefined) return problem('timestamp is not a date-time');
  return parsed({ connectorId, status, errorCode, info, at });
}

/** Section 6.3 BootNotification.req: chargeBoxSerialNumber is the deprecated name of the serial. */
export function parseBootNotification16(payload: unknown): Parsed<BootNotification16> {
  if (!isObject(payload)) return problem('payload is not an object');
  const { chargePointVendor, chargePointModel, chargePointSerialNumber, chargeBoxSerialNumber, firmwareVersion } = payload;
  if (typeof chargePointVendor !== 'string') return problem('chargePointVendor is not a string');
  if (typeof chargePointModel !== 'string') return problem('chargePointModel is not a string');
  if (!isOptionalString(chargePointSerialNumber) || !isOptionalString(chargeBoxSerialNumber)) return problem('serial number is not a string');
  if (!isOptionalString(firmwareVersion)) return problem('firmwareVersion is not a string');
  return parsed({
    vendor: chargePointVendor,
    model: chargePointModel,
    serialNumber: chargePointSerialNumber ?? chargeBoxSerialNumber,
    firmwareVersion,
  });
}
