/**
 * How much of a station's text the gateway keeps. Every text field it stores
 * or publishes has a maximum length in the OCPP JSON schemas (`maxLength`,
 * counted in characters); a station may still send more, and a 10,000
 * character idTag would otherwise sit in the database, in every cloud event
 * and on the operator's screen.
 *
 * The frame itself is relayed unchanged, whatever it holds: the gateway is a
 * transparent proxy, and the CPMS decides whether it accepts the message.
 * What the gateway keeps of an over-long value is its first `max`
 * characters followed by `…` (U+2026). Kept rather than dropped: the start of
 * what a broken reader or firmware sent is what an installer needs to find
 * it. Marked: one character over the spec's maximum, such a value can never
 * be mistaken for one the spec allows, and it is never matched to a driver.
 * Each value cut is counted (`sessionValuesTruncated`) and logged, at most
 * once a minute (`SessionProblems.truncated`).
 */

import { OCPP16_ID_TAG_MAX, OCPP201_ID_TOKEN_MAX } from '../drivers/driver-csv.js';

// The badge maxima are the driver list's too: 1.6 idTag CiString20Type, 2.0.1 idToken identifierString[0..36].
export { OCPP16_ID_TAG_MAX, OCPP201_ID_TOKEN_MAX };

export const TRUNCATION_MARKER = '\u2026';

/** OCPP 2.1 raised IdTokenType.idToken to string[0..255]. */
export const OCPP21_ID_TOKEN_MAX = 255;

/** OCPP 1.6 BootNotification.req (section 6.3). */
export const OCPP16_BOOT_MAX = {
  chargePointVendor: 20, // CiString20Type
  chargePointModel: 20, // CiString20Type
  chargePointSerialNumber: 25, // CiString25Type (chargeBoxSerialNumber too)
  firmwareVersion: 50, // CiString50Type
} as const;

/** OCPP 2.0.1 ChargingStationType (2.0 and 2.1 alike). */
export const OCPP201_STATION_MAX = {
  vendorName: 50, // string[0..50]
  model: 20, // string[0..20]
  serialNumber: 25, // string[0..25]
  firmwareVersion: 50, // string[0..50]
} as const;

/** OCPP 1.6 StatusNotification.req `info`: CiString50Type (section 6.47). */
export const OCPP16_STATUS_INFO_MAX = 50;

/** OCPP 2.0.1 TransactionType.transactionId: identifierString[0..36] (2.1 alike). */
export const OCPP201_TRANSACTION_ID_MAX = 36;

/**
 * Enumerations the gateway stores as text (1.6 ChargePointStatus,
 * ChargePointErrorCode, Reason, AuthorizationStatus; 2.x ConnectorStatus,
 * ReasonEnumType, BootReasonEnumType, AuthorizationStatusEnumType). Their
 * longest value has 25 characters (ReqEnergyTransferRejected). The value is
 * not checked against the list, since a newer version may add values and the
 * CPMS decides; it is only bounded, generously.
 */
export const OCPP_ENUMERATION_MAX = 50;

/** The IdToken maximum of a negotiated subprotocol of the 2.x family. */
export function idTokenMaxOf(protocol: string): number {
  return protocol === 'ocpp2.1' ? OCPP21_ID_TOKEN_MAX : OCPP201_ID_TOKEN_MAX;
}

/** More than `max` characters, counted as the JSON schemas count them (code points). */
export function isLongerThan(value: string, max: number): boolean {
  // A UTF-16 length within the bound is always within it; only a longer one needs counting.
  if (value.length <= max) return false;
  let characters = 0;
  for (const _character of value) {
    characters += 1;
    if (characters > max) return true;
  }
  return false;
}

/** True for a value this module cut: it ends with the marker. */
export function isTruncated(value: string): boolean {
  return value.endsWith(TRUNCATION_MARKER);
}

/** On a parsed payload: the fields whose text was longer than its OCPP type allows, and was cut (empty: none). */
export interface Overlong {
  readonly overlong: readonly string[];
}

/**
 * Bounds the text fields of one payload to their OCPP maximum and remembers
 * which were cut, by field name, for the log.
 */
export class TextBounds {
  readonly cut: string[] = [];

  text(field: string, value: string, max: number): string {
    // Characters as the JSON schemas count them (code points), never splitting a surrogate pair;
    // a UTF-16 length within the bound is always within it.
    if (value.length <= max) return value;
    let characters = 0;
    let end = 0;
    for (const character of value) {
      if (characters === max) {
        this.cut.push(field);
        return `${value.slice(0, end)}${TRUNCATION_MARKER}`;
      }
      characters += 1;
      end += character.length;
    }
    return value;
  }

  optional(field: string, value: string | undefined, max: number): string | undefined {
    return value === undefined ? undefined : this.text(field, value, max);
  }
}
