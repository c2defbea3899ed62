/**
 * The station identities the gateway accepts, as the last path segment of
 * `ws://<gateway>/<path>/<stationId>` (percent-decoded) and in `stations.list`.
 *
 * OCPP 2.0.1 Part 4 section 3.1 (Connection URL): the identity is at most 48
 * characters and, Basic Auth using it as the username, never contains ":".
 * Its data type is `identifierString` (Part 2 section 2.1): the characters
 * `a-z A-Z 0-9 * - _ = : + | @ .`. OCPP-J 1.6 says only that the identity is
 * the last path segment; every 1.6 identity seen in practice (serial numbers,
 * `CP-001`, `ABB_12345`, `EVB-P2047116.2`) fits the 2.0.1 set, so one rule
 * serves both.
 *
 * On top of the character set, an identity made of dots only is refused:
 * `.` and `..` are path segments of their own (RFC 3986 section 5.2.4) and
 * would put the CPMS URL one level up instead of naming a station.
 */
export const MAX_STATION_ID_LENGTH = 48;

const IDENTIFIER_STRING_WITHOUT_COLON = /^[A-Za-z0-9*\-_=+|@.]+$/;
const DOTS_ONLY = /^\.+$/;

/** Why `id` cannot be a station identity, or undefined when it can. */
export function stationIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'station id is empty';
  if (id.length > MAX_STATION_ID_LENGTH) return `station id is longer than ${MAX_STATION_ID_LENGTH} characters`;
  if (!IDENTIFIER_STRING_WITHOUT_COLON.test(id)) return 'station id may only contain A-Z a-z 0-9 * - _ = + | @ . (OCPP 2.0.1 identifierString without ":")';
  if (DOTS_ONLY.test(id)) return 'station id "." or ".." is a path segment, not an identity';
  return undefined;
}
