/**
 * Hand-written checks for the few OCPP payloads the session logic reads. The
 * relay never depends on them: a payload that fails is still relayed as is
 * (the CPMS decides), and only the session bookkeeping skips it.
 */

/** A parsed payload, or the first problem found, for the log line. */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

export type JsonObject = { readonly [key: string]: unknown };

export function parsed<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

export function problem<T>(text: string): Parsed<T> {
  return { ok: false, problem: text };
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

export function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/** Absent or a string: OCPP optional text fields. */
export function isOptionalString(value: unknown): value is string | undefined {
  return value === undefined || typeof value === 'string';
}

const DATE_TIME = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2}(?:\.\d+)?)([Zz]|[+-]\d{2}:?\d{2})?$/;

/**
 * An OCPP dateTime (RFC 3339) as ISO 8601 UTC with milliseconds, the one form
 * stored and compared (lexical order is time order). A time without an offset
 * is read as UTC: both versions ask stations to send UTC times, and stations
 * that drop the `Z` mean it.
 */
export function toIsoTime(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const match = DATE_TIME.exec(value);
  if (!match) return undefined;
  const zone = match[3] === undefined || match[3] === 'z' ? 'Z' : match[3];
  const millis = Date.parse(`${match[1]}T${match[2]}${zone}`);
  return Number.isFinite(millis) ? new Date(millis).toISOString() : undefined;
}
