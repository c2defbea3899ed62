/** Identifiers the service accepts; the gateway id rule is the gateway's own (agent/src/config/config-schema.ts). */
import { isIP } from 'node:net';

const ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export function isGatewayId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

export function isSiteId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/** A hardware serial as the gateway reports it: printable ASCII, at most 128 characters. */
export function isSerial(value: unknown): value is string {
  return typeof value === 'string' && /^[\x21-\x7e]{1,128}$/.test(value);
}

/** LAN addresses for the server certificate: IP literals only, at most 16. */
export function isLanAddressList(value: unknown): value is string[] {
  return Array.isArray(value) && value.length <= 16 && value.every((address) => typeof address === 'string' && isIP(address) !== 0);
}
