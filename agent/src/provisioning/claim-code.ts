/**
 * The one-time claim code the installer types or scans: 80 random bits as 16
 * Crockford base32 symbols, `XXXX-XXXX-XXXX-XXXX`. Crockford's alphabet has
 * no I, L, O, U, so a code read aloud or off a screen is not misread.
 */
import { randomBytes } from 'node:crypto';

export const CROCKFORD_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const CLAIM_CODE_BITS = 80;
export const CLAIM_CODE_PATTERN = /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/;

export function generateClaimCode(): string {
  const bytes = randomBytes(CLAIM_CODE_BITS / 8);
  // 80 bits split into 16 groups of 5 bits, most significant first.
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  let symbols = '';
  for (let index = CLAIM_CODE_BITS / 5 - 1; index >= 0; index -= 1) {
    symbols += CROCKFORD_ALPHABET[Number((value >> BigInt(index * 5)) & 31n)];
  }
  return symbols.match(/.{4}/g)?.join('-') ?? symbols;
}

export function isClaimCode(value: unknown): value is string {
  return typeof value === 'string' && CLAIM_CODE_PATTERN.test(value);
}
