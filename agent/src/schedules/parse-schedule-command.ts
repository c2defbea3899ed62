import { CommandError } from '../cloud/cloud-command.js';
import { parseRfc3339DateTime } from './rfc3339-date-time.js';
import { MAX_CONNECTOR_ID, MAX_ID_LENGTH, MAX_LIMIT, MAX_PERIODS, MAX_START_OFFSET_S } from './schedule-bounds.js';
import type { SchedulePeriod, ScheduleSpec } from './schedule-spec.js';

/**
 * Checks of the `set-schedule` and `clear-schedule` bodies (docs/cloud.md,
 * docs/schedules.md). Everything that can be decided without knowing the
 * station is decided here, each failure an `invalid_argument` whose message
 * starts with the field's JSON path (`$.periods[2].limit`), so the cloud
 * learns what to fix instead of getting a station's Rejected later, and
 * nothing out of bounds ever reaches a station.
 */

const SET_FIELDS = new Set(['id', 'scheduleId', 'stationId', 'connectorId', 'purpose', 'unit', 'startsAt', 'validUntil', 'recurrency', 'periods']);
const CLEAR_FIELDS = new Set(['id', 'scheduleId']);
const PERIOD_FIELDS = new Set(['startOffsetS', 'limit', 'phases']);
const RECURRENCY_SPAN_S = { daily: 86_400, weekly: 604_800 } as const;

export function parseSetSchedule(body: Readonly<Record<string, unknown>>, now: Date): ScheduleSpec {
  rejectUnknownFields(body, SET_FIELDS, '$');
  const scheduleId = identifier(body, 'scheduleId');
  const stationId = identifier(body, 'stationId');
  const connectorId = body['connectorId'];
  if (!isWholeNumberIn(connectorId, 0, MAX_CONNECTOR_ID)) {
    throw invalid(`$.connectorId must be a whole number from 0 to ${MAX_CONNECTOR_ID} (0 is the whole station), got ${shown(connectorId)}`);
  }
  const purpose = body['purpose'];
  if (purpose !== 'default' && purpose !== 'max') throw invalid('$.purpose must be "default" or "max"');
  // OCPP 1.6 section 3.13.1 and 2.0.1 K01.FR.03: a station-wide maximum lives on connector / EVSE 0 only.
  if (purpose === 'max' && connectorId !== 0) throw invalid('$.connectorId must be 0 with purpose "max": it limits the whole station');
  const unit = body['unit'];
  if (unit !== 'A' && unit !== 'W') throw invalid('$.unit must be "A" or "W"');
  const startsAt = optionalDateTime(body, 'startsAt');
  const validUntil = optionalDateTime(body, 'validUntil');
  const recurrencyValue = body['recurrency'];
  if (recurrencyValue !== undefined && recurrencyValue !== 'daily' && recurrencyValue !== 'weekly') {
    throw invalid('$.recurrency must be "daily" or "weekly" when given');
  }
  const recurrency = recurrencyValue ?? null;
  // A recurring profile repeats from its startSchedule (1.6 section 7.13, 2.0.1 K01.FR.40): without it there is no anchor.
  if (recurrency !== null && startsAt === null) throw invalid(`$.startsAt is needed with recurrency "${recurrency}": the moment each ${recurrency === 'daily' ? 'day' : 'week'} starts from`);
  if (validUntil !== null && Date.parse(validUntil) <= now.getTime()) throw invalid(`$.validUntil ${validUntil} is already past`);
  if (validUntil !== null && startsAt !== null && Date.parse(validUntil) <= Date.parse(startsAt)) throw invalid('$.validUntil must be after startsAt');
  // A recurring schedule's periods must fit in its cycle; the others in MAX_START_OFFSET_S.
  const span = recurrency === null ? MAX_START_OFFSET_S + 1 : RECURRENCY_SPAN_S[recurrency];
  const periods = parsePeriods(body['periods'], unit, span, recurrency);
  return { scheduleId, stationId, connectorId: connectorId as number, purpose, unit, startsAt, validUntil, recurrency, periods };
}

export function parseClearSchedule(body: Readonly<Record<string, unknown>>): string {
  rejectUnknownFields(body, CLEAR_FIELDS, '$');
  return identifier(body, 'scheduleId');
}

function parsePeriods(value: unknown, unit: 'A' | 'W', span: number, recurrency: 'daily' | 'weekly' | null): SchedulePeriod[] {
  if (!Array.isArray(value) || value.length === 0) throw invalid('$.periods must be a non-empty array');
  if (value.length > MAX_PERIODS) throw invalid(`$.periods holds ${value.length} entries, at most ${MAX_PERIODS} are allowed`);
  const periods: SchedulePeriod[] = [];
  value.forEach((item: unknown, index: number) => {
    const at = `$.periods[${index}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw invalid(`${at} must be an object`);
    const period = item as Record<string, unknown>;
    rejectUnknownFields(period, PERIOD_FIELDS, at);
    const startOffsetS = period['startOffsetS'];
    if (!isWholeNumberIn(startOffsetS, 0, span - 1)) {
      const within = recurrency === null ? `at most ${MAX_START_OFFSET_S} (366 days)` : `below ${span}: the periods of a ${recurrency} schedule start within its cycle`;
      throw invalid(`${at}.startOffsetS must be a whole number of seconds from 0, ${within}; got ${shown(startOffsetS)}`);
    }
    const previous = periods[index - 1];
    // 2.0.1 K01.FR.31: the first period starts at 0; K01.FR.35: startPeriod increases.
    if (index === 0 && startOffsetS !== 0) throw invalid(`${at}.startOffsetS must be 0: a schedule starts with its first period`);
    if (previous && startOffsetS <= previous.startOffsetS) throw invalid(`${at}.startOffsetS must be greater than the one before (${previous.startOffsetS})`);
    const limit = period['limit'];
    const max = MAX_LIMIT[unit];
    if (typeof limit !== 'number' || !Number.isFinite(limit) || limit < 0 || limit > max) {
      throw invalid(`${at}.limit must be a number from 0 to ${max} ${unit}, got ${shown(limit)}`);
    }
    // 1.6 section 7.13 ChargingSchedulePeriod.limit: "decimal, one digit fraction" (2.0.1 the same, schema multipleOf 0.1).
    // Exact for the JSON text: 16.3 reads back as 16.3, 16.25 or 0.30000000000000004 do not.
    if (Number(limit.toFixed(1)) !== limit) throw invalid(`${at}.limit ${limit} has more than one decimal; OCPP accepts at most one (e.g. 8.1)`);
    const phases = period['phases'];
    if (phases !== undefined && phases !== 1 && phases !== 2 && phases !== 3) throw invalid(`${at}.phases must be 1, 2 or 3 when given`);
    periods.push(phases === undefined ? { startOffsetS, limit } : { startOffsetS, limit, phases });
  });
  return periods;
}

function identifier(body: Readonly<Record<string, unknown>>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value.trim() === '') throw invalid(`$.${field} must be a non-empty string`);
  if (value.length > MAX_ID_LENGTH) throw invalid(`$.${field} is longer than ${MAX_ID_LENGTH} characters`);
  return value;
}

/**
 * A strict RFC 3339 date-time (rfc3339-date-time.ts: no 2030-02-31, no hour
 * 24), normalized to `toISOString()` so stored and sent times have one shape.
 */
function optionalDateTime(body: Readonly<Record<string, unknown>>, field: string): string | null {
  const value = body[field];
  if (value === undefined || value === null) return null;
  const instant = typeof value === 'string' ? parseRfc3339DateTime(value) : undefined;
  if (instant === undefined) {
    throw invalid(`$.${field} must be an RFC 3339 date-time with a time zone that exists in the calendar, e.g. 2025-03-01T18:00:00Z; got ${shown(value)}`);
  }
  return instant.toISOString();
}

function isWholeNumberIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** A misspelt optional field (`validUntill`) would otherwise be dropped silently and the schedule never expire. */
function rejectUnknownFields(object: Readonly<Record<string, unknown>>, known: ReadonlySet<string>, path: string): void {
  const unknown = Object.keys(object).filter((key) => !known.has(key));
  if (unknown.length > 0) throw invalid(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((key) => `${path}.${key}`).join(', ')}`);
}

/** The offending value in a message, cut to a sane length. */
function shown(value: unknown): string {
  const text = value === undefined ? 'nothing' : JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 60)}...` : text;
}

function invalid(message: string): CommandError {
  return new CommandError('invalid_argument', message);
}
