/**
 * The OCPP 1.6 payloads the session logic reads (OCPP 1.6 section 6), checked
 * by hand: only the fields used here, each with the type the schema gives.
 * Text that is stored or published is bounded to its 1.6 type
 * (bounded-text.ts); `overlong` names the fields that were cut.
 */
import { OCPP16_BOOT_MAX, OCPP16_ID_TAG_MAX, OCPP16_STATUS_INFO_MAX, OCPP_ENUMERATION_MAX, TextBounds, type Overlong } from './bounded-text.js';
import { readEnergy, type EnergyReading } from './energy-readings.js';
import { isInteger, isNonEmptyString, isObject, isOptionalString, parsed, problem, toIsoTime, type Parsed } from './payload-guards.js';

export interface StartTransaction16 extends Overlong {
  readonly connectorId: number;
  readonly idTag: string;
  readonly meterStartWh: number;
  readonly startedAt: string;
}

export interface StartTransactionResult16 extends Overlong {
  readonly transactionId: number;
  readonly idTagStatus: string;
}

export interface StopTransaction16 extends Overlong {
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

export interface StatusNotification16 extends Overlong {
  readonly connectorId: number;
  readonly status: string;
  readonly errorCode: string;
  readonly info: string | undefined;
  readonly at: string | undefined;
}

export interface BootNotification16 extends Overlong {
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
  const bounds = new TextBounds();
  const bounded = bounds.text('idTag', idTag, OCPP16_ID_TAG_MAX);
  return parsed({ connectorId, idTag: bounded, meterStartWh: meterStart, startedAt, overlong: bounds.cut });
}

/** Section 6.46 StartTransaction.conf: the transaction id is the CPMS's to choose. */
export function parseStartTransactionResult16(payload: unknown): Parsed<StartTransactionResult16> {
  if (!isObject(payload)) return problem('payload is not an object');
  const { transactionId, idTagInfo } = payload;
  if (!isInteger(transactionId)) return problem('transactionId is not an integer');
  if (!isObject(idTagInfo) || !isNonEmptyString(idTagInfo.status)) return problem('idTagInfo.status is missing');
  const bounds = new TextBounds();
  const idTagStatus = bounds.text('idTagInfo.status', idTagInfo.status, OCPP_ENUMERATION_MAX);
  return parsed({ transactionId, idTagStatus, overlong: bounds.cut });
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
  // idTag is not kept (the session keeps the badge of its start); the reason is.
  const bounds = new TextBounds();
  const boundedReason = bounds.optional('reason', reason, OCPP_ENUMERATION_MAX);
  return parsed({ transactionId, idTag, meterStopWh: meterStop, stoppedAt, reason: boundedReason, readings: readings.value, overlong: bounds.cut });
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
  const bounds = new TextBounds();
  return parsed({
    connectorId,
    status: bounds.text('status', status, OCPP_ENUMERATION_MAX),
    errorCode: bounds.text('errorCode', errorCode, OCPP_ENUMERATION_MAX),
    info: bounds.optional('info', info, OCPP16_STATUS_INFO_MAX),
    at,
    overlong: bounds.cut,
  });
}

/** Section 6.3 BootNotification.req: chargeBoxSerialNumber is the deprecated name of the serial. */
export function parseBootNotification16(payload: unknown): Parsed<BootNotification16> {
  if (!isObject(payload)) return problem('payload is not an object');
  const { chargePointVendor, chargePointModel, chargePointSerialNumber, chargeBoxSerialNumber, firmwareVersion } = payload;
  if (typeof chargePointVendor !== 'string') return problem('chargePointVendor is not a string');
  if (typeof chargePointModel !== 'string') return problem('chargePointModel is not a string');
  if (!isOptionalString(chargePointSerialNumber) || !isOptionalString(chargeBoxSerialNumber)) return problem('serial number is not a string');
  if (!isOptionalString(firmwareVersion)) return problem('firmwareVersion is not a string');
  const bounds = new TextBounds();
  return parsed({
    vendor: bounds.text('chargePointVendor', chargePointVendor, OCPP16_BOOT_MAX.chargePointVendor),
    model: bounds.text('chargePointModel', chargePointModel, OCPP16_BOOT_MAX.chargePointModel),
    serialNumber: bounds.optional('chargePointSerialNumber', chargePointSerialNumber ?? chargeBoxSerialNumber, OCPP16_BOOT_MAX.chargePointSerialNumber),
    firmwareVersion: bounds.optional('firmwareVersion', firmwareVersion, OCPP16_BOOT_MAX.firmwareVersion),
    overlong: bounds.cut,
  });
}
