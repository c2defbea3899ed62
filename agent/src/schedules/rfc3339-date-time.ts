/**
 * Strict RFC 3339 `date-time` (section 5.6), what the OCPP JSON schemas'
 * `format: date-time` means for 1.6 and 2.0.1: a full date, a time, and an
 * explicit offset (`Z` or `+hh:mm`). Stricter than `Date.parse`, which rolls
 * `2030-02-31` over into March 3 and takes `24:00`: every field must be in
 * range and the value must name a real instant that reads back as written
 * (no February 31, no hour 24, no leap second, which no JavaScript Date and
 * few stations can hold). Years 1970-9999: nothing the gateway schedules lies
 * before the epoch, and `toISOString()` keeps four digits up to 9999.
 */
const SHAPE = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

const MIN_YEAR = 1970;

/** The instant, or undefined when `value` is not a strict RFC 3339 date-time that round-trips. */
export function parseRfc3339DateTime(value: string): Date | undefined {
  const match = SHAPE.exec(value);
  if (match === null) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const fraction = match[7] ?? '';
  if (year < MIN_YEAR || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (match[8] === undefined) {
    const offsetHours = Number(match[10]);
    const offsetRest = Number(match[11]);
    if (offsetHours > 23 || offsetRest > 59) return undefined;
    offsetMinutes = (match[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetRest);
  }
  const milliseconds = fraction === '' ? 0 : Math.floor(Number(`0.${fraction}`) * 1000);
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0-99 to 1900-1999.
  const local = new Date(0);
  local.setUTCFullYear(year, month - 1, day);
  local.setUTCHours(hour, minute, second, milliseconds);
  // The round trip: a day past the month's end (Feb 31) comes back as another date.
  if (local.getUTCFullYear() !== year || local.getUTCMonth() !== month - 1 || local.getUTCDate() !== day) return undefined;
  const instant = new Date(local.getTime() - offsetMinutes * 60_000);
  return Number.isNaN(instant.getTime()) ? undefined : instant;
}

export function isRfc3339DateTime(value: string): boolean {
  return parseRfc3339DateTime(value) !== undefined;
}
