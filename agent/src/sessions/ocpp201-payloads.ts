/**
 * The OCPP 2.0.1 payloads the session logic reads (2.0, 2.0.1 and 2.1 share
 * these fields), checked by hand: only the fields used here. Text that is
 * stored or published is bounded to its 2.x type (bounded-text.ts);
 * `overlong` names the fields that were cut.
 */
import { isLongerThan, OCPP201_STATION_MAX, OCPP201_TRANSACTION_ID_MAX, OCPP_ENUMERATION_MAX, TextBounds, type Overlong } from './bounded-text.js';
import { readEnergy, type EnergyReading } from './energy-readings.js';
import { isInteger, isNonEmptyString, isObject, isOptionalString, parsed, problem, toIsoTime, type JsonObject, type Parsed } from './payload-guards.js';

export type TransactionEventType = 'Started' | 'Updated' | 'Ended';

export interface TransactionEvent201 extends Overlong {
  readonly eventType: TransactionEventType;
  readonly at: string;
  readonly seqNo: number;
  /** Happened while the station was offline, delivered later (2.0.1 E11, E12). */
  readonly offline: boolean;
  readonly transactionId: string;
  readonly stoppedReason: string | undefined;
  /** The badge, on the event where authorization happened; undefined when absent or empty (`NoAuthorization`). */
  readonly idToken: string | undefined;
  readonly evseId: number | undefined;
  readonly connectorId: number | undefined;
  readonly readings: readonly EnergyReading[];
}

export interface StatusNotification201 extends Overlong {
  readonly evseId: number;
  readonly connectorId: number;
  readonly status: string;
  readonly at: string;
}

export interface BootNotification201 extends Overlong {
  readonly reason: string;
  readonly vendor: string;
  readonly model: string;
  readonly serialNumber: string | undefined;
  readonly firmwareVersion: string | undefined;
}

function isEventType(value: unknown): value is TransactionEventType {
  return value === 'Started' || value === 'Updated' || value === 'Ended';
}

/**
 * IdTokenType: `{idToken, type}`; the token is case-insensitive (the driver
 * lookup folds case). Bounded to `max` (2.0.1: 36, 2.1: 255, `idTokenMaxOf`)
 * when `bounds` is given.
 */
function readIdToken(value: unknown, bounds?: TextBounds, max?: number): Parsed<string | undefined> {
  if (value === undefined) return parsed(undefined);
  if (!isObject(value) || typeof value.idToken !== 'string') return problem('idToken.idToken is not a string');
  if (value.idToken.trim() === '') return parsed(undefined);
  return parsed(bounds === undefined || max === undefined ? value.idToken : bounds.text('idToken.idToken', value.idToken, max));
}

/** C01 AuthorizeRequest: the badge is only looked up, never kept, so it is not bounded. */
export function parseAuthorize201(payload: unknown): Parsed<{ readonly idToken: string | undefined }> {
  if (!isObject(payload)) return problem('payload is not an object');
  const idToken = readIdToken(payload.idToken);
  if (!idToken.ok) return idToken;
  if (payload.idToken === undefined) return problem('idToken is missing');
  return parsed({ idToken: idToken.value });
}

/**
 * TransactionEventRequest (2.0.1 functional block E). `idTokenMax` is the
 * IdTokenType.idToken maximum of the station's version (`idTokenMaxOf`).
 */
export function parseTransactionEvent201(payload: unknown, idTokenMax: number): Parsed<TransactionEvent201> {
  if (!isObject(payload)) return problem('payload is not an object');
  const { eventType, seqNo, offline, transactionInfo, evse } = payload;
  if (!isEventType(eventType)) return problem('eventType is not Started, Updated or Ended');
  const at = toIsoTime(payload.timestamp);
  if (at === undefined) return problem('timestamp is not a date-time');
  if (!isInteger(seqNo)) return problem('seqNo is not an integer');
  if (offline !== undefined && typeof offline !== 'boolean') return problem('offline is not a boolean');
  if (!isObject(transactionInfo) || !isNonEmptyString(transactionInfo.transactionId)) return problem('transactionInfo.transactionId is missing');
  // The session's key: cut, two different ids could name one session, so an over-long one is not recorded at all.
  if (isLongerThan(transactionInfo.transactionId, OCPP201_TRANSACTION_ID_MAX)) {
    return problem(`transactionInfo.transactionId is longer than ${OCPP201_TRANSACTION_ID_MAX} characters (identifierString[0..${OCPP201_TRANSACTION_ID_MAX}])`);
  }
  if (!isOptionalString(transactionInfo.stoppedReason)) return problem('transactionInfo.stoppedReason is not a string');
  const place = readEvse(evse);
  if (!place.ok) return place;
  const bounds = new TextBounds();
  const idToken = readIdToken(payload.idToken, bounds, idTokenMax);
  if (!idToken.ok) return idToken;
  const readings = readEnergy(payload.meterValue, '2.0.1');
  if (!readings.ok) return readings;
  return parsed({
    eventType,
    at,
    seqNo,
    offline: offline === true,
    transactionId: transactionInfo.transactionId,
    stoppedReason: bounds.optional('transactionInfo.stoppedReason', transactionInfo.stoppedReason, OCPP_ENUMERATION_MAX),
    idToken: idToken.value,
    evseId: place.value?.id,
    connectorId: place.value?.connectorId,
    readings: readings.value,
    overlong: bounds.cut,
  });
}

function readEvse(evse: unknown): Parsed<{ readonly id: number; readonly connectorId: number | undefined } | undefined> {
  if (evse === undefined) return parsed(undefined);
  if (!isObject(evse) || !isInteger(evse.id)) return problem('evse.id is not an integer');
  if (evse.connectorId !== undefined && !isInteger(evse.connectorId)) return problem('evse.connectorId is not an integer');
  return parsed({ id: evse.id, connectorId: evse.connectorId });
}

/** TransactionEventResponse: the CSMS's verdict on the idToken, when the event carried one. */
export function parseTransactionEventResult201(payload: unknown): Parsed<{ readonly idTokenStatus: string | undefined } & Overlong> {
  if (!isObject(payload)) return problem('payload is not an object');
  const info: unknown = payload.idTokenInfo;
  if (info === undefined) return parsed({ idTokenStatus: undefined, overlong: [] });
  if (!isObject(info) || !isNonEmptyString(info.status)) return problem('idTokenInfo.status is missing');
  const bounds = new TextBounds();
  const idTokenStatus = bounds.text('idTokenInfo.status', info.status, OCPP_ENUMERATION_MAX);
  return parsed({ idTokenStatus, overlong: bounds.cut });
}

/** G01 StatusNotificationRequest: every field required. */
export function parseStatusNotification201(payload: unknown): Parsed<StatusNotification201> {
  if (!isObject(payload)) return problem('payload is not an object');
  const { evseId, connectorId, connectorStatus } = payload;
  if (!isInteger(evseId)) return problem('evseId is not an integer');
  if (!isInteger(connectorId)) return problem('connectorId is not an integer');
  if (!isNonEmptyString(connectorStatus)) return problem('connectorStatus is not a string');
  const at = toIsoTime(payload.timestamp);
  if (at === undefined) return problem('timestamp is not a date-time');
  const bounds = new TextBounds();
  const status = bounds.text('connectorStatus', connectorStatus, OCPP_ENUMERATION_MAX);
  return parsed({ evseId, connectorId, status, at, overlong: bounds.cut });
}

/** B01 BootNotificationRequest: the station's identity is under `chargingStation`. */
export function parseBootNotification201(payload: unknown): Parsed<BootNotification201> {
  if (!isObject(payload)) return problem('payload is not an object');
  const station: unknown = payload.chargingStation;
  if (!isNonEmptyString(payload.reason)) return problem('reason is not a string');
  if (!isObject(station)) return problem('chargingStation is not an object');
  return readStation(payload.reason, station);
}

function readStation(reason: string, station: JsonObject): Parsed<BootNotification201> {
  const { vendorName, model, serialNumber, firmwareVersion } = station;
  if (typeof vendorName !== 'string') return problem('chargingStation.vendorName is not a string');
  if (typeof model !== 'string') return problem('chargingStation.model is not a string');
  if (!isOptionalString(serialNumber)) return problem('chargingStation.serialNumber is not a string');
  if (!isOptionalString(firmwareVersion)) return problem('chargingStation.firmwareVersion is not a string');
  const bounds = new TextBounds();
  return parsed({
    reason: bounds.text('reason', reason, OCPP_ENUMERATION_MAX),
    vendor: bounds.text('chargingStation.vendorName', vendorName, OCPP201_STATION_MAX.vendorName),
    model: bounds.text('chargingStation.model', model, OCPP201_STATION_MAX.model),
    serialNumber: bounds.optional('chargingStation.serialNumber', serialNumber, OCPP201_STATION_MAX.serialNumber),
    firmwareVersion: bounds.optional('chargingStation.firmwareVersion', firmwareVersion, OCPP201_STATION_MAX.firmwareVersion),
    overlong: bounds.cut,
  });
}
