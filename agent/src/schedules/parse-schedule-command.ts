import { CommandError } from '../cloud/cloud-command.js';
import type { SchedulePeriod, ScheduleSpec } from './schedule-spec.js';

/**
 * Checks of the `set-schedule` and `clear-schedule` bodies (docs/schedules.md
 * "Commands"). Everything that can be decided without knowing the station is decided
 * here, each failure an `invalid_argument` that names the field, so the cloud
 * learns what to fix instead of getting a station's Rejected later.
 */

const SET_FIELDS = new Set(['id', 'scheduleId', 'stationId', 'connectorId', 'purpose', 'unit', 'startsAt', 'validUntil', 'recurrency', 'periods']);
const CLEAR_FIELDS = new Set(['id', 'scheduleId']);
const PERIOD_FIELDS = new Set(['startOffsetS', 'limit', 'phases']);
/** 2.0.1 ChargingScheduleType.chargingSchedulePeriod maxItems; 1.6 has no bound, this one is sane for both. */
const MAX_PERIODS = 1024;
const MAX_ID_LENGTH = 128;
/** RFC 3339 date-time with an explicit offset: what the OCPP schemas' `format: date-time` accepts. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;
const RECURRENCY_SPAN_S = { daily: 86_400, weekly: 604_800 } as const;

export function parseSetSchedule(body: Readonly<Record<string, unknown>>, now: Date): ScheduleSpec {
  rejectUnknownFields(body, SET_FIELDS, '');
  const scheduleId = identifier(body, 'scheduleId');
  const stationId = identifier(body, 'stationId');
  const connectorId = body['connectorId'];
  if (!Number.isSafeInteger(connectorId) || (connectorId as number) < 0) {
    throw invalid('connectorId must be a whole number >= 0 (0 is the whole station)');
  }
  const purpose = body['purpose'];
  if (purpose !== 'default' && purpose !== 'max') throw invalid('purpose must be "default" or "max"');
  // OCPP 1.6 section 3.13.1 and 2.0.1 K01.FR.03: a station-wide maximum lives on connector / EVSE 0 only.
  if (purpose === 'max' && connectorId !== 0) throw invalid('purpose "max" limits the whole station: connectorId must be 0');
  const unit = body['unit'];
  if (unit !== 'A' && unit !== 'W') throw invalid('unit must be "A" or "W"');
  const startsAt = optionalDateTime(body, 'startsAt');
  const validUntil = optionalDateTime(body, 'validUntil');
  const recurrencyValue = body['recurrency'];
  if (recurrencyValue !== undefined && recurrencyValue !== 'daily' && recurrencyValue !== 'weekly') {
    throw invalid('recurrency must be "daily" or "weekly" when given');
  }
  const recurrency = recurrencyValue ?? null;
  // A recurring profile repeats from its startSchedule (1.6 section 7.13, 2.0.1 K01.FR.40): without it there is no anchor.
  if (recurrency !== null && startsAt === null) throw invalid(`recurrency "${recurrency}" needs startsAt: the moment each ${recurrency === 'daily' ? 'day' : 'week'} starts from`);
  if (validUntil !== null && Date.parse(validUntil) <= now.getTime()) throw invalid(`validUntil ${validUntil} is already past`);
  if (validUntil !== null && startsAt !== null && Date.parse(validUntil) <= Date.parse(startsAt)) throw invalid('validUntil must be after startsAt');
  const periods = parsePeriods(body['periods'], unit);
  if (recurrency !== null) {
    const span = RECURRENCY_SPAN_S[recurrency];
    const last = periods[periods.length - 1];
    if (last && last.startOffsetS >= span) throw invalid(`periods of a ${recurrency} schedule must start within ${span} s, got startOffsetS ${last.startOffsetS}`);
  }
  return { scheduleId, stationId, connectorId: connectorId as number, purpose, unit, startsAt, validUntil, recurrency, periods };
}

export function parseClearSchedule(body: Readonly<Record<string, unknown>>): string {
  rejectUnknownFields(body, CLEAR_FIELDS, '');
  return identifier(body, 'scheduleId');
}

function parsePeriods(value: unknown, unit: 'A' | 'W'): SchedulePeriod[] {
  if (!Array.isArray(value) || value.length === 0) throw invalid('periods must be a non-empty array');
  if (value.length > MAX_PERIODS) throw invalid(`periods holds ${value.length} entries, at most ${MAX_PERIODS} are allowed`);
  const periods: SchedulePeriod[] = [];
  value.forEach((item: unknown, index: number) => {
    const at = `periods[${index}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw invalid(`${at} must be an object`);
    const period = item as Record<string, unknown>;
    rejectUnknownFields(period, PERIOD_FIELDS, `${at}.`);
    const startOffsetS = period['startOffsetS'];
    if (!Number.isSafeInteger(startOffsetS) || (startOffsetS as number) < 0) throw invalid(`${at}.startOffsetS must be a whole number of seconds >= 0`);
    const previous = periods[index - 1];
    // 2.0.1 K01.FR.31: the first period starts at 0; K01.FR.35: startPeriod increases.
    if (index === 0 && startOffsetS !== 0) throw invalid('periods[0].startOffsetS must be 0: a schedule starts with its first period');
    if (previous && (startOffsetS as number) <= previous.startOffsetS) throw invalid(`${at}.startOffsetS must be greater than the one before (${previous.startOffsetS})`);
    const limit = period['limit'];
    if (typeof limit !== 'number' || !Number.isFinite(limit) || limit < 0) throw invalid(`${at}.limit must be a number >= 0 (${unit})`);
    // Both versions: "Accepts at most one digit fraction (e.g. 8.1)" (1.6 schema multipleOf 0.1).
    if (Math.abs(Math.round(limit * 10) - limit * 10) > 1e-6) throw invalid(`${at}.limit ${limit} has more than one decimal; OCPP accepts at most one (e.g. 8.1)`);
    const phases = period['phases'];
    if (phases !== undefined && (phases !== 1 && phases !== 2 && phases !== 3)) throw invalid(`${at}.phases must be 1, 2 or 3 when given`);
    periods.push(phases === undefined ? { startOffsetS: startOffsetS as number, limit } : { startOffsetS: startOffsetS as number, limit, phases });
  });
  return periods;
}

function identifier(body: Readonly<Record<string, unknown>>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value.trim() === '') throw invalid(`${field} must be a non-empty string`);
  if (value.length > MAX_ID_LENGTH) throw invalid(`${field} is longer than ${MAX_ID_LENGTH} characters`);
  return value;
}

/** Normalized to `toISOString()` so stored and sent times have one shape. */
function optionalDateTime(body: Readonly<Record<string, unknown>>, field: string): string | null {
  const value = body[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || !DATE_TIME.test(value) || Number.isNaN(Date.parse(value))) {
    throw invalid(`${field} must be an ISO 8601 date-time with a time zone, e.g. 2025-03-01T18:00:00Z`);
  }
  return new Date(value).toISOString();
}

/** A misspelt optional field (`validUntill`) would otherwise be dropped silently and the schedule never expire. */
function rejectUnknownFields(object: Readonly<Record<string, unknown>>, known: ReadonlySet<string>, prefix: string): void {
  const unknown = Object.keys(object).filter((key) => !known.has(key));
  if (unknown.length > 0) throw invalid(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((key) => `${prefix}${key}`).join(', ')}`);
}

function invalid(message: string): CommandError {
  return new CommandError('invalid_argument', message);
}
