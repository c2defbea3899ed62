/**
 * Station passwords for local Security Profile 1 checks (HTTP Basic). A
 * config may hold the password itself or an scrypt hash of it, printed by
 * `pleevi-edge password hash`, in the form
 *
 *   scrypt$N$r$p$<salt base64>$<hash base64>
 *
 * scrypt runs on libuv's thread pool (the async API), so a burst of station
 * reconnects never stalls the event loop that relays every other station.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual, type BinaryLike, type ScryptOptions } from 'node:crypto';

/** RFC 7914 section 2 parameters; N=2^14, r=8 costs 16 MiB and ~50 ms per check. */
const DEFAULT_N = 16_384;
const DEFAULT_R = 8;
const DEFAULT_P = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

/** Refuse hashes whose cost would let a config line exhaust the gateway's memory. */
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;

const HASH_FORMAT = /^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

interface ParsedHash {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

function scryptAsync(password: BinaryLike, salt: BinaryLike, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyLength, options, (error, key) => {
      if (error) reject(error);
      else resolve(key);
    });
  });
}

/** Node refuses scrypt above `maxmem` (32 MiB by default); allow what these parameters need. */
function maxmemFor(N: number, r: number, p: number): number {
  return 128 * r * (N + p + 2) + 1024 * 1024;
}

/** Strict base64: Buffer.from silently skips bad characters, so round-trip to catch them. */
function decodeBase64(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

function parseHash(stored: string): ParsedHash | undefined {
  const match = HASH_FORMAT.exec(stored);
  if (!match) return undefined;
  const N = Number(match[1]);
  const r = Number(match[2]);
  const p = Number(match[3]);
  // N must be a power of two greater than 1 (RFC 7914 section 6).
  if (N < 2 || (N & (N - 1)) !== 0) return undefined;
  if (r < 1 || p < 1 || p > 16) return undefined;
  if (128 * N * r > MAX_SCRYPT_MEMORY) return undefined;
  const salt = decodeBase64(match[4] ?? '');
  const hash = decodeBase64(match[5] ?? '');
  if (!salt || salt.length === 0 || !hash || hash.length < 16 || hash.length > 64) return undefined;
  return { N, r, p, salt, hash };
}

/** True when `text` is a hash this module can verify (format, sane scrypt parameters). */
export function isValidPasswordHash(text: string): boolean {
  return parseHash(text) !== undefined;
}

/** Hash a password for the `passwordHash` config field. */
export async function hashPassword(plain: string): Promise<string> {
  if (plain.length === 0) throw new RangeError('password must not be empty');
  const salt = randomBytes(SALT_BYTES);
  const options = { N: DEFAULT_N, r: DEFAULT_R, p: DEFAULT_P, maxmem: maxmemFor(DEFAULT_N, DEFAULT_R, DEFAULT_P) };
  const hash = await scryptAsync(plain, salt, KEY_BYTES, options);
  return `scrypt$${DEFAULT_N}$${DEFAULT_R}$${DEFAULT_P}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

function sha256(value: BinaryLike): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Check a password a station presented against the configured one. Uses a
 * constant-time comparison in both cases; a plain configured password is
 * compared through SHA-256 digests so that neither its length nor a common
 * prefix shows in the timing. A station with neither field configured, or
 * with a malformed hash, never matches.
 */
export async function verifyPassword(
  plain: string | Uint8Array,
  stored: { readonly password?: string; readonly passwordHash?: string },
): Promise<boolean> {
  if (stored.passwordHash !== undefined) {
    const parsed = parseHash(stored.passwordHash);
    if (!parsed) return false;
    const { N, r, p, salt, hash } = parsed;
    const derived = await scryptAsync(plain, salt, hash.length, { N, r, p, maxmem: maxmemFor(N, r, p) });
    return timingSafeEqual(derived, hash);
  }
  if (stored.password !== undefined) {
    return timingSafeEqual(sha256(plain), sha256(stored.password));
  }
  return false;
}
