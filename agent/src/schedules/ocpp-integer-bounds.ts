/**
 * OCPP 1.6 and 2.0.1 define every `integer` field as a 32-bit signed integer
 * (1.6 section 7 "integer", 2.0.1 Part 2 section 2.1.4 "integer: 32 bit"),
 * but the JSON schemas say only `"type": "integer"`, so a schema check alone
 * lets 2^53 through. This adds `minimum` / `maximum` of the int32 range to
 * every integer in a schema that does not already bound it more tightly.
 */
export const INT32_MIN = -2_147_483_648;
export const INT32_MAX = 2_147_483_647;

export function withInt32Bounds<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map((item: unknown) => withInt32Bounds(item)) as T;
  if (typeof schema !== 'object' || schema === null) return schema;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) copy[key] = withInt32Bounds(value);
  if (copy['type'] === 'integer') {
    const { minimum, maximum } = copy;
    if (typeof minimum !== 'number' || minimum < INT32_MIN) copy['minimum'] = INT32_MIN;
    if (typeof maximum !== 'number' || maximum > INT32_MAX) copy['maximum'] = INT32_MAX;
  }
  return copy as T;
}
