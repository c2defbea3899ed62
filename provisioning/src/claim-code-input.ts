/**
 * A claim code as a person types it, to the canonical `XXXX-XXXX-XXXX-XXXX`
 * of agent/src/provisioning/claim-code.ts: case folded, spaces and dashes
 * dropped, and Crockford's decoding of look-alikes (I and L read as 1, O as
 * 0). Undefined when what is left is not 16 symbols of the alphabet.
 */
import { timingSafeEqual } from 'node:crypto';
import { isClaimCode } from '../../agent/src/provisioning/claim-code.js';

export function normaliseClaimCode(typed: unknown): string | undefined {
  if (typeof typed !== 'string' || typed.length > 64) return undefined;
  const symbols = typed.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  if (symbols.length !== 16) return undefined;
  const code = symbols.match(/.{4}/g)?.join('-');
  return isClaimCode(code) ? code : undefined;
}

/** Compare a stored canonical code with a given one in constant time (only the length, 19 when well-formed, can show). */
export function claimCodesEqual(stored: string, given: string | undefined): boolean {
  const a = Buffer.from(stored, 'utf8');
  const b = Buffer.from(given ?? '', 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
